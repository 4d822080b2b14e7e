"""The server process: startup, graceful SIGTERM, several workers, keep-alive latency.

Per the project's rule there are no timing assertions on speed, with one exception that is
about correctness rather than speed: 100 sequential requests on one keep-alive connection
must not hit the ~40 ms Nagle/delayed-ACK stall that TCP_NODELAY exists to prevent.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.server_process import ServerProcess, start_server

API = "/api/2.0/mlflow"
CLEAN_EXITS = (0, -signal.SIGTERM)
"""uvicorn exits 0, or re-raises the SIGTERM it handled (-15) once shutdown is complete."""


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def assert_clean_log(server: ServerProcess) -> None:
    log = server.log()
    assert "Traceback" not in log, log
    assert "ERROR" not in log, log


def test_startup_reaches_health(tmp_path: Path, record_property: Any) -> None:
    began = time.monotonic()
    server = start_server(tmp_path / "startup")
    elapsed = time.monotonic() - began
    try:
        record_property("startup_seconds", round(elapsed, 3))
        print(f"cairn server: spawn to first /health 200 in {elapsed:.3f} s")
        response = httpx.get(server.url + "/health")
        assert (response.status_code, response.text) == (200, "OK")
    finally:
        assert server.stop() in CLEAN_EXITS
    assert_clean_log(server)


def test_sigterm_lets_the_request_in_flight_finish(server_factory: Any) -> None:
    server = server_factory()
    with httpx.Client(base_url=server.url + API, timeout=60) as client:
        experiment_id = ok(client.post("/experiments/create", json={"name": "graceful"}))[
            "experiment_id"
        ]
        run = ok(client.post("/runs/create", json={"experiment_id": experiment_id}))["run"]
    run_id = run["info"]["run_id"]
    metrics = [{"key": f"m{i % 10}", "value": i, "timestamp": i, "step": i} for i in range(1000)]
    body = orjson.dumps({"run_id": run_id, "metrics": metrics})
    half = len(body) // 2
    started, release = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def slow_body() -> Iterator[bytes]:
        yield body[:half]
        # Asked for the next chunk: headers and the first half are on the wire.
        started.set()
        release.wait(30)
        yield body[half:]

    def send() -> None:
        try:
            outcome["response"] = httpx.post(
                server.url + API + "/runs/log-batch",
                content=slow_body(),
                headers={"content-type": "application/json"},
                timeout=60,
            )
        except httpx.HTTPError as e:
            outcome["error"] = e

    sender = threading.Thread(target=send)
    sender.start()
    assert started.wait(30)
    time.sleep(0.5)  # let the server parse the headers: the request is now in flight
    server.process.send_signal(signal.SIGTERM)
    # The server stops accepting new connections but waits for the request it is reading.
    deadline = time.monotonic() + 10
    refused = False
    while time.monotonic() < deadline and not refused:
        try:
            httpx.get(server.url + "/health", timeout=1)
            time.sleep(0.05)
        except httpx.TransportError:
            refused = True
    assert refused, "the server kept accepting connections after SIGTERM"
    assert server.process.poll() is None, "the server exited with a request in flight"
    release.set()
    sender.join(60)
    assert "error" not in outcome, outcome
    assert outcome["response"].status_code == 200, outcome["response"].text
    assert server.process.wait(30) in CLEAN_EXITS, server.log()
    assert_clean_log(server)

    successor = server_factory(backend_uri=server.backend_uri)
    with httpx.Client(base_url=successor.url + API, timeout=60) as client:
        for key in ("m0", "m9"):
            params = {"run_id": run_id, "metric_key": key}
            points = ok(client.get("/metrics/get-history", params=params))["metrics"]
            assert len(points) == 100


def _sequential_requests(url: str, path: str) -> float:
    """Seconds for 100 sequential GETs of `path` over one keep-alive connection."""
    with httpx.Client(base_url=url, timeout=30) as client:
        first = client.get(path)
        assert first.status_code == 200
        local = first.extensions["network_stream"].get_extra_info("client_addr")
        began = time.perf_counter()
        for _ in range(100):
            response = client.get(path)
            assert response.status_code == 200
            # Same local address and port: every request reused the one connection.
            assert response.extensions["network_stream"].get_extra_info("client_addr") == local
        return time.perf_counter() - began


# The only timing bound in this suite, and deliberately loose. With Nagle's algorithm on, a
# response written in two segments (headers, then body) waits for the client's delayed ACK,
# ~40 ms on Linux, so 100 sequential requests take at least 4 s. Without the stall they take
# a few ms each even on a loaded CI machine. 2.5 s can only be exceeded by the stall.
NAGLE_STALL_BOUND = 2.5


def _assert_no_nagle_stall(server_url: str, experiment_id: str) -> None:
    for path in ("/health", f"{API}/experiments/get?experiment_id={experiment_id}"):
        elapsed = _sequential_requests(server_url, path)
        print(f"100 sequential GET {path} on one connection: {elapsed:.3f} s")
        assert elapsed < NAGLE_STALL_BOUND, f"{elapsed:.2f} s: looks like a Nagle stall"


def test_keep_alive_without_nagle_stall_one_worker(live_server: Any) -> None:
    experiment_id = ok(
        httpx.post(live_server.url + API + "/experiments/create", json={"name": "nagle-1"})
    )["experiment_id"]
    _assert_no_nagle_stall(live_server.url, experiment_id)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("two-workers"), "--workers", "2")
    yield server
    server.stop()


def test_keep_alive_without_nagle_stall_two_workers(two_workers: ServerProcess) -> None:
    experiment_id = ok(
        httpx.post(two_workers.url + API + "/experiments/create", json={"name": "nagle-2"})
    )["experiment_id"]
    _assert_no_nagle_stall(two_workers.url, experiment_id)


def test_two_workers_serve_one_store(two_workers: ServerProcess) -> None:
    """Requests on many connections land on both workers; all see the same database."""
    errors: list[str] = []
    created: list[str] = []
    lock = threading.Lock()

    def client_work(index: int) -> None:
        # A fresh connection per request spreads the requests over both workers.
        for n in range(10):
            name = f"w2-{index}-{n}"
            response = httpx.post(
                two_workers.url + API + "/experiments/create", json={"name": name}, timeout=60
            )
            if response.status_code != 200:
                with lock:
                    errors.append(response.text)
                continue
            experiment_id = response.json()["experiment_id"]
            got = httpx.get(
                two_workers.url + API + "/experiments/get",
                params={"experiment_id": experiment_id},
                timeout=60,
            )
            if got.status_code != 200 or got.json()["experiment"]["name"] != name:
                with lock:
                    errors.append(got.text)
            with lock:
                created.append(experiment_id)

    threads = [threading.Thread(target=client_work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[:3]
    assert len(set(created)) == 80
    search = ok(
        httpx.post(
            two_workers.url + API + "/experiments/search",
            json={"max_results": 1000, "filter": "name LIKE 'w2-%'"},
        )
    )
    assert len(search["experiments"]) == 80


def test_two_workers_stop_cleanly(tmp_path: Path) -> None:
    server = start_server(tmp_path / "stop2", "--workers", "2")
    assert httpx.get(server.url + "/health").status_code == 200
    assert server.stop(signal.SIGTERM) in CLEAN_EXITS, server.log()
    assert_clean_log(server)
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url + "/health", timeout=2)
