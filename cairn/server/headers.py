"""Header rules in front of the app: allowed hosts, CORS, cross-origin writes, trusted proxies.

DNS rebinding lets a web page on a name its author controls reach a server on the visitor's
network or loopback: the name is re-pointed at the server's address, and the browser, which
judges origins by name, lets the page read the answers. The server sees that name in `Host`,
so it answers only names it was told are its own. IP literals, `localhost` (and names under
it) and names without a dot (a container's service name) are always allowed: no attacker can
make a browser present them for a page of their own, since public DNS serves web pages only
on dotted names.

Browsers send some cross-origin writes without asking first (a form POST, a `fetch` with a
"simple" content type), so CORS headers alone do not stop a page elsewhere from writing
through a visitor's browser: a state-changing request whose `Origin` is neither this server
nor an allowed origin is refused before any handler runs.

`X-Forwarded-For`, `-Proto`, `-Host` and the proxy's user header are read only from a peer in
`trusted_proxies`; from anyone else they are ignored, since anyone can send them.

`HeaderRules.inspect` is the one place that judges a request's headers; `HeaderGuard` applies
it on the ASGI path and the server's fast path (`runner.NoDelayHttpToolsProtocol`) calls it
too. Everything per request is dictionary and set lookups: the parsed forms of allowed hosts
and proxies are computed once, and results for the few hosts and peers a server meets are
remembered (in bounded tables, so a flood of made-up names cannot grow them).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.exceptions import InvalidParameterValue
from cairn.server.errors import error_body

if TYPE_CHECKING:
    from cairn.server.config import ServerConfig

PROXY_USER = "cairn.proxy_user"  # scope key: the user a trusted proxy vouches for
SAFE_METHODS = frozenset((b"GET", b"HEAD", b"OPTIONS"))
ALLOWED_HOSTS_HINT = "`cairn server --allowed-hosts` or CAIRN_ALLOWED_HOSTS"
CORS_HINT = "see `cairn server --cors-allowed-origins` or CAIRN_CORS_ALLOWED_ORIGINS"
PREFLIGHT_MAX_AGE = b"600"
CORS_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE"
CORS_HEADERS = b"Authorization, Content-Type"
LOOPBACK_NAMES = frozenset(("localhost",))
# A host shown in an answer is limited to these characters (else it is not shown at all).
_SHOWABLE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_:[]")
_LABEL = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")  # what a host name is made of
_REMEMBERED = 1024  # entries per table of remembered verdicts
_DEFAULT_PORTS = {b"http": b":80", b"https": b":443"}

# The headers `inspect` reads, by lower-case name, to their slot in its list.
_HOST, _ORIGIN, _FOR, _PROTO, _FHOST, _PREFLIGHT, _USER = range(7)
_WANTED = {
    b"host": _HOST,
    b"origin": _ORIGIN,
    b"x-forwarded-for": _FOR,
    b"x-forwarded-proto": _PROTO,
    b"x-forwarded-host": _FHOST,
    b"access-control-request-method": _PREFLIGHT,
}


@dataclass(slots=True)
class Seen:
    """What the rules make of one request."""

    refusal: str | None  # why it is refused (403), or None
    client: str  # the client's address: the peer's, or forwarded by a trusted proxy
    scheme: str | None  # forwarded by a trusted proxy (http or https), else None
    proxy_user: str | None  # the user a trusted proxy names in its header
    origin: bytes | None  # the request's Origin header
    cors: bool  # Origin is an allowed cross-origin: answer with CORS headers
    preflight: bool  # a CORS preflight (OPTIONS with Access-Control-Request-Method)


class HeaderRules:
    """The header checks of one server, precomputed from its configuration."""

    def __init__(
        self,
        allowed_hosts: Iterable[str] = (),
        cors_allowed_origins: Iterable[str] = (),
        trusted_proxies: Iterable[str] = (),
        proxy_user_header: str | None = None,
    ) -> None:
        hosts = [h.strip().lower().rstrip(".") for h in allowed_hosts if h.strip()]
        self.any_host = "*" in hosts
        self.hosts = frozenset(h for h in hosts if not h.startswith(".")) | LOOPBACK_NAMES
        # ".example.com" allows example.com and every name under it
        self.suffixes = tuple(h for h in hosts if h.startswith(".") and len(h) > 1)
        self.hosts |= {s[1:] for s in self.suffixes}
        self.origins = frozenset(_origin(o) for o in cors_allowed_origins if o.strip())
        self.proxies = tuple(_network(p) for p in trusted_proxies if p.strip())
        self.wanted = dict(_WANTED)
        self.proxy_user_header: bytes | None = None
        if proxy_user_header:
            name = proxy_user_header.strip().lower()
            taken = name.encode() in _WANTED or name in ("authorization", "cookie")
            if taken or not name or not all(c.isalnum() or c in "-_" for c in name):
                raise InvalidParameterValue(
                    f"CAIRN_AUTH_PROXY_HEADER must name a header such as X-Forwarded-User, "
                    f"not {proxy_user_header!r}"
                )
            if not self.proxies:
                raise InvalidParameterValue(
                    "--auth-proxy-header needs --trusted-proxies (CAIRN_TRUSTED_PROXIES): the "
                    "header is believed only from those addresses"
                )
            self.proxy_user_header = name.encode()
            self.wanted[self.proxy_user_header] = _USER
        self._host_verdicts: dict[bytes, bool] = {}
        self._peer_verdicts: dict[str, bool] = {}

    @classmethod
    def from_config(cls, config: ServerConfig) -> HeaderRules:
        return cls(
            config.allowed_hosts,
            config.cors_allowed_origins,
            config.trusted_proxies,
            config.auth_proxy_header,
        )

    # -- per request ---------------------------------------------------------------------------
    def inspect(self, method: bytes, headers: Iterable[tuple[bytes, bytes]], peer: str) -> Seen:
        """Judge a request by its headers (names lower-case, as ASGI and uvicorn give them)
        and the address it came from."""
        found: list[bytes | None] = [None] * 7
        wanted = self.wanted
        for name, value in headers:
            slot = wanted.get(name)
            if slot is not None:
                # Repeated X-Forwarded-For headers read as one list; other repeats: the first.
                earlier = found[slot]
                if earlier is None:
                    found[slot] = value
                elif slot == _FOR:
                    found[_FOR] = earlier + b"," + value
        host, origin, forwarded_for, proto, forwarded_host, requested, raw_user = found
        client, scheme, user = peer, None, None
        if self.proxies and self.trusts(peer):
            if forwarded_host:
                host = forwarded_host.split(b",", 1)[0].strip()
            if forwarded_for:
                client = self._forwarded_client(forwarded_for) or peer
            if proto and proto.strip().lower() in (b"http", b"https"):
                scheme = proto.strip().lower().decode()
            if raw_user is not None:
                user = raw_user.decode("latin-1").strip() or None
        preflight = method == b"OPTIONS" and origin is not None and requested is not None
        seen = Seen(None, client, scheme, user, origin, False, preflight)
        if host and not self.host_allowed(host):
            seen.refusal = (
                f"Host {_showable(host)} is not among this server's names: add it to "
                f"{ALLOWED_HOSTS_HINT} (a guard against DNS rebinding; "
                "see docs/security.md)"
            )
            return seen
        if origin is not None:
            if self.origin_allowed(origin):
                seen.cors = True
            elif preflight:
                seen.refusal = (
                    f"Cross-origin requests from this origin are not allowed ({CORS_HINT})"
                )
            elif method not in SAFE_METHODS and not _same_origin(origin, host):
                seen.refusal = (
                    "Cross-origin write refused: the Origin header names neither this server "
                    f"nor an allowed origin ({CORS_HINT})"
                )
        return seen

    def host_allowed(self, host: bytes) -> bool:
        verdict = self._host_verdicts.get(host)
        if verdict is None:
            verdict = self._judge_host(host)
            if len(self._host_verdicts) < _REMEMBERED:
                self._host_verdicts[host] = verdict
        return verdict

    def _judge_host(self, raw: bytes) -> bool:
        if self.any_host:
            return True
        name = _host_name(raw.decode("latin-1").strip().lower())
        if name is None:
            return False
        name = name.rstrip(".")
        if name in self.hosts or _is_ip(name):
            return True
        if set(name) <= _LABEL and ("." not in name or name.endswith(".localhost")):
            return True
        return bool(self.suffixes) and name.endswith(self.suffixes)

    def origin_allowed(self, origin: bytes) -> bool:
        return bool(self.origins) and origin.lower().decode("latin-1") in self.origins

    def trusts(self, peer: str) -> bool:
        """The peer address is one of the trusted proxies."""
        verdict = self._peer_verdicts.get(peer)
        if verdict is None:
            try:
                address = ipaddress.ip_address(peer)
            except ValueError:
                verdict = False
            else:
                if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                    address = address.ipv4_mapped
                verdict = any(address in network for network in self.proxies)
            if len(self._peer_verdicts) < _REMEMBERED:
                self._peer_verdicts[peer] = verdict
        return verdict

    def _forwarded_client(self, forwarded_for: bytes) -> str | None:
        """The client a chain of proxies reports: the last address in X-Forwarded-For that
        is not itself a trusted proxy (earlier entries are whatever the client sent)."""
        entries = [e.strip() for e in forwarded_for.decode("latin-1").split(",")]
        for entry in reversed(entries):
            address = _address(entry)
            if address is None:
                return None  # malformed: keep the peer's address rather than guess
            if not self.trusts(address):
                return address
        return _address(entries[0])


class HeaderGuard:
    """ASGI wrapper, outermost: applies `HeaderRules` to every HTTP request.

    It refuses (403) a foreign `Host` and a cross-origin write, answers CORS preflights for
    allowed origins, adds CORS headers to their answers, and, for requests from a trusted
    proxy, puts the forwarded client address and scheme in the scope and the proxy's user in
    `PROXY_USER` (read by the auth gate). `/health` is exempt: load balancers probe it under
    whatever name they like, and it answers nothing but "OK".
    """

    def __init__(self, app: ASGIApp, rules: HeaderRules) -> None:
        self.app = app
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" or scope["path"] == "/health":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        method = scope.get("method", "GET").encode("latin-1")
        seen = self.rules.inspect(method, scope["headers"], client[0] if client else "")
        if seen.refusal is not None:
            await _refuse(scope, send, seen.refusal)
            return
        if client is not None and seen.client != client[0]:
            scope["client"] = (seen.client, 0)
        if seen.scheme is not None and scope["type"] == "http":
            scope["scheme"] = seen.scheme
        if seen.proxy_user is not None:
            scope[PROXY_USER] = seen.proxy_user
        if not seen.cors:
            await self.app(scope, receive, send)
            return
        origin = seen.origin or b""
        if seen.preflight:
            await _preflight(send, origin)
            return

        async def cors_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, cors_send)


async def _preflight(send: Send, origin: bytes) -> None:
    """Allow the methods and headers Cairn's API uses. No Access-Control-Allow-Credentials:
    a page elsewhere must bring its own token rather than ride on the visitor's login."""
    headers = [
        (b"access-control-allow-origin", origin),
        (b"access-control-allow-methods", CORS_METHODS),
        (b"access-control-allow-headers", CORS_HEADERS),
        (b"access-control-max-age", PREFLIGHT_MAX_AGE),
        (b"vary", b"Origin"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def refusal_answer(path: str, message: str) -> tuple[bytes, bytes]:
    """(content type, body) of a 403: MLflow's JSON error under the API, plain text else."""
    if path.startswith(("/api/", "/ajax-api/")):
        return b"application/json", error_body("PERMISSION_DENIED", message)
    return b"text/plain; charset=utf-8", message.encode() + b"\n"


async def _refuse(scope: Scope, send: Send, message: str) -> None:
    if scope["type"] != "http":  # a websocket: refused before it is accepted
        await send({"type": "websocket.close", "code": 1008})
        return
    content_type, body = refusal_answer(scope["path"], message)
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
    ]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# -- parsing -----------------------------------------------------------------------------------
def _host_name(value: str) -> str | None:
    """The name or address in a Host header value (`name`, `name:port`, `[v6]:port`)."""
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or (value[end + 1 :] and not _is_port(value[end + 1 :])):
            return None
        return value[1:end]
    name, sep, port = value.rpartition(":")
    if not sep:
        return value
    return name if _is_port(":" + port) else None


def _is_port(text: str) -> bool:
    return text.startswith(":") and text[1:].isdigit() and len(text) <= 6


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _address(entry: str) -> str | None:
    """The IP address of an X-Forwarded-For entry (`ip`, `ip:port`, `[v6]:port`), or None."""
    candidates = [entry]
    host = _host_name(entry)
    if host is not None:
        candidates.append(host)
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def _same_origin(origin: bytes, host: bytes | None) -> bool:
    """The Origin names the host the request was sent to (default ports aside)."""
    if not host:
        return False
    scheme, sep, authority = origin.lower().partition(b"://")
    if not sep:
        return False  # "null" (a sandboxed page, a file) and anything malformed
    host = host.strip().lower()
    default = _DEFAULT_PORTS.get(scheme)
    if default is not None:
        authority = authority.removesuffix(default)
        host = host.removesuffix(default)
    return authority == host


def _origin(value: str) -> str:
    """An allowed origin as browsers send it: lower case, no path, no default port."""
    text = value.strip().lower().rstrip("/")
    if text == "*":
        # Every page on the web could then write through a visitor's browser (a form POST
        # carries the browser's remembered login): origins must be named.
        raise InvalidParameterValue("CORS origins must be listed one by one; `*` is not accepted")
    scheme, sep, authority = text.partition("://")
    if scheme not in ("http", "https") or not sep or not authority or "/" in authority:
        raise InvalidParameterValue(
            f"An allowed CORS origin is scheme://host[:port] (http or https), not {value!r}"
        )
    default = _DEFAULT_PORTS[scheme.encode()].decode()
    return f"{scheme}://{authority.removesuffix(default)}"


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError as exc:
        raise InvalidParameterValue(
            f"A trusted proxy is an IP address or network (10.0.0.0/8), not {value.strip()!r}"
        ) from exc


def _showable(host: bytes) -> str:
    """The host in quotes when it is made of host-name characters only, so an answer never
    carries markup or control characters sent by the client."""
    text = host.decode("latin-1")[:100]
    return repr(text) if text and set(text.lower()) <= _SHOWABLE else "(not a host name)"


def split_list(value: str | None) -> tuple[str, ...]:
    """A comma-separated setting as a tuple of its non-empty items."""
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())
