"""The gate in front of the app: authentication, route policies and the audit log.

`AuthGate` is plain ASGI, outermost, so it sees every request, whichever way the app then
routes it (`ExactRoutes`' dictionary or Starlette's router). The server's fast path
(`runner.NoDelayHttpToolsProtocol`, which answers some requests from the HTTP parser without
ASGI) takes its table from the gate when there is one (`AuthGate.inline`): every entry is a
`SecuredAnswer`, which admits only credentials already verified and audits like the gate.

Per request the gate: resolves the route and its `Policy` (a dictionary lookup for exact
paths); takes the user a trusted proxy names (`cairn.server.auth.proxy`), or else the
`Authorization` header (HTTP Basic or Bearer) and looks it up in the credential cache,
verifying it off the event loop only on a miss; refuses with 401
(`WWW-Authenticate: Basic realm="cairn"`), 403 or 429; and records the request in the audit
log when the policy writes or the answer is 401/403/429.

The audit entry of a request that reaches the app is written when its status is known and
*before* the status line is sent: the client never receives an acknowledgement for a write
whose audit entry is not committed. That costs one small transaction per write (measured in
docs/security.md); queueing entries for a background writer would hide it, but a crash
between the answer and the flush would lose entries for acknowledged writes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn import settings
from cairn.auth.audit import AuditLog, AuditRecord
from cairn.auth.permissions import Permission, PermissionStore
from cairn.auth.users import Identity, UserStore
from cairn.exceptions import PermissionDenied
from cairn.server.app import AUDIT_FIELDS, AUTHORIZE, IDENTITY
from cairn.server.auth.limits import CredentialCache, FailureLimiter
from cairn.server.auth.permissions import CHECKED, Guard
from cairn.server.auth.policy import ART, UNROUTED, Access, Policy, policy_for
from cairn.server.auth.proxy import ProxyUsers
from cairn.server.errors import error_body
from cairn.server.headers import PROXY_USER

log = logging.getLogger("cairn.server.auth")

# scope key: the request's parsed JSON fields, noted by `app.json_handler`
FIELDS = AUDIT_FIELDS
REALM = b'Basic realm="cairn"'
_RESOURCE_KEYS = (
    ("run_id", "run"),
    ("run_uuid", "run"),
    ("model_id", "logged_model"),
    ("experiment_id", "experiment"),
)


@dataclass
class Security:
    """What the gate and the account routes of one server process share."""

    users: UserStore
    audit: AuditLog
    cache: CredentialCache
    limiter: FailureLimiter
    inline_db: bool  # an embedded database: its short writes run on the event loop
    guard: Guard  # experiment permissions (see cairn.server.auth.permissions)
    proxy: ProxyUsers  # users named by a trusted proxy (see cairn.server.auth.proxy)

    @classmethod
    def for_engine(cls, engine: Any) -> Security:
        default = Permission.parse(settings.AUTH_DEFAULT_PERMISSION.get())
        users = UserStore(engine)
        cache = CredentialCache(settings.AUTH_CACHE_SECONDS.get_int())
        inline_db = engine.dialect.name == "sqlite"
        return cls(
            users=users,
            audit=AuditLog(engine),
            cache=cache,
            limiter=FailureLimiter(settings.AUTH_MAX_FAILURES.get_int()),
            inline_db=inline_db,
            guard=Guard(PermissionStore(engine, default), settings.AUTH_CACHE_SECONDS.get_int()),
            proxy=ProxyUsers(
                users,
                cache,
                create=settings.AUTH_PROXY_CREATE_USERS.get_bool(),
                inline_db=inline_db,
            ),
        )

    async def record(self, record: AuditRecord) -> None:
        """Append `record` to the audit log; a failure is logged, never raised at the client."""
        try:
            if self.inline_db:
                self.audit.append([record])
            else:
                await run_in_threadpool(self.audit.append, [record])
        except Exception:
            log.exception("Could not write the audit entry for %s", record.action)


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


class AuthGate:
    def __init__(self, app: ASGIApp, routes: list[Any], security: Security) -> None:
        self.app = app
        self.security = security
        # (method, path) -> (template, policy) for routes without parameters; the rest in order.
        self.exact: dict[tuple[str, str], tuple[str, Policy]] = {}
        self.patterned: list[tuple[Route, dict[str, Policy]]] = []
        for route in routes:
            if not isinstance(route, Route):
                continue
            methods = route.methods or {"GET"}
            policies = {m: policy_for(route, m) for m in methods}
            if route.param_convertors:
                self.patterned.append((route, policies))
            else:
                for method, policy in policies.items():
                    self.exact.setdefault((method, route.path), (route.path, policy))
        self._pending: dict[bytes, asyncio.Future[Identity | None]] = {}
        # The server's fast path, with this gate applied (see `SecuredAnswer`).
        self.inline: dict[tuple[bytes, bytes], tuple[SecuredAnswer, int]] = {}
        for (method, path), (answer, limit) in getattr(app, "inline", {}).items():
            found = self.exact.get((method.decode(), path.decode()))
            if found is not None and found[1].access is Access.AUTHENTICATED:
                self.inline[(method, path)] = (
                    SecuredAnswer(answer, f"{method.decode()} {found[0]}", found[1], security),
                    limit,
                )

    def resolve(self, scope: Scope) -> tuple[str, Policy, dict[str, Any]]:
        """(route template, policy, path parameters) of a request."""
        method, path = scope["method"], scope["path"]
        found = self.exact.get((method, path))
        if found is not None:
            return found[0], found[1], {}
        for route, policies in self.patterned:
            match, child = route.matches(scope)
            if match is Match.FULL:
                return route.path, policies[method], child.get("path_params", {})
        return path, UNROUTED, {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # no route speaks it: refused (403) before accept
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":  # lifespan
            await self.app(scope, receive, send)
            return
        template, policy, params = self.resolve(scope)
        client = scope.get("client")
        address = client[0] if client else ""
        action = f"{scope['method']} {template}"
        if policy.access is Access.PUBLIC:
            await self.app(scope, receive, send)
            return
        header = _authorization(scope)
        proxy_user = scope.get(PROXY_USER)  # set only for requests from a trusted proxy
        try:
            if policy.access is Access.DENY:
                raise Refused(403, "PERMISSION_DENIED", "This route has no access policy")
            try:
                if proxy_user is not None:
                    identity = await self.authenticate_proxy(proxy_user)
                else:
                    identity = await self.authenticate(header, address)
            except Refused:
                raise
            except Exception as exc:  # the database is unreachable, ...: retryable, no trace
                log.exception("Could not check credentials for %s", action)
                raise Refused(
                    503, "TEMPORARILY_UNAVAILABLE", "Credentials could not be checked; try again"
                ) from exc
            if policy.access is Access.ADMIN and not identity.is_admin:
                raise Refused(403, "PERMISSION_DENIED", "This route is for admins only")
            if policy.resource == ART and not identity.is_admin:
                await self._check_artifact(identity, policy, scope, params)
        except Refused as refused:
            user = proxy_user or (_claimed_user(header) if header else "")
            resource = _resource(policy, _query_fields(scope), params)
            await self.security.record(AuditRecord(user, action, resource, refused.status, address))
            await _refuse(send, refused)
            return
        scope[IDENTITY] = identity
        scope[FIELDS] = None
        if policy.resource in CHECKED:
            scope[AUTHORIZE] = self.security.guard.authorizer(identity, policy)
        security = self.security

        async def audited_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                if policy.writes or status in (401, 403):
                    fields = scope.get(FIELDS) or _query_fields(scope)
                    resource = _resource(policy, fields, params)
                    await security.record(
                        AuditRecord(identity.username, action, resource, status, address)
                    )
            await send(message)

        await self.app(scope, receive, audited_send)

    async def _check_artifact(
        self, identity: Identity, policy: Policy, scope: Scope, params: dict[str, Any]
    ) -> None:
        path = params.get("path")
        if not isinstance(path, str):
            path = _query_fields(scope).get("path", "")
        guard = self.security.guard
        try:
            if self.security.inline_db:
                guard.check_artifact_path(identity, policy, path)
            else:
                await run_in_threadpool(guard.check_artifact_path, identity, policy, path)
        except PermissionDenied as exc:
            raise Refused(403, "PERMISSION_DENIED", exc.message) from exc
        except Exception as exc:  # the database is unreachable, ...: retryable, no trace
            log.exception("Could not check permissions for %s", path)
            raise Refused(
                503, "TEMPORARILY_UNAVAILABLE", "Permissions could not be checked; try again"
            ) from exc

    async def authenticate(self, header: bytes | None, address: str) -> Identity:
        if header is None:
            raise Refused(401, "UNAUTHENTICATED", "Authentication required")
        key = hashlib.sha256(header).digest()
        identity = self.security.cache.get(key)
        if identity is not None:
            return identity
        scheme, _, credentials = header.partition(b" ")
        scheme = scheme.lower()
        claimed = _claimed_user(header)  # "" for a token or a malformed header
        keys = [f"addr:{address}", f"user:{claimed}"] if claimed else [f"addr:{address}"]
        wait = self.security.limiter.retry_after(*keys)
        if wait:
            raise Refused(
                429,
                "REQUEST_LIMIT_EXCEEDED",
                f"Too many failed logins; retry in {wait} s",
                retry_after=wait,
            )
        # Concurrent requests with the same new header share one verification.
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._verify(key, scheme, credentials.strip()))
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
            first = True
        else:
            first = False
        identity = await asyncio.shield(pending)
        if identity is None:
            if first:
                self.security.limiter.failed(*keys)
            raise Refused(401, "UNAUTHENTICATED", "Invalid credentials")
        return identity

    async def authenticate_proxy(self, name: str) -> Identity:
        """The user a trusted proxy names (it has authenticated them; we only look them up)."""
        identity = await self.security.proxy.identity(name)
        if identity is None:
            raise Refused(
                403,
                "PERMISSION_DENIED",
                "The user named by the proxy is not registered on this server (create it with "
                "`cairn users create`, or set CAIRN_AUTH_PROXY_CREATE_USERS=true)",
            )
        return identity

    async def _verify(self, key: bytes, scheme: bytes, credentials: bytes) -> Identity | None:
        users = self.security.users
        if scheme == b"basic":
            pair = _basic_pair(credentials)
            if pair is None:
                return None
            identity = await run_in_threadpool(users.authenticate_password, *pair)
            expiry = None
        elif scheme == b"bearer" and credentials:
            found = await run_in_threadpool(users.authenticate_token, credentials.decode("latin-1"))
            if found is None:
                return None
            identity, expiry = found
        else:
            return None
        if identity is not None:
            self.security.cache.put(key, identity, expiry)
        return identity


class SecuredAnswer:
    """A fast-path answer (`app.InlineAnswer`) behind the gate.

    The protocol asks `admit` with the request's `Authorization` header before reading the
    body: only credentials this process has already verified (the cache) are answered here;
    anything else (none, new, wrong, rate-limited) goes the ASGI way, through the gate, which
    verifies, refuses or caches. The audit entry is written before the answer is returned,
    as on the ASGI path.
    """

    __slots__ = ("action", "answer", "policy", "security")

    def __init__(self, answer: Any, action: str, policy: Policy, security: Security) -> None:
        self.answer = answer
        self.action = action
        self.policy = policy
        self.security = security

    def admit(self, authorization: bytes | None, proxy_user: str | None = None) -> Identity | None:
        if proxy_user is not None:  # from a trusted proxy (cairn.server.headers)
            return self.security.proxy.cached(proxy_user)
        if authorization is None:
            return None
        return self.security.cache.get(hashlib.sha256(authorization).digest())

    def __call__(
        self,
        method: str,
        query: bytes,
        body: bytes,
        content_type: str,
        identity: Identity,
        address: str,
    ) -> tuple[int, bytes]:
        note: dict[str, Any] = {}
        authorize = None
        if self.policy.resource in CHECKED:
            authorize = self.security.guard.authorizer(identity, self.policy)
        status, answer = self.answer(
            method, query, body, content_type, note=note, authorize=authorize
        )
        if self.policy.writes or status in (401, 403):
            fields = note.get(FIELDS) or {}
            record = AuditRecord(
                identity.username, self.action, _resource(self.policy, fields, {}), status, address
            )
            try:
                self.security.audit.append([record])  # fast-path answers exist on SQLite only
            except Exception:
                log.exception("Could not write the audit entry for %s", self.action)
        return status, answer


def _authorization(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value)
    return None


def _query_fields(scope: Scope) -> dict[str, Any]:
    query = scope.get("query_string")
    if not query:
        return {}
    return dict(parse_qsl(query.decode("latin-1")))


def _basic_pair(credentials: bytes) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep and username else None


def _claimed_user(header: bytes) -> str:
    """The user name a Basic header claims (for rate limits and the audit of a refusal)."""
    scheme, _, credentials = header.partition(b" ")
    if scheme.lower() != b"basic":
        return ""
    pair = _basic_pair(credentials.strip())
    return pair[0][:256] if pair else ""


def _resource(policy: Policy, fields: MutableMapping[str, Any], params: dict[str, Any]) -> str:
    """The resource a request names, when it is cheap to tell: from its parsed fields (see
    `FIELDS`) or its path parameters."""
    for key, kind in _RESOURCE_KEYS:
        value = fields.get(key) or params.get(key)
        if isinstance(value, str | int) and value != "":
            return f"{kind}:{value}"
    name = fields.get("name")
    if isinstance(name, str) and name:
        version = fields.get("version")
        suffix = f"/{version}" if isinstance(version, str | int) and version != "" else ""
        return f"{policy.resource or 'name'}:{name}{suffix}"
    path = params.get("path")
    if isinstance(path, str) and policy.resource == "artifact":
        return f"artifact:{path}"
    return ""


async def _refuse(send: Send, refused: Refused) -> None:
    body = error_body(refused.code, refused.message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if refused.status == 401:
        headers.append((b"www-authenticate", REALM))
    if refused.retry_after:
        headers.append((b"retry-after", str(refused.retry_after).encode()))
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def secure(app: ASGIApp, built: Any) -> AuthGate:
    """`app` behind the gate, with the policies of the routes of `built` (`create_app`'s)."""
    security: Security = built.state.security
    security.guard.storage = built.state.context.storage  # to judge model sources
    return AuthGate(app, list(built.router.routes), security)
