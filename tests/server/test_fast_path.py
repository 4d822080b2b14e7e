"""The server's fast path (`runner.NoDelayHttpToolsProtocol`): bounded endpoints on SQLite are
answered from the HTTP parser's callbacks, and must answer exactly as the ASGI app does.

Requests are written on raw sockets so the tests control what the fast path sees: a path with
a percent-escape, a chunked body or `Expect: 100-continue` make it hand the request to
uvicorn and the app, which is how the same request is answered both ways.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import pytest

API = "/api/2.0/mlflow"


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def read_answer(stream: BinaryIO) -> Answer:
    status_line = stream.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    headers: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = stream.read(int(headers["content-length"]))
    return Answer(int(status_line.split()[1]), headers, body)


class Connection:
    """One keep-alive TCP connection to the server, written to byte for byte."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stream = self.sock.makefile("rb")

    def send(self, *pieces: bytes, pause: float = 0.0) -> None:
        for piece in pieces:
            self.sock.sendall(piece)
            if pause:
                time.sleep(pause)

    def answer(self) -> Answer:
        return read_answer(self.stream)

    def close(self) -> None:
        self.stream.close()
        self.sock.close()


def request(method: str, path: str, body: bytes = b"", extra: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: test\r\n{extra}"
    if method == "POST":
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def chunked(method: str, path: str, body: bytes) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n"
    chunk = b"%x\r\n%s\r\n" % (len(body), body) if body else b""
    return head.encode() + chunk + b"0\r\n\r\n"


def escaped(path: str) -> str:
    """The same path with its last letter percent-escaped: equal once decoded."""
    return f"{path[:-1]}%{ord(path[-1]):02X}"


@pytest.fixture
def conn(live_server: Any) -> Iterator[Connection]:
    connection = Connection(live_server.url)
    yield connection
    connection.close()


@pytest.fixture
def run_id(conn: Connection) -> str:
    name = f"fast-{uuid.uuid4().hex[:12]}"
    conn.send(request("POST", f"{API}/experiments/create", json.dumps({"name": name}).encode()))
    experiment_id = conn.answer().json()["experiment_id"]
    body = json.dumps({"experiment_id": experiment_id, "start_time": 1}).encode()
    conn.send(request("POST", f"{API}/runs/create", body))
    return str(conn.answer().json()["run"]["info"]["run_id"])


def both_ways(conn: Connection, method: str, path: str, body: bytes = b"") -> list[Answer]:
    """The answer of the fast path, then the app's to the same request."""
    conn.send(request(method, path, body))
    fast = conn.answer()
    if method == "POST":
        conn.send(chunked(method, path, body))
    else:
        conn.send(request(method, escaped(path.split("?")[0]) + path[len(path.split("?")[0]) :]))
    return [fast, conn.answer()]


def test_answers_are_the_same_as_the_apps(conn: Connection, run_id: str) -> None:
    metric = {"run_id": run_id, "key": "m", "value": 1.5, "timestamp": 5, "step": 1}
    cases: list[tuple[str, str, bytes]] = [
        ("POST", f"{API}/runs/log-metric", json.dumps(metric).encode()),
        ("POST", f"{API}/runs/log-metric", json.dumps({**metric, "run_id": "0" * 32}).encode()),
        ("POST", f"{API}/runs/log-metric", b'{"run_id": '),
        ("POST", f"{API}/runs/log-metric", json.dumps({**metric, "value": "high"}).encode()),
        ("POST", f"{API}/runs/set-tag", json.dumps({"run_id": run_id, "key": "t"}).encode()),
        ("POST", f"{API}/runs/log-parameter", b""),
        ("GET", f"{API}/runs/get?run_id={run_id}", b""),
        ("GET", f"{API}/runs/get?run_id=nope", b""),
        ("GET", f"{API}/runs/get", b""),
        ("GET", f"{API}/experiments/get-by-name?experiment_name=Default", b""),
    ]
    for method, path, body in cases:
        fast, app = both_ways(conn, method, path, body)
        assert (fast.status, fast.headers["content-type"]) == (
            app.status,
            app.headers["content-type"],
        ), (path, body, fast.body, app.body)
        if path.endswith("/runs/get?run_id=" + run_id):
            fast_run, app_run = fast.json()["run"], app.json()["run"]
            assert fast_run["info"] == app_run["info"]
        else:
            assert fast.json() == app.json(), (path, body)


def test_a_wrong_content_type_is_refused_the_same_way(conn: Connection, run_id: str) -> None:
    body = json.dumps({"run_id": run_id, "key": "k", "value": "v"}).encode()
    head = f"POST {API}/runs/log-parameter HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
    conn.send(head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    answer = conn.answer()
    assert answer.status == 400
    assert "Content-Type" in answer.json()["message"]


def test_a_body_sent_in_pieces_is_read_whole(conn: Connection, run_id: str) -> None:
    body = json.dumps({"run_id": run_id, "key": "pieces", "value": "joined"}).encode()
    raw = request("POST", f"{API}/runs/log-parameter", body)
    cut = raw.index(b"\r\n\r\n") + 4
    conn.send(raw[:cut], raw[cut : cut + 10], raw[cut + 10 :], pause=0.05)
    assert conn.answer().status == 200
    conn.send(request("GET", f"{API}/runs/get?run_id={run_id}"))
    params = conn.answer().json()["run"]["data"]["params"]
    assert {"key": "pieces", "value": "joined"} in params


def test_pipelined_requests_are_answered_in_order(conn: Connection, run_id: str) -> None:
    """A search (answered by the app, in a thread) followed by requests the fast path could
    answer at once: their answers must still come after the search's."""
    search = json.dumps({"experiment_ids": ["0"], "max_results": 1}).encode()
    conn.send(
        request("POST", f"{API}/runs/search", search)
        + request("GET", f"{API}/runs/get?run_id={run_id}")
        + request("GET", f"{API}/runs/get?run_id=missing")
    )
    first, second, third = conn.answer(), conn.answer(), conn.answer()
    assert first.status == 200
    assert first.json().keys() <= {"runs", "next_page_token"}
    assert second.json()["run"]["info"]["run_id"] == run_id
    assert third.status == 404


def test_http_1_0_gets_its_answer_and_the_connection_closes(conn: Connection, run_id: str) -> None:
    conn.send(f"GET {API}/runs/get?run_id={run_id} HTTP/1.0\r\nHost: t\r\n\r\n".encode())
    answer = conn.answer()
    assert answer.status == 200
    assert answer.headers["connection"] == "close"
    assert conn.stream.read() == b""  # the server closed the connection


def test_expect_100_continue_is_left_to_uvicorn(conn: Connection, run_id: str) -> None:
    body = json.dumps({"run_id": run_id, "key": "expect", "value": "yes"}).encode()
    head = request("POST", f"{API}/runs/log-parameter", body, extra="Expect: 100-continue\r\n")
    conn.send(head[: -len(body)])  # the headers only: the body waits for "100 Continue"
    assert conn.stream.readline().startswith(b"HTTP/1.1 100")
    assert conn.stream.readline() == b"\r\n"
    conn.send(body)
    assert conn.answer().status == 200


def test_an_oversized_declared_body_is_refused(conn: Connection, live_server: Any) -> None:
    limit = 16 * 1024 * 1024  # the server's default MAX_BODY_BYTES (see test_hardening)
    head = f"POST {API}/runs/log-metric HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    conn.send(head.encode() + f"Content-Length: {limit + 1}\r\n\r\n".encode())
    answer = conn.answer()
    assert answer.status == 413
    assert answer.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"


def test_many_requests_on_one_connection(conn: Connection, run_id: str) -> None:
    for step in range(200):
        body = {"run_id": run_id, "key": "loop", "value": step, "timestamp": 1, "step": step}
        conn.send(request("POST", f"{API}/runs/log-metric", json.dumps(body).encode()))
        assert conn.answer().status == 200
    conn.send(request("GET", f"{API}/metrics/get-history?run_id={run_id}&metric_key=loop"))
    assert len(conn.answer().json()["metrics"]) == 200


def test_sigterm_lets_a_request_still_arriving_finish(server_factory: Any) -> None:
    """A fast-path request whose body is half sent when SIGTERM arrives is in flight: the
    server answers it, closes the connection, then exits."""
    import signal

    server = server_factory()
    conn = Connection(server.url)
    try:
        conn.send(request("POST", f"{API}/experiments/create", b'{"name": "sigterm-fast"}'))
        assert conn.answer().status == 200
        body = b'{"name": "arrives-late"}'
        raw = request("POST", f"{API}/experiments/create", body)
        conn.send(raw[: -len(body) // 2])
        time.sleep(0.5)  # the headers are parsed: the request is in flight
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert server.process.poll() is None, "the server exited with a request in flight"
        conn.send(raw[-len(body) // 2 :])
        answer = conn.answer()
        assert answer.status == 200, answer.body
        assert answer.headers["connection"] == "close"
        assert conn.stream.read() == b""
    finally:
        conn.close()
    assert server.process.wait(30) in (0, -signal.SIGTERM), server.log()
