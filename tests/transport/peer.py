"""A scripted HTTP/1.1 server in a thread: the remote peer the transport tests talk to.

It stands in for "some server on the network" (one that answers 503, drops connections, or
sends HTML), not for Cairn's own server. Answers are queued with `answer(...)`; when the
queue is empty every request gets `200 {}`. Each request is recorded (bodies are hashed in
chunks rather than kept, so large uploads do not inflate the test's memory).
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    truncate_at: int | None = None
    """Announce the full length but close the connection after this many body bytes."""


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    size: int
    sha256: str
    client_port: int


class Peer:
    def __init__(self, port: int = 0, keep_body_bytes: int = 1 << 20) -> None:
        self.answers: deque[Answer] = deque()
        self.requests: list[Seen] = []
        self.keep_body_bytes = keep_body_bytes
        self._lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                peer._record(self)
                answer = peer._next()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if answer.truncate_at is None:
                    self.wfile.write(answer.body)
                else:
                    self.wfile.write(answer.body[: answer.truncate_at])
                    self.wfile.flush()
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def answer(self, status: int = 200, body: bytes | str = b"{}", **kw: Any) -> None:
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            self.answers.append(Answer(status, data, **kw))

    def _next(self) -> Answer:
        with self._lock:
            return self.answers.popleft() if self.answers else Answer()

    def _record(self, handler: BaseHTTPRequestHandler) -> None:
        digest = hashlib.sha256()
        kept = bytearray()
        size = 0
        for chunk in _body_chunks(handler):
            digest.update(chunk)
            size += len(chunk)
            if len(kept) < self.keep_body_bytes:
                kept += chunk[: self.keep_body_bytes - len(kept)]
        seen = Seen(
            handler.command,
            handler.path,
            dict(handler.headers.items()),
            bytes(kept),
            size,
            digest.hexdigest(),
            handler.client_address[1],
        )
        with self._lock:
            self.requests.append(seen)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _body_chunks(handler: BaseHTTPRequestHandler, chunk: int = 1 << 16) -> Any:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        while True:
            size = int(handler.rfile.readline().split(b";")[0], 16)
            if size == 0:
                handler.rfile.readline()
                return
            yield handler.rfile.read(size)
            handler.rfile.readline()
    remaining = int(handler.headers.get("Content-Length") or 0)
    while remaining:
        data = handler.rfile.read(min(chunk, remaining))
        if not data:
            return
        remaining -= len(data)
        yield data
