"""Users vouched for by a trusted reverse proxy (OAuth2 Proxy, Keycloak's gatekeeper, ...).

Such a proxy authenticates people itself and passes their name in a header
(`CAIRN_AUTH_PROXY_HEADER`). `cairn.server.headers` reads that header only from an address in
`CAIRN_TRUSTED_PROXIES`, so by the time a name reaches here, the proxy has vouched for it.
The name must belong to a user of the database, or, with `CAIRN_AUTH_PROXY_CREATE_USERS`, the
user is created on first sight: non-admin, with a random password nobody knows (an admin can
set one with `cairn users set-password` for API use without the proxy).

Known names are remembered in the gate's credential cache, so the server's fast path can
answer a proxied request without a database read (`cached`).
"""

from __future__ import annotations

import hashlib
import logging
import secrets

from starlette.concurrency import run_in_threadpool

from cairn.auth.users import Identity, UserStore, check_username
from cairn.exceptions import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from cairn.server.auth.limits import CredentialCache

log = logging.getLogger("cairn.server.auth")


class ProxyUsers:
    def __init__(
        self, users: UserStore, cache: CredentialCache, *, create: bool, inline_db: bool
    ) -> None:
        self.users = users
        self.cache = cache
        self.create = create
        self.inline_db = inline_db

    @staticmethod
    def _key(name: str) -> bytes:
        # Never equal to the digest of an Authorization header, which cannot hold a NUL.
        return hashlib.sha256(b"proxy-user\0" + name.encode()).digest()

    def cached(self, name: str) -> Identity | None:
        return self.cache.get(self._key(name))

    async def identity(self, name: str) -> Identity | None:
        """The user named `name`, created when allowed; None when there is none."""
        found = self.cached(name)
        if found is not None:
            return found
        if self.inline_db:
            found = self._load(name)
        else:
            found = await run_in_threadpool(self._load, name)
        if found is None and self.create:
            found = await run_in_threadpool(self._create, name)  # a password hash: tens of ms
        if found is not None:
            self.cache.put(self._key(name), found)
        return found

    def _load(self, name: str) -> Identity | None:
        try:
            user = self.users.get_user(name)
        except ResourceDoesNotExist:
            return None
        return Identity(user.username, user.is_admin)

    def _create(self, name: str) -> Identity | None:
        try:
            check_username(name)
        except InvalidParameterValue:
            return None
        try:
            user = self.users.create_user(name, secrets.token_urlsafe(32))
        except ResourceAlreadyExists:  # another request or worker created it meanwhile
            return self._load(name)
        log.warning("Created user %r, named by the trusted proxy", name)
        return Identity(user.username, user.is_admin)
