"""Credentials for a tracking server, turned into an `Authorization` header.

A bearer token wins over a username/password pair (HTTP Basic). Settings are read per request
(see `from_settings`), so a token refreshed in the environment is picked up without
rebuilding clients. Credentials never appear in reprs, logs or error messages.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from cairn import settings


@dataclass(frozen=True, slots=True)
class Credentials:
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls) -> Credentials:
        """CAIRN_TRACKING_TOKEN, or CAIRN_TRACKING_USERNAME/_PASSWORD (MLFLOW_* fallbacks)."""
        return cls(
            token=settings.TRACKING_TOKEN.get(),
            username=settings.TRACKING_USERNAME.get(),
            password=settings.TRACKING_PASSWORD.get(),
        )

    def authorization(self) -> str | None:
        """The `Authorization` header value, or None when there is nothing to send."""
        if self.token:
            return f"Bearer {self.token}"
        if self.username or self.password:
            pair = f"{self.username or ''}:{self.password or ''}".encode()
            return "Basic " + base64.b64encode(pair).decode("ascii")
        return None
