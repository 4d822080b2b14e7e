"""Registry webhooks: events, URL checks, signatures, and sending one delivery.

Deliveries are an outbox: the SQL store queues one row per (event, webhook) in the
transaction of the change itself, so an acknowledged change never loses its event, and a
`WebhookSender` thread (started by the server) posts them later, retrying with exponential
backoff. Each request carries:

    X-Cairn-Event:      the event name
    X-Cairn-Delivery:   the event id (the same on every retry: receivers deduplicate by it)
    X-Cairn-Signature:  sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>

URLs must be http(s). Because the server is the one calling them (SSRF), addresses that are
not public (loopback, private, link-local, reserved, multicast) are refused unless
CAIRN_WEBHOOK_ALLOW_PRIVATE is set, both when a webhook is registered and on every send
(on registration literal addresses and `localhost`; before every send, whatever the name
resolves to), and redirects are never followed. A delivery connects to the very address its
check approved, so a name whose DNS answer changes in between cannot steer it elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from cairn import settings
from cairn.exceptions import InvalidParameterValue

EVENTS = (
    "version_created",
    "stage_transitioned",
    "alias_set",
    "alias_deleted",
    "model_deleted",
    "transition_requested",
)
TEST_EVENT = "ping"  # sent only by `test_webhook`
# audit action -> event
EVENT_OF_ACTION = {
    "CREATE_VERSION": "version_created",
    "TRANSITION_STAGE": "stage_transitioned",
    "SET_ALIAS": "alias_set",
    "DELETE_ALIAS": "alias_deleted",
    "DELETE_MODEL": "model_deleted",
    "REQUEST_TRANSITION": "transition_requested",
}
SIGNATURE_HEADER = "X-Cairn-Signature"
EVENT_HEADER = "X-Cairn-Event"
DELIVERY_HEADER = "X-Cairn-Delivery"
MAX_BACKOFF_SECONDS = 3600.0


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`: `sha256=<hex digest>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Whether `header` is the signature of `body` (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, body), header or "")


def parse_events(events: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(e.strip() for e in (events or ()) if e.strip()))
    if not chosen:
        raise InvalidParameterValue(f"A webhook needs at least one event: {', '.join(EVENTS)}")
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown:
        raise InvalidParameterValue(
            f"Unknown webhook event(s) {', '.join(unknown)}; events are {', '.join(EVENTS)}"
        )
    return chosen


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_url(url: str, resolve: bool = True) -> None:
    """Refuse URLs the server must not call: InvalidParameterValue saying why. Without
    `resolve` only literal addresses and `localhost` are checked (registering a webhook does
    no DNS lookup; every send resolves the name again and checks what it gets)."""
    _checked(url, resolve)


def _checked(url: str, resolve: bool) -> tuple[SplitResult, list[Address]]:
    """`check_url`, returning the URL's parts and the addresses it was checked at (none for
    a name that was not, or could not be, resolved)."""
    if not isinstance(url, str) or len(url) > 2000 or any(ord(c) < 33 for c in url):
        raise InvalidParameterValue("A webhook URL must be an http(s) URL without spaces")
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError as exc:
        raise InvalidParameterValue(f"Webhook URL {url!r} is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidParameterValue(f"Webhook URLs must use http or https, not {url!r}")
    if not host:
        raise InvalidParameterValue(f"Webhook URL {url!r} has no host")
    if parts.username or parts.password:
        raise InvalidParameterValue("Webhook URLs may not carry credentials; use the secret")
    addresses = _addresses(host, resolve)
    if settings.WEBHOOK_ALLOW_PRIVATE.get_bool():
        return parts, addresses
    for address in addresses:
        if not address.is_global or address.is_multicast:
            raise InvalidParameterValue(
                f"Webhook URL {url!r} points at a non-public address ({address}); set "
                "CAIRN_WEBHOOK_ALLOW_PRIVATE=true to allow loopback and private networks"
            )
    return parts, addresses


def _addresses(host: str, resolve: bool) -> list[Address]:
    bare = host.strip("[]").rstrip(".")  # a trailing dot ("localhost.") names the same host
    try:
        return [ipaddress.ip_address(bare)]
    except ValueError:
        pass
    try:
        # The shorthand IPv4 forms resolvers accept (0x7f000001, 2130706433, 127.1, 0177.0.0.1)
        # are addresses too, and are judged without a DNS lookup.
        return [ipaddress.ip_address(socket.inet_ntoa(socket.inet_aton(bare)))]
    except OSError:
        pass
    name = bare.lower()
    if name == "localhost" or name.endswith(".localhost"):
        return [ipaddress.ip_address("127.0.0.1")]
    if not resolve:
        return []
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError):
        return []  # unresolvable: the send fails and is logged as an attempt
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def pinned(parts: SplitResult, address: Address) -> tuple[str, str, dict[str, Any]]:
    """Where to send a delivery for the URL `parts`: the URL with its host replaced by the
    `address` that was checked, the Host header, and the request's extensions (for https, the
    TLS server name, which the certificate is verified against, stays the URL's host).

    Resolving the name again when connecting could give another address than the one checked
    (a DNS answer that changes between the two: rebinding), so the connection goes to the
    checked address itself."""
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    https = parts.scheme.lower() == "https"
    return target, parts.netloc, {"sni_hostname": parts.hostname} if https else {}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to."""

    delivered: bool
    status_code: int  # 0 when no HTTP answer
    error: str
    duration_ms: int = 0


def send(url: str, secret: str, event: str, event_id: str, body: bytes) -> Outcome:
    """POST one delivery; never raises. A 2xx answer is delivered, anything else is not
    (a redirect included: it is not followed)."""
    import httpx

    from cairn.version import __version__

    try:
        parts, addresses = _checked(url, resolve=True)
    except InvalidParameterValue as exc:
        return Outcome(False, 0, exc.message)
    if not addresses:
        return Outcome(False, 0, f"Webhook URL {url!r}: {parts.hostname} does not resolve")
    target, host, extensions = pinned(parts, addresses[0])
    headers = {
        "Host": host,
        "Content-Type": "application/json",
        "User-Agent": f"cairn-webhooks/{__version__}",
        EVENT_HEADER: event,
        DELIVERY_HEADER: event_id,
        SIGNATURE_HEADER: sign(secret, body),
    }
    timeout = settings.WEBHOOK_TIMEOUT.get_float(positive=True)
    started = time.monotonic()
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            response = client.post(target, content=body, headers=headers, extensions=extensions)
    except httpx.HTTPError as exc:
        took = int((time.monotonic() - started) * 1000)
        return Outcome(False, 0, f"{type(exc).__name__}: {exc}"[:1000], took)
    took = int((time.monotonic() - started) * 1000)
    if 200 <= response.status_code < 300:
        return Outcome(True, response.status_code, "", took)
    return Outcome(False, response.status_code, f"HTTP {response.status_code}", took)


def backoff_ms(attempts: int) -> int:
    """Milliseconds to wait after the `attempts`-th failed attempt."""
    base = settings.WEBHOOK_BACKOFF.get_float()
    return int(min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS) * 1000)


def max_attempts() -> int:
    return settings.WEBHOOK_MAX_ATTEMPTS.get_int(minimum=1)
