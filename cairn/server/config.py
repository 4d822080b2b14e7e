"""What a server process needs to know, as one value object.

`cairn server` builds it from its options; with several uvicorn workers each worker process
rebuilds it from the `CAIRN_SERVER_CONFIG` environment variable (JSON), so all workers serve
exactly the same configuration.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from cairn import settings

CONFIG_ENV = "CAIRN_SERVER_CONFIG"
PROXY_SCHEME = "mlflow-artifacts"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    backend_store_uri: str = "sqlite:///cairn-data/cairn.db"
    artifacts_destination: str = "cairn-data/artifacts"
    serve_artifacts: bool = True
    default_artifact_root: str | None = None
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    # A second process for big reads, when there is one worker on SQLite: see server.helper.
    read_helper: bool = True
    max_body_bytes: int = field(default_factory=lambda: _max_body_bytes())
    auth: bool = False  # `--auth`: credentials on every non-public route, see cairn.server.auth
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    # Header rules (see cairn.server.headers): names, origins and proxies, as given.
    allowed_hosts: tuple[str, ...] = field(default_factory=lambda: _listed(settings.ALLOWED_HOSTS))
    cors_allowed_origins: tuple[str, ...] = field(
        default_factory=lambda: _listed(settings.CORS_ALLOWED_ORIGINS)
    )
    trusted_proxies: tuple[str, ...] = field(
        default_factory=lambda: _listed(settings.TRUSTED_PROXIES)
    )
    auth_proxy_header: str | None = field(default_factory=lambda: settings.AUTH_PROXY_HEADER.get())

    def resolved(self) -> ServerConfig:
        """The same configuration with relative local paths made absolute (workers may chdir)."""
        from cairn.tracking.tracking_uri import resolve_tracking_uri

        if self.backend_store_uri.split(":", 1)[0].lower() in ("http", "https"):
            from cairn.exceptions import InvalidParameterValue

            raise InvalidParameterValue(
                f"--backend-store-uri must be a database (sqlite:///, postgresql://, "
                f"mysql://), not another server: {self.backend_store_uri!r}"
            )
        from cairn.server.headers import HeaderRules

        HeaderRules.from_config(self)  # refuses a malformed origin, proxy or header name
        destination = self.artifacts_destination
        if "://" not in destination and not destination.startswith("file:"):
            destination = str(Path(destination).expanduser().resolve())
        return replace(
            self,
            backend_store_uri=resolve_tracking_uri(self.backend_store_uri),
            artifacts_destination=destination,
        )

    @property
    def artifact_root(self) -> str:
        """Root under which new experiments get their artifact location.

        With the proxy on (and no explicit root) locations are `mlflow-artifacts:/<id>`, so
        clients upload through this server and never need direct storage credentials.
        """
        if self.default_artifact_root:
            return self.default_artifact_root.rstrip("/")
        if self.serve_artifacts:
            return f"{PROXY_SCHEME}:"
        return self.artifacts_destination.rstrip("/")

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.ssl_certfile else "http"
        return f"{scheme}://{host}:{self.port}"

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServerConfig:
        raw = os.environ.get(CONFIG_ENV)
        if not raw:
            return cls().resolved()
        values = json.loads(raw)
        for name in _LISTS:
            values[name] = tuple(values.get(name, ()))
        return cls(**values)


_LISTS = ("allowed_hosts", "cors_allowed_origins", "trusted_proxies")


def _listed(setting: settings.Setting) -> tuple[str, ...]:
    from cairn.server.headers import split_list

    return split_list(setting.get())


def _max_body_bytes() -> int:
    return settings.SERVER_MAX_BODY_BYTES.get_int(minimum=1)
