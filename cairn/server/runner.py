"""Running the app on uvicorn: workers, TCP_NODELAY, graceful shutdown.

Every accepted connection gets TCP_NODELAY, whatever the worker count: without it a small
JSON response on a reused keep-alive connection can wait ~40 ms for a delayed ACK (Nagle's
algorithm), which is what makes a multi-worker MLflow server slow for sequential clients.
On SIGTERM uvicorn stops accepting, lets in-flight requests finish (up to
`GRACEFUL_SHUTDOWN_SECONDS`) and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cairn.server.config import CONFIG_ENV, ServerConfig
from cairn.server.headers import HeaderGuard, HeaderRules

GRACEFUL_SHUTDOWN_SECONDS = 30


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        # A socket already closed by the peer cannot take options; nothing to do then.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class CoalescingTransport:
    """A transport that hands what one event-loop step writes to the socket in one send.

    uvicorn writes a response's status line and headers, then its body, as two writes; with
    TCP_NODELAY each leaves as a segment of its own, and on loopback a send costs about as
    much as the server's whole work for a small request. Writes are gathered and flushed by a
    callback scheduled with `call_soon`, so they leave as soon as the writing task yields, or
    at once when `FLUSH_BYTES` are waiting (a streamed download stays bounded).
    """

    FLUSH_BYTES = 64 * 1024

    __slots__ = ("_loop", "_pending", "_size", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))  # bytes(b) is b itself; anything else is copied
        self._size += len(data)
        if self._size >= self.FLUSH_BYTES:
            self._flush()

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        if not self._pending:
            return
        pending = self._pending
        self._pending = []
        self._size = 0
        if not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._size

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending = []
        self._size = 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)  # is_closing, pause_reading, get_extra_info, ...


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with Nagle's algorithm switched off per connection, each
    response's writes sent together (`CoalescingTransport`), and a fast path for the
    endpoints the app can answer synchronously.

    uvicorn spends ~100 µs of every request on its ASGI machinery (a task, the scope, the
    receive and send messages, the middleware); a `log-metric` on SQLite does ~65 µs of
    work of its own. The endpoints that `ExactRoutes.inline` lists (bounded handlers on an
    embedded database, which run on the event loop anyway) are answered right here, from
    the parser's callbacks, when the request is plain: its body length is declared and within
    the limit, nothing else is in flight on the connection, the client is reading its answers
    (writing is not paused), no `Expect: 100-continue`, no escaped path, no concurrency limit,
    no `Origin` header and nothing the header rules (`cairn.server.headers`) refuse. Anything
    else takes uvicorn's path unchanged.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inline = _inline_table(self.app)
        self._rules = _header_rules(self.app)
        self._answer: tuple[Any, bytes, bytes, bool] | None = None
        self._body: list[bytes] = []
        # Stalled clients (security corpus §8): see `_check_stalled`.
        self._awaiting = True  # a request, or the rest of one, is due from the client
        self._received = False  # bytes arrived since the last check
        self._stall_check: asyncio.TimerHandle | None = None
        self._refused = False  # over CAIRN_SERVER_MAX_CONNECTIONS: answered 503 and closed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        cap = max_connections()
        if cap and len(self.connections) >= cap:
            self._refused = True  # never one of the server's connections: see full_answer
            transport.write(full_answer())
            transport.close()
            return
        set_nodelay(transport)
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        if request_idle_seconds():
            self._stall_check = self.loop.call_later(request_idle_seconds(), self._check_stalled)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        if self._stall_check is not None:
            self._stall_check.cancel()
            self._stall_check = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._received = True
        super().data_received(data)

    def _check_stalled(self) -> None:
        """Close a connection whose client owes a request, or the rest of one, and sent
        nothing for a whole period: uvicorn has no such timeout, and each stalled client
        would otherwise hold a connection (and a file descriptor) for ever. A client that
        keeps sending, however slowly, or that the server has stopped reading from (flow
        control), is not stalled; one whose request is complete is the app's to answer."""
        self._stall_check = None
        if self.transport.is_closing():
            return
        if self._awaiting and not self._received and not self.flow.read_paused:
            self.transport.close()
            return
        self._received = False
        self._stall_check = self.loop.call_later(request_idle_seconds(), self._check_stalled)

    def on_message_begin(self) -> None:
        self._awaiting = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        if self._inline and self._take_inline():
            return
        super().on_headers_complete()

    def _take_inline(self) -> bool:
        """Whether this request is answered by the fast path (then its body is collected)."""
        if self.limit_concurrency is not None or self.expect_100_continue or self.pipeline:
            return False
        if self.flow.write_paused:
            return False  # the client is not reading: uvicorn's path queues, and stops reading
        if self.root_path:
            return False
        if self.cycle is not None and not self.cycle.response_complete:
            return False  # answers must leave in request order
        method = self.parser.get_method()
        parsed = httptools.parse_url(self.url)
        found = self._inline.get((method, parsed.path))
        if found is None or self.parser.should_upgrade():
            return False
        answer, limit = found
        length = 0
        content_type = b""
        authorization = None
        for name, value in self.headers:  # names are lower-cased by on_header
            if name == b"content-length":
                if not value.isdigit():
                    return False
                length = int(value)
            elif name == b"content-type":
                content_type = value
            elif name == b"transfer-encoding":
                return False  # chunked: uvicorn's path reads and limits it
            elif name == b"authorization":
                authorization = value
        if length > limit:
            return False  # uvicorn's path answers 413
        address = self.client[0] if self.client else ""
        proxy_user = None
        if self._rules is not None:  # cairn.server.headers.HeaderGuard's checks
            seen = self._rules.inspect(method, self.headers, address)
            if seen.refusal is not None or seen.origin is not None:
                return False  # refused, or CORS headers to add: uvicorn's path and the guard
            address, proxy_user = seen.client, seen.proxy_user
        admit = getattr(answer, "admit", None)
        if admit is not None:  # authentication is on (cairn.server.auth.gate.SecuredAnswer)
            identity = admit(authorization, proxy_user)
            if identity is None:
                return False  # the gate, on uvicorn's path, verifies or refuses
            answer = functools.partial(answer, identity=identity, address=address)
        keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
        self._answer = (answer, parsed.query or b"", content_type, keep_alive)
        self._body = []
        return True

    def shutdown(self) -> None:
        """Graceful shutdown: a fast-path request whose body is still arriving is in flight,
        as uvicorn's own are: it is answered, then the connection closes."""
        if self._answer is not None:
            answer, query, content_type, _ = self._answer
            self._answer = (answer, query, content_type, False)
            return
        super().shutdown()

    def on_body(self, body: bytes) -> None:
        if self._answer is not None:
            self._body.append(body)
        else:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._awaiting = False
        if self._answer is None:
            super().on_message_complete()
            return
        answer, query, content_type, keep_alive = self._answer
        self._answer = None
        method = self.parser.get_method().decode("ascii")
        status, body = answer(method, query, b"".join(self._body), content_type.decode("latin-1"))
        self._body = []
        head = [_status_line(status)]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body))
        if not keep_alive:
            head.append(b"connection: close\r\n")
        head += [b"\r\n", body]
        self.transport.write(b"".join(head))
        if not keep_alive:
            self.transport.close()
        self.on_response_complete()  # request count, read resumption, keep-alive timer


@functools.cache
def full_answer() -> bytes:
    """What a connection beyond CAIRN_SERVER_MAX_CONNECTIONS gets, at once and whatever it
    sends: it is closed without its request being read (a client may then see the connection
    reset instead), so it costs the server a write and holds nothing. Clients retry both."""
    from cairn.exceptions import TemporarilyUnavailable
    from cairn.server.errors import error_body

    body = error_body(
        TemporarilyUnavailable.error_code,
        "The server has as many connections open as CAIRN_SERVER_MAX_CONNECTIONS allows; "
        "retry shortly.",
    )
    head = b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    close = b"Retry-After: 1\r\nConnection: close\r\n\r\n"
    return _status_line(TemporarilyUnavailable.http_status) + head + close + body


@functools.cache
def max_connections() -> int:
    """CAIRN_SERVER_MAX_CONNECTIONS, checked (0: no limit)."""
    from cairn import settings

    return settings.SERVER_MAX_CONNECTIONS.get_int()


@functools.cache
def request_idle_seconds() -> float:
    """CAIRN_SERVER_REQUEST_IDLE_SECONDS, checked (0 switches the stall check off)."""
    from cairn import settings

    return settings.SERVER_REQUEST_IDLE_SECONDS.get_float()


def _inline_table(app: Any) -> dict[tuple[bytes, bytes], tuple[Any, int]]:
    """`ExactRoutes.inline` of the app inside uvicorn's middleware wrappers, if there is one;
    with authentication on, the auth gate's (found first, outermost) with its checks applied."""
    from cairn.server.app import ExactRoutes
    from cairn.server.auth.gate import AuthGate

    for _ in range(8):
        if isinstance(app, AuthGate):
            return app.inline
        if isinstance(app, ExactRoutes):
            return app.inline
        app = getattr(app, "app", None)
        if app is None:
            break
    return {}


def _header_rules(app: Any) -> HeaderRules | None:
    """The rules of the `HeaderGuard` among uvicorn's middleware wrappers, if there is one."""
    for _ in range(8):
        if isinstance(app, HeaderGuard):
            return app.rules
        app = getattr(app, "app", None)
        if app is None:
            break
    return None


@functools.cache
def _status_line(status: int) -> bytes:
    return f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode("ascii")


def serve(config: ServerConfig) -> None:
    """Serve until SIGTERM/SIGINT. The database is created or checked before workers start."""
    import uvicorn

    from cairn.store import get_tracking_store

    config = config.resolved()
    request_idle_seconds()  # bad values stop the start here, not in each connection
    max_connections()
    store = get_tracking_store(config.backend_store_uri, config.artifact_root)  # migrate once
    if config.auth:
        _first_admin(store)
    os.makedirs(_local_destination(config), exist_ok=True)
    os.environ[CONFIG_ENV] = config.to_env()
    from cairn.ui.csrf import ensure_secret

    ensure_secret()  # before the workers start, so they all sign the UI's forms alike
    uvicorn.run(
        "cairn.server.app:app_from_env",
        factory=True,
        host=config.host,
        port=config.port,
        workers=config.workers if config.workers > 1 else None,
        http=NoDelayHttpToolsProtocol,
        loop="uvloop",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        server_header=False,
        # X-Forwarded-* are Cairn's to judge (CAIRN_TRUSTED_PROXIES, cairn.server.headers):
        # uvicorn's own handling would believe them from 127.0.0.1 whatever Cairn is told.
        proxy_headers=False,
        ssl_certfile=config.ssl_certfile,
        ssl_keyfile=config.ssl_keyfile,
    )


def _first_admin(store: Any) -> None:
    """With auth on: create the first admin from the environment, or refuse to start when
    nobody could log in (see `cairn.auth.users.ensure_first_admin`)."""
    from cairn import settings
    from cairn.auth.users import UserStore, ensure_first_admin
    from cairn.server.auth.gate import Security

    Security.for_engine(store.engine)  # its settings are checked here, not in every worker
    created = ensure_first_admin(
        UserStore(store.engine), settings.ADMIN_USERNAME.get(), settings.ADMIN_PASSWORD.get()
    )
    if created is not None:
        print(f"Created the first admin, {created.username!r}", flush=True)


def _local_destination(config: ServerConfig) -> str:
    from cairn.artifacts.local import local_root_from_uri

    return str(local_root_from_uri(config.artifacts_destination))
