"""`cairn.server.runner`: TCP_NODELAY on every accepted connection, writes sent together."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
import uvloop

from cairn.server import runner
from cairn.server.runner import CoalescingTransport, NoDelayHttpToolsProtocol, set_nodelay

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


def nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_set_nodelay_on_an_accepted_tcp_socket(loop_name: str) -> None:
    """Accept a real TCP connection, switch Nagle back on, and let set_nodelay turn it off."""
    seen: dict[str, int] = {}

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            # Event loops may already set TCP_NODELAY; clear it so the test shows set_nodelay's
            # effect. Some loops only expose a proxy of the socket, so use a duplicate of its fd.
            fd = transport.get_extra_info("socket").fileno()
            with socket.socket(fileno=socket.dup(fd)) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
                seen["before"] = nodelay(sock)
                set_nodelay(transport)
                seen["after"] = nodelay(sock)
            transport.close()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Probe, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(200):
            if "after" in seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    loop = LOOPS[loop_name]()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert seen["before"] == 0
    assert seen["after"] != 0


class FakeTransport:
    def __init__(self, sock: Any) -> None:
        self.sock = sock

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.sock if name == "socket" else default


def test_set_nodelay_ignores_what_it_cannot_set() -> None:
    set_nodelay(FakeTransport(None))  # type: ignore[arg-type]  # no socket at all
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        set_nodelay(FakeTransport(left))  # type: ignore[arg-type]  # not TCP: left alone
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.close()
    set_nodelay(FakeTransport(closed))  # type: ignore[arg-type]  # closed by the peer already


def test_set_nodelay_swallows_os_errors() -> None:
    class Refusing:
        family = socket.AF_INET

        def setsockopt(self, *args: Any) -> None:
            raise OSError("connection reset")

    set_nodelay(FakeTransport(Refusing()))  # type: ignore[arg-type]


@contextlib.contextmanager
def uvicorn_in_thread(app: Any, send_buffer: int | None = None) -> Iterator[str]:
    """The runner's protocol class on a real uvicorn server, in this process (accepted
    connections inherit `send_buffer` as their SO_SNDBUF)."""
    sock = socket.socket()
    if send_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, http=NoDelayHttpToolsProtocol, loop="asyncio", log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_the_protocol_sets_nodelay_on_every_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded: list[int] = []
    original = runner.set_nodelay

    def recording(transport: asyncio.BaseTransport) -> None:
        fd = transport.get_extra_info("socket").fileno()
        with socket.socket(fileno=socket.dup(fd)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
            original(transport)
            recorded.append(nodelay(sock))

    monkeypatch.setattr(runner, "set_nodelay", recording)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    with uvicorn_in_thread(app) as url:
        for _ in range(3):  # three separate connections
            assert httpx.get(url).text == "ok"
        with httpx.Client() as client:  # one more, reused: still one call for it
            for _ in range(3):
                assert client.get(url).status_code == 200
    assert len(recorded) == 4
    assert all(recorded)


class RecordingTransport(asyncio.Transport):
    """Stands in for the event loop's socket transport: records each write it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.sent.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def get_write_buffer_size(self) -> int:
        return 0


def coalescing() -> tuple[asyncio.AbstractEventLoop, RecordingTransport, CoalescingTransport]:
    loop = asyncio.new_event_loop()
    inner = RecordingTransport()
    return loop, inner, CoalescingTransport(inner, loop)


def run_one_step(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(asyncio.sleep(0))


def test_writes_of_one_loop_step_leave_in_one_send() -> None:
    loop, inner, transport = coalescing()
    try:
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        transport.write(bytearray(b"ok"))
        assert inner.sent == []
        assert transport.get_write_buffer_size() == 40
        run_one_step(loop)
        assert inner.sent == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
        transport.write(b"next")
        run_one_step(loop)
        assert inner.sent[1:] == [b"next"]
    finally:
        loop.close()


def test_a_large_write_is_sent_at_once() -> None:
    loop, inner, transport = coalescing()
    try:
        transport.write(b"h")
        transport.write(b"x" * CoalescingTransport.FLUSH_BYTES)
        assert inner.sent == [b"h" + b"x" * CoalescingTransport.FLUSH_BYTES]
        run_one_step(loop)  # the scheduled flush finds nothing left
        assert len(inner.sent) == 1
    finally:
        loop.close()


def test_close_sends_what_is_waiting_and_abort_drops_it() -> None:
    loop, inner, transport = coalescing()
    try:
        transport.writelines([b"a", b"b"])
        transport.close()
        assert inner.sent == [b"ab"]
        assert transport.is_closing()  # the rest is the wrapped transport's
        run_one_step(loop)
        assert inner.sent == [b"ab"]

        loop2, inner2, aborted = coalescing()
        aborted.write(b"lost")
        aborted.abort()
        loop2.run_until_complete(asyncio.sleep(0))
        loop2.close()
        assert inner2.sent == []
    finally:
        loop.close()


def test_nothing_is_written_to_a_transport_that_is_closing() -> None:
    loop, inner, transport = coalescing()
    try:
        transport.write(b"late")
        inner.closing = True  # the peer went away before the flush
        run_one_step(loop)
        assert inner.sent == []
    finally:
        loop.close()


def test_responses_arrive_whole_through_the_protocol() -> None:
    """Small answers, a streamed answer across awaits and a large body, on one connection."""
    big = bytes(range(256)) * 4096  # 1 MiB: flushed in FLUSH_BYTES pieces, under flow control

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        headers = [] if path == "/stream" else [(b"content-length", b"%d" % len(bodies[path]))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if path == "/stream":
            for part in (b"one,", b"two,", b"three"):
                await send({"type": "http.response.body", "body": part, "more_body": True})
                await asyncio.sleep(0.01)
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.body", "body": bodies[path]})

    bodies = {"/small": b"ok", "/big": big}
    with uvicorn_in_thread(app) as url, httpx.Client() as client:
        for _ in range(20):
            assert client.get(url + "/small").content == b"ok"
        assert client.get(url + "/stream").content == b"one,two,three"
        assert client.get(url + "/big").content == big
        assert client.get(url + "/small").content == b"ok"


def test_the_backend_must_be_a_database_not_another_server() -> None:
    import pytest

    from cairn.exceptions import InvalidParameterValue
    from cairn.server.config import ServerConfig

    with pytest.raises(InvalidParameterValue, match="must be a database"):
        ServerConfig(backend_store_uri="http://127.0.0.1:5000").resolved()


def test_inline_endpoints_are_answered_without_the_asgi_app(tmp_path: Any) -> None:
    """What the protocol answers itself never reaches the app; everything else does."""
    from cairn.server.app import ExactRoutes, create_app
    from cairn.server.config import ServerConfig

    class CountingRoutes(ExactRoutes):
        calls = 0

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                CountingRoutes.calls += 1
            await super().__call__(scope, receive, send)

    config = ServerConfig(
        backend_store_uri=f"sqlite:///{tmp_path / 'c.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
    ).resolved()
    app = CountingRoutes(create_app(config))
    assert (b"POST", b"/api/2.0/mlflow/runs/log-metric") in app.inline
    assert (b"POST", b"/api/2.0/mlflow/runs/search") not in app.inline  # unbounded
    api = "/api/2.0/mlflow"
    with uvicorn_in_thread(app) as url, httpx.Client(base_url=url + api) as client:
        run = client.post("/runs/create", json={"experiment_id": "0"}).json()["run"]
        metric = {"run_id": run["info"]["run_id"], "key": "m", "value": 1, "timestamp": 1}
        assert client.post("/runs/log-metric", json=metric).json() == {}
        assert client.get("/runs/get", params={"run_id": "missing"}).status_code == 404
        assert CountingRoutes.calls == 0
        assert client.post("/runs/search", json={"experiment_ids": ["0"]}).status_code == 200
        assert httpx.get(url + "/health").text == "OK"
        assert CountingRoutes.calls == 2


def test_a_client_that_does_not_read_gets_its_answers_in_order(tmp_path: Any) -> None:
    """Thousands of pipelined requests sent without reading: once the server's send buffer
    fills, the fast path stops and uvicorn's path queues the rest (and stops reading), so
    memory stays bounded; every answer still arrives, in order."""
    from cairn.server.app import ExactRoutes, create_app
    from cairn.server.config import ServerConfig

    class CountingRoutes(ExactRoutes):
        calls = 0

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                CountingRoutes.calls += 1
            await super().__call__(scope, receive, send)

    config = ServerConfig(
        backend_store_uri=f"sqlite:///{tmp_path / 'c.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
    ).resolved()
    app = CountingRoutes(create_app(config))
    count = 4_000
    with uvicorn_in_thread(app, send_buffer=8192) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)  # a small window
            sock.settimeout(60)
            sock.connect((host, int(port)))
            requests = b"".join(
                b"GET /api/2.0/mlflow/experiments/get?experiment_id=%d HTTP/1.1\r\nHost: t\r\n\r\n"
                % (i % 2)  # "0" exists, "1" does not: answers alternate 200 and 404
                for i in range(count)
            )
            sender = threading.Thread(target=sock.sendall, args=(requests,))
            sender.start()
            threading.Event().wait(0.5)  # read nothing for a while
            stream = sock.makefile("rb")
            statuses = []
            for _ in range(count):
                status = int(stream.readline().split()[1])
                length = 0
                while (line := stream.readline()) != b"\r\n":
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                stream.read(length)
                statuses.append(status)
            sender.join(30)
            stream.close()
    assert statuses == [200, 404] * (count // 2)
    assert CountingRoutes.calls > 0  # some were queued behind a paused write
