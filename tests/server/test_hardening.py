"""Bad input, concurrent writers and a killed server (security corpus §4 and §8).

Every malformed or oversized request must get a 4xx with MLflow's error body (never a 5xx,
which MLflow clients retry for minutes), must name what was wrong, and must leave the store
unchanged. Writers hammering one SQLite file must all succeed, and everything the server
acknowledged must survive `kill -9`.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterator
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from cairn import settings
from tests.conftest import BACKENDS, database_uri

API = "/api/2.0/mlflow"
JSON = {"content-type": "application/json"}


def unique(stem: str = "x") -> str:
    return f"{stem}-{uuid.uuid4().hex[:12]}"


def error(response: httpx.Response, status: int, code: str, *mentions: str) -> str:
    assert response.status_code == status, (response.request.url, response.text[:500])
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error_code"] == code, body
    message = str(body["message"])
    for text in mentions:
        assert text in message, message
    return message


def invalid(response: httpx.Response, *mentions: str) -> str:
    return error(response, 400, "INVALID_PARAMETER_VALUE", *mentions)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, (response.request.url, response.text[:500])
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def http(live_server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url + API, timeout=60) as client:
        yield client


def new_experiment(http: httpx.Client, name: str | None = None) -> str:
    return str(
        ok(http.post("/experiments/create", json={"name": name or unique()}))["experiment_id"]
    )


def new_run(http: httpx.Client, experiment_id: str = "0") -> str:
    run = ok(http.post("/runs/create", json={"experiment_id": experiment_id}))["run"]
    return str(run["info"]["run_id"])


def get_run(http: httpx.Client, run_id: str) -> dict[str, Any]:
    return ok(http.get("/runs/get", params={"run_id": run_id}))["run"]  # type: ignore[no-any-return]


def history(http: httpx.Client, run_id: str, key: str) -> list[dict[str, Any]]:
    body = ok(http.get("/metrics/get-history", params={"run_id": run_id, "metric_key": key}))
    return body.get("metrics", [])  # type: ignore[no-any-return]


def raw_request(url: str, head: bytes) -> tuple[int, bytes]:
    """Send raw request bytes and return (status, body) of the answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        header, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in header.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(header.split()[1]), body


# -- body size ------------------------------------------------------------------------------


def _padding_body(size: int) -> bytes:
    """A valid JSON object of exactly `size` bytes."""
    head, tail = b'{"filter": "", "pad": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def _chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_default_body_limit(live_server: Any, http: httpx.Client) -> None:
    limit = int(settings.SERVER_MAX_BODY_BYTES.default or 0)
    assert limit > 0
    # Declared too large: refused from the Content-Length alone, before any body is read.
    status, body = raw_request(
        live_server.url,
        b"POST /api/2.0/mlflow/runs/search HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (limit + 1),
    )
    assert status == 413
    assert json.loads(body)["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    # Chunked (no Content-Length): refused once the streamed bytes pass the limit.
    big = _padding_body(limit + 1)
    response = http.post("/runs/search", content=_chunks(big, 1 << 20), headers=JSON)
    assert response.request.headers["transfer-encoding"] == "chunked"
    error(response, 413, "REQUEST_LIMIT_EXCEEDED")
    # A body of exactly the limit is read and parsed as usual.
    response = http.post("/runs/search", content=_padding_body(limit), headers=JSON)
    assert ok(response) == {}


def test_body_limit_from_the_environment(server_factory: Any) -> None:
    """CAIRN_SERVER_MAX_BODY_BYTES sets the limit (docs/settings.md)."""
    limit = 2048
    server = server_factory(env={"CAIRN_SERVER_MAX_BODY_BYTES": str(limit)})
    with httpx.Client(base_url=server.url + API, timeout=30) as client:
        for size in (limit + 1, 10 * limit):
            body = _padding_body(size)
            with_length = client.post("/runs/search", content=body, headers=JSON)
            assert "content-length" in with_length.request.headers
            error(with_length, 413, "REQUEST_LIMIT_EXCEEDED")
            chunked = client.post("/runs/search", content=_chunks(body, 512), headers=JSON)
            assert chunked.request.headers["transfer-encoding"] == "chunked"
            error(chunked, 413, "REQUEST_LIMIT_EXCEEDED")
        assert ok(client.post("/runs/search", content=_padding_body(limit), headers=JSON)) == {}
        chunked_ok = client.post(
            "/runs/search", content=_chunks(_padding_body(limit), 100), headers=JSON
        )
        assert ok(chunked_ok) == {}
        # Nothing was half-done: the server still answers normally.
        assert client.get(server.url + "/health").status_code == 200


def test_connections_beyond_the_limit_are_answered_503_and_closed(server_factory: Any) -> None:
    """CAIRN_SERVER_MAX_CONNECTIONS bounds the connections a server process holds open (each
    a file descriptor): one more is answered 503 at once and closed, while those it has go on
    being served, and a connection closed makes room for a new one."""
    server = server_factory(env={"CAIRN_SERVER_MAX_CONNECTIONS": "3"})
    parts = urlsplit(server.url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)

    def health(conn: HTTPConnection) -> int:
        conn.request("GET", "/health")
        answer = conn.getresponse()
        answer.read()
        return answer.status

    held = [HTTPConnection(*address, timeout=10) for _ in range(3)]
    try:
        assert [health(conn) for conn in held] == [200, 200, 200]  # all three open and kept
        with socket.create_connection(address, timeout=10) as extra:
            answer = b""
            while chunk := extra.recv(4096):  # the server closes it after answering
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in head
        assert json.loads(body)["error_code"] == "TEMPORARILY_UNAVAILABLE"
        assert [health(conn) for conn in held] == [200, 200, 200]
        held.pop().close()
        deadline = time.monotonic() + 10
        while True:  # the server notices the closed connection within a moment
            fresh = HTTPConnection(*address, timeout=10)
            try:
                if health(fresh) == 200:
                    break
            except (OSError, HTTPException):
                pass
            finally:
                fresh.close()
            assert time.monotonic() < deadline, "no room was made"
            time.sleep(0.05)
    finally:
        for conn in held:
            conn.close()


# -- malformed and mistyped JSON --------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"name": }',
        b"{'name': 'x'}",
        b'{"name": "x",}',
        b'{"name": "x"} trailing',
        b'{"name": "x"}{"name": "y"}',
        b"\xff\xfe{}",
        b'{"name": "\xc3\x28"}',
        b'{"name": "\\ud800"}',
        b'{"name": "\\x41"}',
        b"\x00",
        b'{"max_results": 1e99999}',
        b'"{"',  # a JSON string whose content is not JSON
        b"[" * 100_000,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
    ],
)
def test_malformed_json_is_400(http: httpx.Client, body: bytes) -> None:
    invalid(http.post("/experiments/create", content=body, headers=JSON))


def test_deeply_nested_values_in_fields(http: httpx.Client) -> None:
    deep: Any = "x"
    for _ in range(500):
        deep = {"a": deep}
    invalid(http.post("/experiments/create", json={"name": deep}), "name")
    deep_list: Any = "x"
    for _ in range(500):
        deep_list = [deep_list]
    invalid(http.post("/runs/search", json={"experiment_ids": deep_list}), "experiment_ids")
    # Nested where a message is expected: tags[0].value must be a string.
    response = http.post(
        "/experiments/create", json={"name": unique(), "tags": [{"key": "k", "value": deep}]}
    )
    invalid(response, "tags[0].value")
    # Deep nesting in a field the server ignores is harmless.
    name = unique("deep")
    response = http.post("/experiments/create", json={"name": name, "ignored": deep})
    assert response.status_code in (200, 400), response.text
    # Very wide input is fine too.
    wide = {f"k{i}": i for i in range(50_000)} | {"name": unique("wide")}
    assert http.post("/experiments/create", json=wide).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/experiments/search", {"max_results": "abc"}, "max_results"),
        ("/experiments/search", {"max_results": True}, "max_results"),
        ("/experiments/search", {"max_results": 1.5}, "max_results"),
        ("/experiments/search", {"max_results": "NaN"}, "max_results"),
        ("/experiments/search", {"max_results": "Infinity"}, "max_results"),
        ("/experiments/search", {"max_results": "\u00b2"}, "max_results"),  # superscript 2
        ("/runs/create", {"start_time": "\u2460"}, "start_time"),  # circled digit 1
        ("/experiments/search", {"max_results": [1]}, "max_results"),
        ("/experiments/search", {"max_results": {"v": 1}}, "max_results"),
        ("/experiments/search", {"max_results": 10, "order_by": "name"}, "order_by"),
        ("/experiments/search", {"max_results": 10, "order_by": [1]}, "order_by"),
        ("/experiments/search", {"max_results": 10, "filter": 5}, "filter"),
        ("/experiments/search", {"max_results": 10, "view_type": True}, "view_type"),
        ("/experiments/create", {"name": 5}, "name"),
        ("/experiments/create", {"name": True}, "name"),
        ("/experiments/create", {"name": ["x"]}, "name"),
        ("/experiments/create", {"name": None}, "name"),
        ("/experiments/create", {"name": "x", "tags": {"key": "k"}}, "tags"),
        ("/experiments/create", {"name": "x", "tags": ["k"]}, "tags[0]"),
        ("/experiments/create", {"name": "x", "tags": [{"key": 1}]}, "tags[0].key"),
        ("/runs/search", {"experiment_ids": {}}, "experiment_ids"),
        ("/runs/search", {"experiment_ids": "0"}, "experiment_ids"),
        ("/runs/search", {"experiment_ids": [0]}, "experiment_ids[0]"),
        ("/runs/search", {"max_results": "many"}, "max_results"),
        ("/runs/create", {"start_time": "yesterday"}, "start_time"),
        ("/runs/create", {"start_time": False}, "start_time"),
        ("/runs/create", {"start_time": "NaN"}, "start_time"),
        ("/runs/create", {"experiment_id": 0}, "experiment_id"),
        ("/runs/log-metric", {"run_id": "r", "key": "m", "value": True, "timestamp": 1}, "value"),
        ("/runs/log-metric", {"run_id": "r", "key": "m", "value": "1,5", "timestamp": 1}, "value"),
        ("/runs/log-metric", {"run_id": "r", "key": "m", "value": {}, "timestamp": 1}, "value"),
        (
            "/runs/log-metric",
            {"run_id": "r", "key": "m", "value": 1, "timestamp": "NaN"},
            "timestamp",
        ),
        (
            "/runs/log-metric",
            {"run_id": "r", "key": "m", "value": 1, "timestamp": 1.5},
            "timestamp",
        ),
        (
            "/runs/log-metric",
            {"run_id": "r", "key": "m", "value": 1, "timestamp": 1, "step": "x"},
            "step",
        ),
        ("/runs/log-batch", {"run_id": "r", "metrics": {"key": "m"}}, "metrics"),
        (
            "/runs/log-batch",
            {"run_id": "r", "metrics": [{"key": "m", "value": False, "timestamp": 1}]},
            "metrics[0].value",
        ),
        (
            "/runs/log-batch",
            {"run_id": "r", "metrics": [{"key": "m", "value": 1, "timestamp": 1}, 7]},
            "metrics[1]",
        ),
        (
            "/runs/log-batch",
            {"run_id": "r", "params": [{"key": "p", "value": 1}]},
            "params[0].value",
        ),
        ("/runs/log-batch", {"run_id": ["r"]}, "run_id"),
        ("/runs/update", {"run_id": "r", "end_time": "later"}, "end_time"),
        ("/runs/update", {"run_id": "r", "status": 3}, "status"),
        ("/runs/set-tag", {"run_id": "r", "key": "k", "value": 3}, "value"),
    ],
)
def test_wrong_types_are_400_naming_the_field(
    http: httpx.Client, path: str, body: dict[str, Any], field: str
) -> None:
    invalid(http.post(path, json=body), field)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/experiments/search", {"max_results": 10**30}),
        ("/experiments/search", {"max_results": 2**63}),
        ("/experiments/search", {"max_results": -(2**63) - 1}),
        ("/experiments/search", {"max_results": 2**62}),
        ("/experiments/search", {"max_results": "99999999999999999999999"}),
        ("/runs/search", {"max_results": 2**31}),
        ("/runs/search", {"max_results": 2**40}),
        ("/runs/search", {"max_results": 50_001}),
        ("/runs/search", {"max_results": -1}),
    ],
)
def test_huge_max_results_are_400(http: httpx.Client, path: str, body: dict[str, Any]) -> None:
    invalid(http.post(path, json=body), "max_results")


@pytest.mark.parametrize(
    "value", ["99999999999999999999999", str(2**31), "-5", "0", "1e3", "0x10", "\u00b2", ""]
)
def test_bad_max_results_in_query_strings(http: httpx.Client, value: str) -> None:
    invalid(http.get("/experiments/search", params={"max_results": value}), "max_results")
    params = {"run_id": "0" * 32, "metric_key": "m", "max_results": value}
    invalid(http.get("/metrics/get-history", params=params), "max_results")


# -- limits on names, keys and values (spec §7) ---------------------------------------------------


def test_experiment_name_and_tag_limits(http: httpx.Client) -> None:
    stem = unique("n")
    ok(http.post("/experiments/create", json={"name": stem + "x" * (500 - len(stem))}))
    invalid(http.post("/experiments/create", json={"name": stem + "y" * (501 - len(stem))}), "500")
    invalid(http.post("/experiments/create", json={"name": "   "}))
    experiment_id = new_experiment(http)
    path = "/experiments/set-experiment-tag"
    ok(
        http.post(
            path, json={"experiment_id": experiment_id, "key": "k" * 250, "value": "v" * 20000}
        )
    )
    invalid(http.post(path, json={"experiment_id": experiment_id, "key": "k" * 251, "value": "v"}))
    invalid(
        http.post(path, json={"experiment_id": experiment_id, "key": "k", "value": "v" * 20001}),
        "20000",
    )
    too_long_tag = {"name": unique(), "tags": [{"key": "k", "value": "v" * 20001}]}
    invalid(http.post("/experiments/create", json=too_long_tag))
    experiment = ok(http.get("/experiments/get", params={"experiment_id": experiment_id}))
    assert experiment["experiment"]["tags"] == [{"key": "k" * 250, "value": "v" * 20000}]


def test_key_limits_and_characters(http: httpx.Client) -> None:
    run_id = new_run(http, new_experiment(http))

    def writes(key: str) -> list[httpx.Response]:
        metric = {"key": key, "value": 1, "timestamp": 1}
        return [
            http.post("/runs/log-metric", json={"run_id": run_id, **metric}),
            http.post("/runs/log-parameter", json={"run_id": run_id, "key": key, "value": "v"}),
            http.post("/runs/set-tag", json={"run_id": run_id, "key": key, "value": "v"}),
            http.post("/runs/log-batch", json={"run_id": run_id, "metrics": [metric]}),
            http.post(
                "/runs/log-batch", json={"run_id": run_id, "params": [{"key": key, "value": "v"}]}
            ),
            http.post(
                "/runs/log-batch", json={"run_id": run_id, "tags": [{"key": key, "value": "v"}]}
            ),
        ]

    for good in ("k" * 250, "a/b c:d-e.f_g", "\u00e9t\u00e9", "x"):
        assert [r.status_code for r in writes(good)] == [200] * 6, good
    bad_keys = [
        "k" * 251,
        "a\x00b",
        "a$b",
        "a\nb",
        "../x",
        "a/../b",
        "/abs",
        "a//b",
        "./a",
        "a/",
        "..",
    ]
    for bad in bad_keys:
        for response in writes(bad):
            invalid(response)
    run = get_run(http, run_id)
    stored = {m["key"] for m in run["data"]["metrics"]}
    assert stored == {"k" * 250, "a/b c:d-e.f_g", "\u00e9t\u00e9", "x"}


def test_long_param_and_tag_values_are_truncated(http: httpx.Client) -> None:
    """Spec §7: param values over 6000 and tag values over 8000 characters are cut, not refused."""
    run_id = new_run(http, new_experiment(http))
    ok(http.post("/runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "a" * 7000}))
    ok(http.post("/runs/set-tag", json={"run_id": run_id, "key": "t", "value": "b" * 9000}))
    batch = {
        "run_id": run_id,
        "params": [{"key": "q", "value": "c" * 6001}],
        "tags": [{"key": "u", "value": "d" * 8001}],
    }
    ok(http.post("/runs/log-batch", json=batch))
    run = get_run(http, run_id)
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert (params["p"], params["q"]) == ("a" * 6000, "c" * 6000)
    assert (tags["t"], tags["u"]) == ("b" * 8000, "d" * 8000)
    # Logging the same long value again is the same (truncated) value, not a change.
    ok(http.post("/runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "a" * 7000}))


# -- names (security corpus §4) ----------------------------------------------------------------


def test_experiment_names_are_data_not_paths(live_server: Any, http: httpx.Client) -> None:
    base = unique("Name")
    variants = [
        base,
        base + "%2F..%2Fescape",
        base + "/../../etc",
        base + "%00",
        base + "%2500",
        base + unicodedata.normalize("NFC", "\u00e9"),
    ]
    ids = [new_experiment(http, name) for name in variants]
    # Invisible differences and look-alikes of an existing name are refused
    # (tests/store/test_experiment_names.py has the rules).
    for name in (base + " ", base + "  ", " " + base, base + "\t", base + "\u200b"):
        invalid(http.post("/experiments/create", json={"name": name}))
    look_alikes = (
        base.lower(),
        base.upper(),
        base + unicodedata.normalize("NFD", "\u00e9"),
        base.replace("N", "\u039d"),  # Greek capital nu looks like N
    )
    for name in look_alikes:
        response = http.post("/experiments/create", json={"name": name})
        error(response, 400, "RESOURCE_ALREADY_EXISTS", "too similar")
    assert len(set(ids)) == len(variants)
    destination = Path(live_server.artifacts_destination)
    before = sorted(p.name for p in destination.iterdir()) if destination.exists() else []
    for experiment_id, name in zip(ids, variants, strict=True):
        experiment = ok(http.get("/experiments/get", params={"experiment_id": experiment_id}))
        assert experiment["experiment"]["name"] == name
        assert experiment["experiment"]["artifact_location"] == f"mlflow-artifacts:/{experiment_id}"
        # Lookup by name is exact: a look-alike never finds another experiment.
        found = ok(http.get("/experiments/get-by-name", params={"experiment_name": name}))
        assert found["experiment"]["experiment_id"] == experiment_id, repr(name)
        run = ok(http.post("/runs/create", json={"experiment_id": experiment_id}))["run"]
        assert run["info"]["artifact_uri"].startswith(f"mlflow-artifacts:/{experiment_id}/")
    # A name in the raw query string is decoded once: %2F is '/', and nothing else matches.
    raw = http.get(f"/experiments/get-by-name?experiment_name={base}%2F..%252Fescape")
    error(raw, 404, "RESOURCE_DOES_NOT_EXIST")
    # Creating experiments wrote nothing under the artifact destination.
    after = sorted(p.name for p in destination.iterdir()) if destination.exists() else []
    assert after == before
    # Exact duplicates are still refused.
    for name in variants:
        error(http.post("/experiments/create", json={"name": name}), 400, "RESOURCE_ALREADY_EXISTS")


def test_search_filters_with_hostile_literals(http: httpx.Client) -> None:
    experiment_id = new_experiment(http)
    new_run(http, experiment_id)
    for literal in ("' OR '1'='1", "x'; DROP TABLE runs; --", "%", "_", "\\", "a\\'b"):
        quoted = literal.replace("'", "\\'")
        body = {"experiment_ids": [experiment_id], "filter": f"tags.k = '{quoted}'"}
        response = http.post("/runs/search", json=body)
        assert response.status_code in (200, 400), response.text
        if response.status_code == 200:
            assert response.json() == {}
    assert len(ok(http.post("/runs/search", json={"experiment_ids": [experiment_id]}))["runs"]) == 1


HOSTILE_SEARCHES: dict[str, tuple[str, dict[str, Any]]] = {
    "5000 ORs": ("/experiments/search", {"filter": " OR ".join(["name = 'a'"] * 5000)}),
    "5000 nested parentheses": (
        "/experiments/search",
        {"filter": "(" * 5000 + "name = 'a'" + ")" * 5000},
    ),
    "3000 ANDs on tags": (
        "/runs/search",
        {"filter": " AND ".join(f"tags.t{i} = 'a'" for i in range(3000))},
    ),
    "70 order_by tag clauses": ("/runs/search", {"order_by": [f"tags.t{i}" for i in range(70)]}),
    "3000 order_by clauses": ("/runs/search", {"order_by": [f"params.p{i}" for i in range(3000)]}),
    "start_time beyond int64": (
        "/runs/search",
        {"filter": "attributes.start_time > 99999999999999999999999999"},
    ),
    "start_time below int64": (
        "/runs/search",
        {"filter": "attributes.start_time < -99999999999999999999999999"},
    ),
    "creation_time beyond int64": (
        "/experiments/search",
        {"filter": "creation_time > 99999999999999999999999999"},
    ),
    "metric beyond double": ("/runs/search", {"filter": "metrics.m > 1e999"}),
    "100000-item IN list": (
        "/runs/search",
        {"filter": "run_name IN (" + ",".join(f"'{i}'" for i in range(100_000)) + ")"},
    ),
    "200000 experiment ids": ("/runs/search", {"experiment_ids": [str(i) for i in range(200_000)]}),
    "long order_by key": ("/runs/search", {"order_by": ["metrics.`" + "a" * 10_000 + "` DESC"]}),
}


# Server bugs found by this test, still open: each of these is a 500 today.
@pytest.mark.parametrize(
    "case",
    sorted(HOSTILE_SEARCHES),
)
def test_hostile_searches_are_never_a_server_error(http: httpx.Client, case: str) -> None:
    """Search input a client controls must be answered (200) or refused (400), never a 500:
    parser recursion, the database's expression-depth and join limits and integer overflow
    are all the client's doing."""
    path, body = HOSTILE_SEARCHES[case]
    experiment_id = new_experiment(http)
    if path == "/runs/search":
        body = {"experiment_ids": [experiment_id], **body}
    else:
        body = {"max_results": 10, **body}
    response = http.post(path, json=body)
    assert response.status_code in (200, 400), (case, response.status_code, response.text[:300])
    if response.status_code == 400:
        invalid(response)


@pytest.mark.parametrize("backend", BACKENDS)
def test_values_a_database_cannot_store_are_never_a_server_error(
    backend: str, server_factory: Any, tmp_path: Path
) -> None:
    """Strings the database would refuse are the server's to refuse (400) or store exactly.

    PostgreSQL cannot store NUL in text; PostgreSQL and MySQL enforce column sizes that SQLite
    ignores (run name 250, user id 256, dataset source type 36, artifact location 2000
    characters; MySQL's TEXT holds 65,535 bytes, fewer than 20,000 four-byte characters).
    """
    server = server_factory(backend_uri=database_uri(backend, tmp_path))
    # No keep-alive: after a 500 the server may drop the connection.
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=server.url + API, timeout=30, limits=limits) as client:
        experiment_id = new_experiment(client)
        run_id = new_run(client, experiment_id)
        nul = "a\x00b"
        emoji = "\U0001f600"
        requests: list[tuple[str, str, dict[str, Any]]] = [
            ("POST", "/experiments/create", {"name": unique(nul)}),
            ("POST", "/experiments/update", {"experiment_id": experiment_id, "new_name": nul}),
            (
                "POST",
                "/experiments/set-experiment-tag",
                {"experiment_id": experiment_id, "key": "k", "value": nul},
            ),
            ("POST", "/runs/create", {"experiment_id": experiment_id, "run_name": nul}),
            ("POST", "/runs/create", {"experiment_id": experiment_id, "user_id": nul}),
            ("POST", "/runs/update", {"run_id": run_id, "run_name": nul}),
            ("POST", "/runs/set-tag", {"run_id": run_id, "key": "t", "value": nul}),
            ("POST", "/runs/log-parameter", {"run_id": run_id, "key": "p", "value": nul}),
            ("POST", "/runs/log-batch", {"run_id": run_id, "tags": [{"key": "u", "value": nul}]}),
            (
                "POST",
                "/runs/search",
                {"experiment_ids": [experiment_id], "filter": f"tags.t = '{nul}'"},
            ),
            ("POST", "/experiments/search", {"max_results": 5, "filter": f"name = '{nul}'"}),
            ("GET", "/experiments/get-by-name", {"experiment_name": nul}),
            ("GET", "/runs/get", {"run_id": nul}),
            ("GET", "/metrics/get-history", {"run_id": run_id, "metric_key": nul}),
            ("POST", "/runs/delete-tag", {"run_id": run_id, "key": nul}),
            # column sizes
            ("POST", "/runs/create", {"experiment_id": experiment_id, "run_name": "r" * 251}),
            ("POST", "/runs/create", {"experiment_id": experiment_id, "user_id": "u" * 257}),
            ("POST", "/runs/update", {"run_id": run_id, "run_name": "r" * 251}),
            (
                "POST",
                "/runs/set-tag",
                {"run_id": run_id, "key": "mlflow.runName", "value": "r" * 251},
            ),
            (
                "POST",
                "/runs/log-inputs",
                {
                    "run_id": run_id,
                    "datasets": [
                        {"dataset": {"name": "d", "digest": "x", "source_type": "s" * 37}}
                    ],
                },
            ),
            (
                "POST",
                "/experiments/create",
                {"name": unique(), "artifact_location": "mlflow-artifacts:/" + "a/" * 1100},
            ),
            (
                "POST",
                "/experiments/set-experiment-tag",
                {"experiment_id": experiment_id, "key": "wide", "value": emoji * 20000},
            ),
        ]
        failures = []
        for method, path, body in requests:
            if method == "GET":
                response = client.get(path, params=body)
            else:
                response = client.post(path, json=body)
            shown = {
                k: (v if len(repr(v)) < 60 else f"<{len(repr(v))} chars>") for k, v in body.items()
            }
            if response.status_code >= 500:
                failures.append(f"{method} {path} {shown} -> {response.status_code}")
            elif response.status_code not in (200, 400, 404):
                failures.append(f"{method} {path} {shown} -> unexpected {response.status_code}")
        assert not failures, "\n".join(failures)
        # Whatever was accepted reads back exactly.
        run = get_run(client, run_id)
        for tag in run["data"].get("tags", []):
            if tag["key"] in ("t", "u"):
                assert tag["value"] == nul
        experiment = ok(client.get("/experiments/get", params={"experiment_id": experiment_id}))
        for tag in experiment["experiment"].get("tags", []):
            if tag["key"] == "wide":
                assert tag["value"] == emoji * 20000


# -- concurrency and durability ---------------------------------------------------------------

WRITERS = 16
BATCHES = 8
POINTS = 50


def _batch(writer: int, batch: int, shared: bool) -> dict[str, Any]:
    """Batch `batch` of writer `writer`: its own metric steps, a param and a tag."""
    prefix = f"w{writer}"
    return {
        "metrics": [
            {
                "key": f"{prefix}.m{i % 3}",
                "value": writer * 1000.0 + batch + i / 100,
                "timestamp": batch,
                "step": batch * POINTS + i,
            }
            for i in range(POINTS // (5 if shared else 1))
        ],
        "params": [{"key": f"{prefix}.p{batch}", "value": str(batch)}],
        "tags": [{"key": f"{prefix}.t{batch}", "value": str(batch)}],
    }


def _assert_batches_stored(
    client: httpx.Client, run_id: str, batches: list[dict[str, Any]]
) -> None:
    run = get_run(client, run_id)
    params = {p["key"]: p["value"] for p in run["data"].get("params", [])}
    tags = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
    expected_points: dict[str, set[tuple[int, int, float]]] = {}
    for batch in batches:
        for p in batch["params"]:
            assert params.get(p["key"]) == p["value"], p
        for t in batch["tags"]:
            assert tags.get(t["key"]) == t["value"], t
        for m in batch["metrics"]:
            expected_points.setdefault(m["key"], set()).add((m["timestamp"], m["step"], m["value"]))
    for key, expected in expected_points.items():
        stored = {(p["timestamp"], p["step"], p["value"]) for p in history(client, run_id, key)}
        missing = expected - stored
        assert not missing, f"{len(missing)} acknowledged points of {key} are missing"


def test_concurrent_writers_on_sqlite(live_server: Any, http: httpx.Client) -> None:
    experiment_id = new_experiment(http)
    shared_run = new_run(http, experiment_id)
    own_runs = [new_run(http, experiment_id) for _ in range(WRITERS)]
    errors: list[str] = []
    acked: dict[str, list[dict[str, Any]]] = {run: [] for run in [shared_run, *own_runs]}
    lock = threading.Lock()
    start = threading.Barrier(WRITERS)

    def writer(index: int) -> None:
        with httpx.Client(base_url=live_server.url + API, timeout=120) as client:
            start.wait()
            for batch_no in range(BATCHES):
                targets = [(own_runs[index], _batch(index, batch_no, False))]
                if batch_no % 2 == index % 2:
                    targets.append((shared_run, _batch(index, batch_no, True)))
                for run_id, batch in targets:
                    try:
                        response = client.post("/runs/log-batch", json={"run_id": run_id, **batch})
                    except httpx.HTTPError as e:
                        with lock:
                            errors.append(f"writer {index}: {e!r}")
                        continue
                    if response.status_code != 200:
                        with lock:
                            errors.append(f"writer {index}: {response.status_code} {response.text}")
                        continue
                    with lock:
                        acked[run_id].append(batch)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not errors, errors[:5]
    assert sum(len(b) for b in acked.values()) == WRITERS * BATCHES * 3 // 2
    for run_id, batches in acked.items():
        _assert_batches_stored(http, run_id, batches)


def test_acknowledged_writes_survive_kill_9(server_factory: Any) -> None:
    first = server_factory()
    with httpx.Client(base_url=first.url + API, timeout=30) as client:
        experiment_id = new_experiment(client)
        runs = [new_run(client, experiment_id) for _ in range(4)]
    acked: dict[str, list[dict[str, Any]]] = {run: [] for run in runs}
    sent: dict[str, list[dict[str, Any]]] = {run: [] for run in runs}
    errors: list[str] = []
    enough = threading.Event()
    stop = threading.Event()
    lock = threading.Lock()

    def writer(index: int) -> None:
        run_id = runs[index]
        with httpx.Client(base_url=first.url + API, timeout=30) as client:
            for batch_no in range(100_000):
                if stop.is_set():
                    return
                batch = _batch(index, batch_no, False)
                with lock:
                    sent[run_id].append(batch)
                try:
                    response = client.post("/runs/log-batch", json={"run_id": run_id, **batch})
                except httpx.TransportError:
                    return  # the server is gone
                if response.status_code != 200:
                    with lock:
                        errors.append(f"{response.status_code} {response.text}")
                    return
                with lock:
                    acked[run_id].append(batch)
                    if sum(len(b) for b in acked.values()) >= 40:
                        enough.set()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(len(runs))]
    for thread in threads:
        thread.start()
    assert enough.wait(60), "writers made no progress"
    status = first.stop(signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(60)
    assert status == -signal.SIGKILL
    assert not errors, errors[:5]

    second = server_factory(backend_uri=first.backend_uri)
    with httpx.Client(base_url=second.url + API, timeout=30) as client:
        for run_id in runs:
            _assert_batches_stored(client, run_id, acked[run_id])
            # Batches are atomic: one cut off by the kill is wholly there or wholly absent.
            for batch in sent[run_id][len(acked[run_id]) :]:
                params = {p["key"] for p in get_run(client, run_id)["data"].get("params", [])}
                stored = batch["params"][0]["key"] in params
                points = {
                    (p["timestamp"], p["step"])
                    for m in {m["key"] for m in batch["metrics"]}
                    for p in history(client, run_id, m)
                }
                wanted = {(m["timestamp"], m["step"]) for m in batch["metrics"]}
                assert (wanted <= points) if stored else not (wanted & points)
