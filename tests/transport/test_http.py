"""HttpTransport against a scripted peer: encoding, credentials, retries, errors, streaming."""

from __future__ import annotations

import base64
import hashlib
import math
import os
import socket
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import orjson
import pytest

from cairn.exceptions import (
    EndpointNotFound,
    InvalidParameterValue,
    RequestTooLarge,
    ResourceDoesNotExist,
    RestError,
    ServerUnreachable,
    TemporarilyUnavailable,
    Unauthenticated,
)
from cairn.transport import Credentials, HttpTransport, RetryPolicy, parse_double, query_params
from cairn.transport.codec import encode
from cairn.transport.retry import parse_retry_after
from cairn.version import __version__
from tests.transport.peer import Peer

_CREDENTIAL_ENV = [
    f"{prefix}_TRACKING_{name}"
    for prefix in ("CAIRN", "MLFLOW")
    for name in ("TOKEN", "USERNAME", "PASSWORD")
]


@pytest.fixture(autouse=True)
def no_credentials_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def peer() -> Iterator[Peer]:
    p = Peer()
    yield p
    p.stop()


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def make(waits: list[float]) -> Iterator[Callable[..., HttpTransport]]:
    """Transports whose retry waits are recorded instead of slept."""
    made: list[HttpTransport] = []

    def build(url: str, retries: int = 3, **kw: object) -> HttpTransport:
        policy = RetryPolicy(max_retries=retries, backoff_factor=0.5, sleep=waits.append)
        transport = HttpTransport(url, retry=policy, **kw)  # type: ignore[arg-type]
        made.append(transport)
        return transport

    yield build
    for transport in made:
        transport.close()


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- requests on the wire -------------------------------------------------------------------


def test_get_fields_go_into_the_query_string(peer: Peer, make) -> None:
    peer.answer(body=b'{"ok": 1}')
    result = make(peer.url).call(
        "GET",
        "/api/2.0/x",
        {"run_id": "a b", "ids": ["1", "2"], "flag": True, "off": False, "skip": None, "n": 5},
    )
    assert result == {"ok": 1}
    (seen,) = peer.requests
    assert seen.method == "GET" and seen.body == b""
    assert seen.path == "/api/2.0/x?run_id=a+b&ids=1&ids=2&flag=true&off=false&n=5"


def test_query_params_spelling() -> None:
    assert query_params({"a": [True, None, 2.5], "b": ()}) == (("a", "true"), ("a", "2.5"))


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_other_methods_send_a_json_body(peer: Peer, make, method: str) -> None:
    make(peer.url).call(method, "/api/2.0/x", {"name": "é", "n": [1, 2]})
    (seen,) = peer.requests
    assert seen.method == method
    assert seen.headers["Content-Type"] == "application/json"
    assert orjson.loads(seen.body) == {"name": "é", "n": [1, 2]}


def test_non_finite_doubles_are_spelled_as_strings(peer: Peer, make) -> None:
    body = {"metrics": [{"value": math.nan}, {"value": math.inf}, {"value": -math.inf}], "x": 1.5}
    make(peer.url).call("POST", "/x", body)
    sent = orjson.loads(peer.requests[0].body)
    assert [m["value"] for m in sent["metrics"]] == ["NaN", "Infinity", "-Infinity"]
    assert sent["x"] == 1.5


def test_non_finite_doubles_round_trip_through_parse_double(peer: Peer, make) -> None:
    peer.answer(body=b'{"values": ["NaN", "Infinity", "-Infinity", 2.0, 3]}')
    values = [parse_double(v) for v in make(peer.url).call("GET", "/x")["values"]]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf, 2.0, 3.0]


def test_unencodable_bodies_fail_before_sending(peer: Peer, make) -> None:
    with pytest.raises(InvalidParameterValue, match="JSON"):
        make(peer.url).call("POST", "/x", {"timestamp": -(2**63) - 1})
    assert encode({"a": 2**63 - 1}) == b'{"a":9223372036854775807}'
    assert peer.requests == []


def test_base_url_prefix_and_trailing_slash(peer: Peer, make) -> None:
    make(peer.url + "/prefix/").call("GET", "/api/2.0/x")
    assert peer.requests[0].path == "/prefix/api/2.0/x"


def test_user_agent_names_cairn(peer: Peer, make) -> None:
    make(peer.url).call("GET", "/x")
    assert peer.requests[0].headers["User-Agent"] == f"cairn/{__version__}"


def test_an_empty_success_body_is_an_empty_object(peer: Peer, make) -> None:
    peer.answer(body=b"")
    assert make(peer.url).call("POST", "/x") == {}


# -- credentials ----------------------------------------------------------------------------


def _authorization(peer: Peer, make, url: str | None = None) -> str | None:
    make(url or peer.url).call("GET", "/x")
    return peer.requests[-1].headers.get("Authorization")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_no_credentials_no_header(peer: Peer, make) -> None:
    assert _authorization(peer, make) is None


def test_basic_auth_from_settings(peer: Peer, make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_TRACKING_USERNAME", "ada")
    monkeypatch.setenv("CAIRN_TRACKING_PASSWORD", "s3cret:x")
    assert _authorization(peer, make) == _basic("ada", "s3cret:x")


def test_token_wins_over_basic(peer: Peer, make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_TRACKING_USERNAME", "ada")
    monkeypatch.setenv("CAIRN_TRACKING_PASSWORD", "pw")
    monkeypatch.setenv("CAIRN_TRACKING_TOKEN", "tok")
    assert _authorization(peer, make) == "Bearer tok"


def test_mlflow_variables_are_fallbacks(peer: Peer, make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "from-mlflow")
    assert _authorization(peer, make) == "Bearer from-mlflow"
    monkeypatch.setenv("CAIRN_TRACKING_TOKEN", "from-cairn")
    assert _authorization(peer, make) == "Bearer from-cairn"


def test_settings_are_read_per_request(peer: Peer, make, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = make(peer.url)
    transport.call("GET", "/x")
    monkeypatch.setenv("CAIRN_TRACKING_TOKEN", "rotated")
    transport.call("GET", "/x")
    assert [r.headers.get("Authorization") for r in peer.requests] == [None, "Bearer rotated"]


def test_userinfo_in_the_url_is_used_and_never_shown(peer: Peer, make) -> None:
    url = peer.url.replace("http://", "http://ada:top%20secret@")
    assert _authorization(peer, make, url) == _basic("ada", "top secret")
    transport = make(url)
    assert "secret" not in repr(transport) and "secret" not in transport.base_url
    peer.answer(500, b"boom", headers={"Content-Type": "text/plain"})
    with pytest.raises(RestError) as caught:
        transport.call("GET", "/x")
    assert "secret" not in str(caught.value)


def test_explicit_credentials_are_not_in_repr() -> None:
    shown = repr(Credentials(token="tok-123", username="ada", password="pw-456"))
    assert "tok-123" not in shown and "pw-456" not in shown


# -- retries --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_idempotent_requests_retry_on_429_and_503(peer: Peer, make, waits, status: int) -> None:
    peer.answer(status, b"busy", headers={"Content-Type": "text/plain"})
    peer.answer(status, b"busy", headers={"Content-Type": "text/plain"})
    peer.answer(body=b'{"ok": true}')
    assert make(peer.url).call("GET", "/x", idempotent=True) == {"ok": True}
    assert len(peer.requests) == 3
    # Exponential with "equal jitter": the n-th wait lies in [b * 2^n / 2, b * 2^n].
    assert 0.25 <= waits[0] <= 0.5 and 0.5 <= waits[1] <= 1.0


def test_retry_after_is_honoured_and_capped(peer: Peer, make, waits) -> None:
    peer.answer(429, headers={"Retry-After": "2"})
    peer.answer(503, headers={"Retry-After": "86400"})
    make(peer.url).call("POST", "/x", idempotent=True)
    assert waits == [2.0, 60.0]


def test_retry_after_as_an_http_date() -> None:
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 <= (parse_retry_after(format_datetime(later, usegmt=True)) or 0) <= 30
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_non_idempotent_requests_are_not_retried(peer: Peer, make, waits) -> None:
    peer.answer(503, b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "db down"}')
    with pytest.raises(TemporarilyUnavailable, match="db down"):
        make(peer.url).call("POST", "/x", idempotent=False)
    assert len(peer.requests) == 1 and waits == []


def test_retries_give_up_with_the_last_answer(peer: Peer, make, waits) -> None:
    for _ in range(3):
        peer.answer(429, b'{"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "slow down"}')
    with pytest.raises(RequestTooLarge, match="slow down"):
        make(peer.url, retries=2).call("GET", "/x", idempotent=True)
    assert len(peer.requests) == 3 and len(waits) == 2


def test_other_errors_are_not_retried(peer: Peer, make, waits) -> None:
    peer.answer(500, b'{"error_code": "INTERNAL_ERROR", "message": "bug"}')
    with pytest.raises(RestError, match="bug"):
        make(peer.url).call("GET", "/x", idempotent=True)
    assert len(peer.requests) == 1 and waits == []


@pytest.mark.parametrize("idempotent", [True, False])
def test_connection_refused_is_retried_then_unreachable(make, waits, idempotent: bool) -> None:
    # Nothing was sent when the connection is refused, so even a create may be retried.
    url = f"http://127.0.0.1:{_unused_port()}"
    with pytest.raises(ServerUnreachable, match="after 3 retries") as caught:
        make(url).call("POST", "/api/2.0/mlflow/runs/create", idempotent=idempotent)
    assert len(waits) == 3
    assert url in str(caught.value) and isinstance(caught.value, TemporarilyUnavailable)


def test_the_server_coming_up_during_retries() -> None:
    port = _unused_port()
    started: list[Peer] = []

    def sleep(seconds: float) -> None:
        if not started:  # the server appears while the client backs off
            started.append(Peer(port=port))

    transport = HttpTransport(
        f"http://127.0.0.1:{port}", retry=RetryPolicy(max_retries=3, sleep=sleep)
    )
    try:
        assert transport.call("POST", "/api/2.0/mlflow/runs/create") == {}
    finally:
        transport.close()
        for peer in started:
            peer.stop()


def test_a_dropped_download_is_retried_from_the_start(peer: Peer, make, tmp_path: Path) -> None:
    payload = os.urandom(50_000)
    peer.answer(body=payload, headers={}, truncate_at=1000)
    peer.answer(body=payload, headers={})
    target = tmp_path / "file.bin"
    make(peer.url).download("/file", target)
    assert target.read_bytes() == payload
    assert list(tmp_path.iterdir()) == [target]


# -- errors ---------------------------------------------------------------------------------


def test_json_errors_map_to_their_class(peer: Peer, make) -> None:
    body = {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run x not found", "sqlstate": "x"}
    peer.answer(404, orjson.dumps(body))
    with pytest.raises(ResourceDoesNotExist, match=r"^Run x not found$"):
        make(peer.url).call("GET", "/x")


def test_unknown_error_codes_keep_code_and_status(peer: Peer, make) -> None:
    peer.answer(504, b'{"error_code": "DEADLINE_EXCEEDED", "message": "too slow"}')
    with pytest.raises(RestError) as caught:
        make(peer.url).call("GET", "/x")
    assert caught.value.error_code == "DEADLINE_EXCEEDED" and caught.value.http_status == 504


def test_an_html_404_is_a_missing_endpoint_not_a_missing_resource(peer: Peer, make) -> None:
    peer.answer(404, "<html><h1>Not   Found</h1></html>", headers={"Content-Type": "text/html"})
    with pytest.raises(EndpointNotFound) as caught:
        make(peer.url).call("GET", "/api/2.0/mlflow/nope")
    message = str(caught.value)
    assert f"{peer.url}/api/2.0/mlflow/nope" in message and "HTTP 404" in message
    assert "<html><h1>Not Found</h1></html>" in message
    assert not isinstance(caught.value, ResourceDoesNotExist)


@pytest.mark.parametrize(
    "status, expected",
    [(400, "BAD_REQUEST"), (401, "UNAUTHENTICATED"), (405, "ENDPOINT_NOT_FOUND"),
     (502, "INTERNAL_ERROR"), (418, "BAD_REQUEST")],
)  # fmt: skip
def test_non_json_errors_map_by_status(peer: Peer, make, status: int, expected: str) -> None:
    peer.answer(status, b'{"detail": "x"}')
    with pytest.raises(Exception) as caught:
        make(peer.url).call("GET", "/x")
    assert caught.value.error_code == expected  # type: ignore[attr-defined]
    if status == 401:
        assert isinstance(caught.value, Unauthenticated)


def test_long_bodies_are_cut_in_messages(peer: Peer, make) -> None:
    peer.answer(502, "x" * 5000, headers={"Content-Type": "text/plain"})
    with pytest.raises(RestError) as caught:
        make(peer.url).call("GET", "/x")
    assert len(str(caught.value)) < 400


def test_a_success_that_is_not_json(peer: Peer, make) -> None:
    peer.answer(200, "<html>login</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(EndpointNotFound, match="without a JSON object"):
        make(peer.url).call("GET", "/x")


def test_redirects_say_where_to(peer: Peer, make) -> None:
    peer.answer(301, b"", headers={"Location": "https://elsewhere/"})
    with pytest.raises(Exception, match="https://elsewhere/"):
        make(peer.url).call("GET", "/x")


def test_only_http_urls_are_accepted() -> None:
    with pytest.raises(InvalidParameterValue, match="http"):
        HttpTransport("sqlite:///x.db")


# -- connections ----------------------------------------------------------------------------


def test_connections_are_reused(peer: Peer, make) -> None:
    transport = make(peer.url)
    for _ in range(5):
        transport.call("GET", "/x")
        transport.call("POST", "/y", {"a": 1})
    assert len({r.client_port for r in peer.requests}) == 1


def test_close_then_use_again(peer: Peer, make) -> None:
    transport = make(peer.url)
    transport.call("GET", "/x")
    transport.close()
    transport.call("GET", "/x")
    assert len(peer.requests) == 2


def test_one_transport_serves_many_threads(peer: Peer, make) -> None:
    transport = make(peer.url)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(20):
                transport.call("POST", "/x", {"thread": i, "n": j})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(peer.requests) == 160


def test_a_mock_transport_replaces_the_network() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"path": request.url.path})

    transport = HttpTransport("http://server:1/p", transport=httpx.MockTransport(handler))
    assert transport.call("GET", "/x") == {"path": "/p/x"}


# -- streaming ------------------------------------------------------------------------------


def test_upload_streams_a_file(peer: Peer, make, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    with source.open("wb") as f:
        for _ in range(24):
            f.write(os.urandom(1 << 20))
    moved: list[int] = []
    transport = make(peer.url)
    tracemalloc.start()
    try:
        transport.upload("/a/big.bin", source, content_type="x/y", progress=moved.append)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (seen,) = peer.requests
    assert seen.method == "PUT" and seen.path == "/a/big.bin"
    assert seen.headers["Content-Length"] == str(24 << 20)
    assert seen.headers["Content-Type"] == "x/y"
    assert seen.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert sum(moved) == 24 << 20
    assert peak < 8 << 20, f"upload held {peak} bytes at once"


def test_an_empty_file_uploads(peer: Peer, make, tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    make(peer.url).upload("/empty", tmp_path / "empty")
    assert peer.requests[0].size == 0 and peer.requests[0].headers["Content-Length"] == "0"


def test_download_streams_to_the_file(peer: Peer, make, tmp_path: Path) -> None:
    payload = os.urandom(3 << 20)
    peer.answer(body=payload, headers={"Content-Type": "application/octet-stream"})
    moved: list[int] = []
    make(peer.url).download("/f", tmp_path / "f", progress=moved.append)
    assert (tmp_path / "f").read_bytes() == payload and sum(moved) == len(payload)


def test_a_failed_download_leaves_nothing(peer: Peer, make, tmp_path: Path) -> None:
    peer.answer(404, b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "gone"}')
    with pytest.raises(ResourceDoesNotExist):
        make(peer.url).download("/f", tmp_path / "f")
    assert list(tmp_path.iterdir()) == []


def test_read_returns_a_seekable_stream(peer: Peer, make) -> None:
    peer.answer(body=b"hello", headers={})
    with make(peer.url).read("/f") as stream:
        assert stream.read() == b"hello"


def test_retry_policy_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_HTTP_REQUEST_MAX_RETRIES", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0.1")
    policy = RetryPolicy.from_settings()
    assert policy.max_retries == 2 and policy.backoff_factor == 0.1
    assert 0.05 <= policy.wait(0) <= 0.1 and 0.2 <= policy.wait(2) <= 0.4


def test_timeout_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_HTTP_REQUEST_TIMEOUT", "7")
    assert HttpTransport("http://h:1").timeout == 7.0
