"""Host, Origin and reflected headers against a real server (security corpus §6).

A foreign `Host` (DNS rebinding) is refused on every kind of route, the fast path's included;
IP literals, localhost and configured names are answered. CORS headers go only to allowed
origins, and a cross-origin write from anywhere else is refused before anything is written.
Nothing from `Content-Type` or `Accept` comes back in an answer.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.server_process import ServerProcess, start_server

API = "/api/2.0/mlflow"
NAME = "cairn.example.com"
DASHBOARD = "https://dash.example.com"
EVIL = "rebind.attacker.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(
        tmp_path_factory.mktemp("headers"),
        "--allowed-hosts",
        f"{NAME},.corp.example",
        "--cors-allowed-origins",
        f"{DASHBOARD},http://localhost:3000",
    )
    yield server
    server.stop()


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def port_of(server: ServerProcess) -> int:
    return int(urlsplit(server.url).port or 0)


def new_run(http: httpx.Client) -> str:
    name = f"headers-{uuid.uuid4().hex[:10]}"
    experiment = http.post(f"{API}/experiments/create", json={"name": name}).json()
    run = http.post(f"{API}/runs/create", json={"experiment_id": experiment["experiment_id"]})
    return str(run.json()["run"]["info"]["run_id"])


def history(http: httpx.Client, run_id: str, key: str = "m") -> list[object]:
    found = http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": key})
    assert found.status_code == 200, found.text
    return list(found.json().get("metrics", []))


def assert_refused_host(response: httpx.Response, *, json_answer: bool) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    if json_answer:
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["error_code"] == "PERMISSION_DENIED"
        assert "CAIRN_ALLOWED_HOSTS" in body["message"]
        assert "--allowed-hosts" in body["message"]
    else:
        assert response.headers["content-type"].startswith("text/plain")
        assert "CAIRN_ALLOWED_HOSTS" in response.text


# -- Host --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "json_answer"),
    [
        ("GET", f"{API}/experiments/search?max_results=1", True),
        ("GET", "/ajax-api/2.0/mlflow/experiments/search?max_results=1", True),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts", True),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts/0/x.txt", True),
        ("GET", "/", False),
        ("GET", "/static/cairn.css", False),
        ("GET", "/version", False),
        ("GET", "/no/such/page", False),
    ],
)
def test_a_foreign_host_is_refused_on_every_kind_of_route(
    http: httpx.Client, method: str, path: str, json_answer: bool
) -> None:
    response = http.request(method, path, headers={"Host": EVIL})
    assert_refused_host(response, json_answer=json_answer)
    assert EVIL in response.text  # a host name is shown (quoted), to say what to configure


def test_a_foreign_host_is_refused_on_the_fast_path_and_nothing_is_written(
    http: httpx.Client,
) -> None:
    run_id = new_run(http)
    metric = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 0}
    batch = {"run_id": run_id, "metrics": [{**metric, "step": 1}]}
    # Several on one keep-alive connection: after the first, the fast path would take them.
    for _ in range(3):
        response = http.post(f"{API}/runs/log-metric", json=metric, headers={"Host": EVIL})
        assert_refused_host(response, json_answer=True)
        response = http.post(f"{API}/runs/log-batch", json=batch, headers={"Host": f"{EVIL}:80"})
        assert_refused_host(response, json_answer=True)
    assert history(http, run_id) == []
    assert http.post(f"{API}/runs/log-metric", json=metric).status_code == 200
    assert len(history(http, run_id)) == 1


def test_the_refusal_does_not_reflect_markup_from_the_host_header(http: httpx.Client) -> None:
    for host in ('x"><script>alert(1)</script>', "evil.example<b>", "e\tvil"):
        for path in ("/", f"{API}/experiments/search"):
            response = http.get(path, headers={"Host": host})
            assert response.status_code == 403
            assert "<" not in response.text and "script" not in response.text
            assert "not a host name" in response.text


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.1:{port}",
        "LOCALHOST:{port}",
        "localhost",
        "[::1]:{port}",
        "10.20.30.40:{port}",
        "192.168.1.9",
        "cairn",  # names without a dot: a Compose service, a Kubernetes short name
        "mlflow-server:{port}",
        "app.localhost:{port}",
        NAME,
        f"{NAME.upper()}:{{port}}",
        f"{NAME}.",
        "corp.example",
        "ml.corp.example:8443",
    ],
)
def test_ip_literals_localhost_and_configured_names_are_answered(
    server: ServerProcess, http: httpx.Client, host: str
) -> None:
    header = host.format(port=port_of(server))
    response = http.get(
        f"{API}/experiments/search", params={"max_results": 1}, headers={"Host": header}
    )
    assert response.status_code == 200, (header, response.text)
    response = http.post(
        f"{API}/experiments/search", json={"max_results": 1}, headers={"Host": header}
    )
    assert response.status_code == 200, (header, response.text)


@pytest.mark.parametrize("host", ["evilcorp.example", "corp.example.evil", f"x{NAME}"])
def test_names_only_look_alike_are_refused(http: httpx.Client, host: str) -> None:
    response = http.get(f"{API}/experiments/search", headers={"Host": host})
    assert_refused_host(response, json_answer=True)


def test_health_answers_under_any_host_for_load_balancers(http: httpx.Client) -> None:
    response = http.get("/health", headers={"Host": EVIL})
    assert response.status_code == 200 and response.text == "OK"


def test_a_request_without_a_host_header_is_answered(server: ServerProcess) -> None:
    """HTTP/1.0 has no Host; browsers (the only clients DNS rebinding can use) always send one."""
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=10) as sock:
        sock.sendall(f"GET {API}/experiments/search?max_results=1 HTTP/1.0\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_the_default_allows_ip_literals_localhost_and_dotless_names_only(
    live_server: ServerProcess,
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        for host in ("localhost:5000", "cairn:5000", "10.0.0.1"):
            assert http.get("/version", headers={"Host": host}).status_code == 200
        response = http.get(f"{API}/experiments/search", headers={"Host": NAME})
        assert_refused_host(response, json_answer=True)
        # No CORS by default: a preflight from anywhere is refused.
        preflight = http.options(
            f"{API}/runs/create",
            headers={"Origin": DASHBOARD, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 403
        assert "access-control-allow-origin" not in preflight.headers


def test_the_rules_hold_with_several_workers(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--workers", "2")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for _ in range(6):  # enough connections to meet both workers
                with httpx.Client(base_url=server.url, timeout=30) as fresh:
                    response = fresh.get(f"{API}/experiments/search", headers={"Host": EVIL})
                    assert_refused_host(response, json_answer=True)
                    refused = fresh.post(
                        f"{API}/experiments/create",
                        json={"name": "cross-origin"},
                        headers={"Origin": "https://elsewhere.example"},
                    )
                    assert refused.status_code == 403
            got = http.get(
                f"{API}/experiments/get-by-name", params={"experiment_name": "cross-origin"}
            )
            assert got.status_code == 404
    finally:
        server.stop()


# -- CORS and cross-origin writes ---------------------------------------------------------------
def test_a_preflight_from_an_allowed_origin_is_answered(http: httpx.Client) -> None:
    response = http.options(
        f"{API}/runs/log-metric",
        headers={
            "Origin": DASHBOARD,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == DASHBOARD
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "content-type" in allowed and "authorization" in allowed
    assert "access-control-allow-credentials" not in response.headers
    assert "origin" in response.headers["vary"].lower()


@pytest.mark.parametrize("origin", ["https://elsewhere.example", "null", f"http://{NAME}.evil"])
def test_a_preflight_from_any_other_origin_gets_no_cors_headers(
    http: httpx.Client, origin: str
) -> None:
    response = http.options(
        f"{API}/runs/log-metric",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 403
    assert not [h for h in response.headers if h.startswith("access-control-")]


def test_answers_to_an_allowed_origin_carry_cors_headers(http: httpx.Client) -> None:
    for origin in (DASHBOARD, "http://localhost:3000"):
        response = http.get(
            f"{API}/experiments/search", params={"max_results": 1}, headers={"Origin": origin}
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
        assert "access-control-allow-credentials" not in response.headers
    run_id = new_run(http)
    metric = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 0}
    written = http.post(f"{API}/runs/log-metric", json=metric, headers={"Origin": DASHBOARD})
    assert written.status_code == 200
    assert written.headers["access-control-allow-origin"] == DASHBOARD
    assert len(history(http, run_id)) == 1


def test_reads_from_other_origins_get_no_cors_headers(http: httpx.Client) -> None:
    response = http.get(
        f"{API}/experiments/search",
        params={"max_results": 1},
        headers={"Origin": "https://elsewhere.example"},
    )
    assert response.status_code == 200  # the browser keeps it from the page
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    "origin", ["https://elsewhere.example", "null", f"http://{EVIL}", "http://127.0.0.1:1"]
)
def test_a_cross_origin_write_is_refused_and_nothing_is_written(
    http: httpx.Client, origin: str
) -> None:
    name = f"csrf-{uuid.uuid4().hex[:10]}"
    # What a form or a "simple" fetch sends without a preflight: text/plain, no credentials.
    response = http.post(
        f"{API}/experiments/create",
        content=f'{{"name": "{name}"}}',
        headers={"Origin": origin, "Content-Type": "text/plain"},
    )
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"
    assert "CAIRN_CORS_ALLOWED_ORIGINS" in response.json()["message"]
    found = http.get(f"{API}/experiments/get-by-name", params={"experiment_name": name})
    assert found.status_code == 404
    # The fast path's routes too, on a keep-alive connection.
    run_id = new_run(http)
    metric = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 0}
    for _ in range(3):
        refused = http.post(f"{API}/runs/log-metric", json=metric, headers={"Origin": origin})
        assert refused.status_code == 403
    assert history(http, run_id) == []
    deleted = http.post(f"{API}/runs/delete", json={"run_id": run_id}, headers={"Origin": origin})
    assert deleted.status_code == 403


def test_same_origin_and_origin_less_writes_are_answered(
    server: ServerProcess, http: httpx.Client
) -> None:
    run_id = new_run(http)  # no Origin: MLflow's client, curl, scripts
    metric = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 0}
    port = port_of(server)
    for step, (host, origin) in enumerate(
        [
            (f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"),
            (f"localhost:{port}", f"http://localhost:{port}"),
            (NAME, f"https://{NAME}"),  # behind a TLS proxy that passes Host on
            (NAME, f"http://{NAME}:80"),
        ]
    ):
        response = http.post(
            f"{API}/runs/log-metric",
            json={**metric, "step": step},
            headers={"Host": host, "Origin": origin},
        )
        assert response.status_code == 200, (host, origin, response.text)
        assert "access-control-allow-origin" not in response.headers
    assert len(history(http, run_id)) == 4


# -- nothing reflected -------------------------------------------------------------------------
def test_content_type_and_accept_are_not_reflected(http: httpx.Client) -> None:
    marker = "zq-marker"
    evil = f"text/{marker}<script>alert(1)</script>"
    responses = [
        http.post(
            f"{API}/experiments/create", content=b'{"name": "x"}', headers={"Content-Type": evil}
        ),
        http.post(
            f"{API}/runs/log-metric", content=b'{"run_id": "x"}', headers={"Content-Type": evil}
        ),
        http.get(f"{API}/experiments/search", headers={"Accept": evil}),
        http.get("/", headers={"Accept": evil}),
        http.get("/no/such/page", headers={"Accept": evil}),
        http.get(f"{API}/experiments/search", headers={"Accept": evil, "Host": EVIL}),
    ]
    assert [r.status_code for r in responses][:2] == [400, 400]
    for response in responses:
        assert marker not in response.text, response.text
        assert marker not in str(response.headers)
