"""CSRF protection for the UI's forms: a signed double-submit token.

Every page sets a `cairn_csrf` cookie (`SameSite=Strict`, `HttpOnly`, `Secure` over HTTPS)
holding `<nonce>.<HMAC-SHA256(secret, nonce)>` and repeats the token in each form's hidden
`csrf_token` field (and as the `X-CSRF-Token` header of htmx requests). A POST is accepted
only when the cookie carries a valid signature and the field or header equals it. Another
site can make a browser send the cookie but can neither read it nor the page, so it cannot
supply the matching field; the signature stops a cookie planted by a sibling subdomain, since
only this server can make valid ones.

The secret is the `ui_csrf_secret` setting (`CAIRN_UI_CSRF_SECRET`). Unset, `cairn server`
draws a random one at start and hands it to its workers through that variable, so every
worker accepts every worker's tokens and a restart invalidates old ones (a stale form then
answers 403; reloading the page gets a fresh token).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from starlette.requests import Request
from starlette.responses import Response

from cairn import settings

SECRET_ENV = settings.UI_CSRF_SECRET.env
COOKIE = "cairn_csrf"
FIELD = "csrf_token"
HEADER = "x-csrf-token"


def ensure_secret() -> None:
    """Draw the process's secret unless one is set, so child processes inherit it."""
    if not settings.UI_CSRF_SECRET.get():
        os.environ[SECRET_ENV] = secrets.token_urlsafe(32)


class CsrfTokens:
    """Makes and checks tokens under one secret."""

    def __init__(self, secret: str | None = None) -> None:
        if secret is None:
            ensure_secret()
            secret = settings.UI_CSRF_SECRET.get() or ""
        self._key = secret.encode()

    def _signature(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()

    def new_token(self) -> str:
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._signature(nonce)}"

    def is_valid(self, token: str | None) -> bool:
        """The token was made by this secret."""
        if not token or token.count(".") != 1:
            return False
        nonce, signature = token.split(".")
        return hmac.compare_digest(signature, self._signature(nonce))

    def token_for(self, request: Request) -> str:
        """The request's cookie token if valid, else a new one (set by `set_cookie`)."""
        current = request.cookies.get(COOKIE)
        return current if current and self.is_valid(current) else self.new_token()

    def set_cookie(self, request: Request, response: Response, token: str) -> None:
        if request.cookies.get(COOKIE) != token:
            response.set_cookie(
                COOKIE,
                token,
                httponly=True,
                samesite="strict",
                path="/",
                max_age=None,
                # Over HTTPS (direct, or as a trusted proxy says) never sent in the clear.
                secure=request.scope.get("scheme") == "https",
            )

    def check(self, request: Request, form: dict[str, str]) -> bool:
        """The POST carries a valid cookie and the same token in the form or header."""
        cookie = request.cookies.get(COOKIE)
        sent = form.get(FIELD) or request.headers.get(HEADER)
        if not cookie or not sent or not self.is_valid(cookie):
            return False
        return hmac.compare_digest(cookie, sent)
