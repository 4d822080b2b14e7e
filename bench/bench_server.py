"""REST-level benchmark for any MLflow-REST-compatible tracking server.

Runs the same HTTP workloads against whatever answers at ``--url`` (``cairn server``,
``mlflow server``, ...) and prints one table of figures. Only the standard library is used
(http.client: its per-request cost is a quarter of httpx's, and client cost only blurs the
servers' difference), so the script runs under any Python 3.11+.

    python bench/bench_server.py --url http://127.0.0.1:5000 [--quick] [--json out.json]
                                 [--label NAME]

Every scenario works in an experiment of its own with a fresh uuid-suffixed name, so the
script can be pointed at the same server again and again. Request bodies that are the same for
both servers are encoded before the clock starts; the client sets TCP_NODELAY on its sockets
(as MLflow's requests-based client does), so a stall that shows up in the keep-alive check
comes from the server. Nothing is asserted beyond sanity checks on counts: the figures are for
people to read.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import math
import os
import random
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

API = "/api/2.0/mlflow"
TIMEOUT = 600.0
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is; ``--quick`` shrinks them so a run takes seconds."""

    create_runs: int = 1_000
    batch_requests: int = 100  # x 1,000 points
    single_metrics: int = 1_000
    search_runs: int = 10_000
    search_repeats: int = 20
    page_size: int = 1_000
    history_points: int = 100_000
    history_reads: int = 3
    concurrent_clients: int = 8
    concurrent_seconds: float = 20.0
    concurrent_max_requests: int = 200  # per client, caps the work on a very fast server
    keepalive_requests: int = 100
    seed_workers: int = 4

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            create_runs=200,
            batch_requests=10,
            single_metrics=200,
            search_runs=1_000,
            search_repeats=10,
            page_size=100,
            history_points=10_000,
            history_reads=2,
            concurrent_seconds=5.0,
            concurrent_max_requests=50,
        )


@dataclass
class Figure:
    key: str
    label: str
    value: float
    unit: str
    better: str  # "higher" or "lower"


@dataclass
class Report:
    label: str
    url: str
    quick: bool
    sizes: dict[str, Any]
    server_version: str | None = None
    figures: list[Figure] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    wall_seconds: float = 0.0

    def add(self, key: str, label: str, value: float, unit: str, better: str) -> None:
        self.figures.append(Figure(key, label, value, unit, better))
        print(f"  {label:<58} {format_value(value, unit):>14} {unit}", flush=True)


# --------------------------------------------------------------------------- HTTP helpers


class Response:
    """The parts of an HTTP answer the scenarios look at."""

    def __init__(
        self, method: str, path: str, status_code: int, headers: dict[str, str], content: bytes
    ) -> None:
        self.method = method
        self.path = path
        self.status_code = status_code
        self.headers = headers
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class TransportError(Exception):
    """The connection failed (refused, reset, timed out) rather than answering."""


class Client:
    """One keep-alive HTTP/1.1 connection with TCP_NODELAY, on the standard library.

    http.client costs ~0.1 ms per request where httpx costs ~0.4-1 ms on this machine; that
    overhead is the same for every server and only blurs what the server itself takes.
    Reconnects transparently when the server closed the connection between requests.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.conn: http.client.HTTPConnection | None = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        conn.connect()
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        for attempt in (1, 2):
            fresh = self.conn is None
            if self.conn is None:
                try:
                    self.conn = self._connect()
                except OSError as exc:
                    raise TransportError(f"{method} {path}: {exc!r}") from exc
            try:
                headers = {**AUTH_HEADERS, **(headers or {})}
                self.conn.request(method, path, body=body, headers=headers)
                answer = self.conn.getresponse()
                content = answer.read()
            except (http.client.HTTPException, OSError) as exc:
                self.close()
                if fresh or attempt == 2:  # a new connection failed: the server's fault
                    raise TransportError(f"{method} {path}: {exc!r}") from exc
                continue  # the kept-alive connection had been closed by the server
            found = {k.lower(): v for k, v in answer.getheaders()}
            if answer.will_close:
                self.close()
            return Response(method, path, answer.status, found, content)
        raise AssertionError("unreachable")

    def get(
        self, path: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        if params:
            path += ("&" if "?" in path else "?") + urlencode(params)
        return self.request("GET", path, headers=headers)

    def post(self, path: str, content: bytes, headers: dict[str, str]) -> Response:
        return self.request("POST", path, body=content, headers=headers)


def _auth_headers() -> dict[str, str]:
    """Credentials for a server with authentication on, from MLflow's client variables."""
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if user:
        pair = f"{user}:{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    return {}


AUTH_HEADERS = _auth_headers()


def make_client(url: str) -> Client:
    return Client(url)


class ServerError(RuntimeError):
    pass


def check(resp: Response) -> dict[str, Any]:
    if resp.status_code != 200:
        raise ServerError(f"{resp.method} {resp.path} -> {resp.status_code}: {resp.text[:300]}")
    if not resp.content or "json" not in resp.headers.get("content-type", ""):
        return {}
    return resp.json()  # type: ignore[no-any-return]


def post(client: Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    return check(client.post(API + path, content=json.dumps(body).encode(), headers=JSON_HEADERS))


def post_raw(client: Client, path: str, body: bytes) -> Response:
    return client.post(API + path, content=body, headers=JSON_HEADERS)


def get(client: Client, path: str, params: dict[str, Any]) -> dict[str, Any]:
    return check(client.get(API + path, params=params))


def now_ms() -> int:
    return int(time.time() * 1000)


def new_experiment(client: Client, scenario: str) -> str:
    name = f"bench-{scenario}-{uuid.uuid4().hex[:12]}"
    return str(post(client, "/experiments/create", {"name": name})["experiment_id"])


def new_run(client: Client, experiment_id: str, name: str | None = None) -> str:
    body: dict[str, Any] = {"experiment_id": experiment_id, "start_time": now_ms()}
    if name:
        body["run_name"] = name
    return str(post(client, "/runs/create", body)["run"]["info"]["run_id"])


def batch_body(run_id: str, key: str, first_step: int, n: int, ts: int) -> bytes:
    """A log-batch body of ``n`` points of one metric, steps ``first_step`` onwards.

    Built as text directly: cheaper than json.dumps of 1,000 dicts, which matters in the
    concurrent scenario where bodies are built while the clock runs.
    """
    points = ",".join(
        f'{{"key":"{key}","value":{(s % 977) * 0.001!r},"timestamp":{ts + s},"step":{s}}}'
        for s in range(first_step, first_step + n)
    )
    return f'{{"run_id":"{run_id}","metrics":[{points}]}}'.encode()


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def format_value(value: float, unit: str) -> str:
    if unit in ("ms", "s"):
        return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"
    if unit == "errors" or value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


# --------------------------------------------------------------------------- scenarios


def scenario_create_runs(client: Client, sizes: Sizes, rep: Report) -> None:
    eid = new_experiment(client, "create")
    t0 = time.perf_counter()
    for i in range(sizes.create_runs):
        run_id = new_run(client, eid, f"r{i}")
        post(client, "/runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": now_ms()})
    elapsed = time.perf_counter() - t0
    rep.add(
        "create_run.runs_per_s",
        f"create run + set FINISHED, {sizes.create_runs:,} sequential",
        sizes.create_runs / elapsed,
        "runs/s",
        "higher",
    )


def scenario_log_batch(client: Client, sizes: Sizes, rep: Report) -> None:
    eid = new_experiment(client, "batch")
    run_id = new_run(client, eid)
    ts = now_ms()
    bodies = [batch_body(run_id, "loss", i * 1000, 1000, ts) for i in range(sizes.batch_requests)]
    t0 = time.perf_counter()
    for body in bodies:
        check(post_raw(client, "/runs/log-batch", body))
    elapsed = time.perf_counter() - t0
    points = sizes.batch_requests * 1000
    rep.add(
        "log_batch.points_per_s",
        f"log-batch, 1,000 points/request, {points:,} points sequential",
        points / elapsed,
        "points/s",
        "higher",
    )


def scenario_log_metric(client: Client, sizes: Sizes, rep: Report) -> None:
    eid = new_experiment(client, "metric")
    run_id = new_run(client, eid)
    ts = now_ms()
    bodies = [
        json.dumps(
            {"run_id": run_id, "key": "loss", "value": i * 0.1, "timestamp": ts + i, "step": i}
        ).encode()
        for i in range(sizes.single_metrics)
    ]
    latencies = []
    t0 = time.perf_counter()
    for body in bodies:
        t = time.perf_counter()
        check(post_raw(client, "/runs/log-metric", body))
        latencies.append((time.perf_counter() - t) * 1000)
    elapsed = time.perf_counter() - t0
    n = sizes.single_metrics
    rep.add(
        "log_metric.req_per_s", f"log-metric, {n:,} single requests", n / elapsed, "req/s", "higher"
    )
    rep.add("log_metric.p50_ms", "log-metric latency p50", percentile(latencies, 50), "ms", "lower")
    rep.add("log_metric.p95_ms", "log-metric latency p95", percentile(latencies, 95), "ms", "lower")


P1_VALUES = ("a", "b", "c", "d", "e")


def seed_search_runs(url: str, sizes: Sizes) -> tuple[str, dict[str, tuple[float, str]], float]:
    """Create ``sizes.search_runs`` runs (metric m1, param p1) with a few clients in parallel.

    Returns the experiment id, run_id -> (m1, p1), and the seconds it took (untimed figure,
    printed for information).
    """
    with make_client(url) as client:
        eid = new_experiment(client, "search")
    rng = random.Random(20261124)
    plan = [(i, rng.random(), P1_VALUES[i % len(P1_VALUES)]) for i in range(sizes.search_runs)]
    seeded: dict[str, tuple[float, str]] = {}
    lock = threading.Lock()
    ts = now_ms()

    def worker(chunk: list[tuple[int, float, str]]) -> None:
        with make_client(url) as client:
            for i, m1, p1 in chunk:
                run_id = new_run(client, eid, f"s{i}")
                body = {
                    "run_id": run_id,
                    "metrics": [{"key": "m1", "value": m1, "timestamp": ts, "step": 0}],
                    "params": [{"key": "p1", "value": p1}],
                }
                post(client, "/runs/log-batch", body)
                with lock:
                    seeded[run_id] = (m1, p1)

    chunks = [plan[w :: sizes.seed_workers] for w in range(sizes.seed_workers)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(sizes.seed_workers) as pool:
        for fut in [pool.submit(worker, c) for c in chunks]:
            fut.result()
    return eid, seeded, time.perf_counter() - t0


def scenario_search(url: str, client: Client, sizes: Sizes, rep: Report) -> None:
    n = sizes.search_runs
    print(
        f"  (seeding {n:,} runs with {sizes.seed_workers} parallel clients, untimed ...)",
        flush=True,
    )
    eid, seeded, seed_s = seed_search_runs(url, sizes)
    rep.checks["search_seed_seconds"] = round(seed_s, 2)
    rep.checks["search_seed_runs_per_s"] = round(n / seed_s, 1)
    print(f"  (seeded in {seed_s:.1f} s, {n / seed_s:,.0f} runs/s)", flush=True)

    body = json.dumps(
        {
            "experiment_ids": [eid],
            "filter": "metrics.m1 > 0.5 AND params.p1 = 'a'",
            "order_by": ["metrics.m1 DESC"],
            "max_results": 100,
        }
    ).encode()
    expected = sorted((m1 for m1, p1 in seeded.values() if m1 > 0.5 and p1 == "a"), reverse=True)[
        :100
    ]
    # One untimed warm-up call, reported on its own.
    t = time.perf_counter()
    first = check(post_raw(client, "/runs/search", body))
    first_ms = (time.perf_counter() - t) * 1000
    got = [
        next(m["value"] for m in r["data"]["metrics"] if m["key"] == "m1") for r in first["runs"]
    ]
    rep.checks["search_answer_ok"] = got == expected
    if got != expected:
        print(f"  !! search returned {len(got)} runs, expected {len(expected)} (or wrong order)")
    latencies = []
    for _ in range(sizes.search_repeats):
        t = time.perf_counter()
        check(post_raw(client, "/runs/search", body))
        latencies.append((time.perf_counter() - t) * 1000)
    label = f"runs/search over {n:,} runs, filter + order, top 100"
    rep.add("search.first_ms", "runs/search, first call (warm-up)", first_ms, "ms", "lower")
    rep.add("search.p50_ms", f"{label}: p50", percentile(latencies, 50), "ms", "lower")
    rep.add("search.p95_ms", f"{label}: p95", percentile(latencies, 95), "ms", "lower")

    # Page through the whole experiment.
    t0 = time.perf_counter()
    seen = 0
    pages = 0
    token = None
    while True:
        req: dict[str, Any] = {"experiment_ids": [eid], "max_results": sizes.page_size}
        if token:
            req["page_token"] = token
        page = post(client, "/runs/search", req)
        seen += len(page.get("runs", []))
        pages += 1
        token = page.get("next_page_token")
        if not token:
            break
    elapsed = time.perf_counter() - t0
    rep.checks["paging_runs_seen"] = seen
    rep.checks["paging_pages"] = pages
    if seen != n:
        print(f"  !! paging saw {seen:,} runs, expected {n:,}")
    rep.add(
        "paging.seconds",
        f"page through {n:,} runs, {sizes.page_size:,}/page ({pages} pages)",
        elapsed,
        "s",
        "lower",
    )


def scenario_history(client: Client, sizes: Sizes, rep: Report) -> None:
    eid = new_experiment(client, "history")
    run_id = new_run(client, eid)
    ts = now_ms()
    n = sizes.history_points
    for first in range(0, n, 1000):
        check(
            post_raw(
                client, "/runs/log-batch", batch_body(run_id, "h", first, min(1000, n - first), ts)
            )
        )

    def read_all() -> int:
        count = 0
        token = None
        while True:
            params = {"run_id": run_id, "metric_key": "h"}
            if token:
                params["page_token"] = token
            page = get(client, "/metrics/get-history", params)
            count += len(page.get("metrics", []))
            token = page.get("next_page_token")
            if not token:
                return count

    times = []
    for _ in range(sizes.history_reads):
        t = time.perf_counter()
        count = read_all()
        times.append(time.perf_counter() - t)
        rep.checks["history_points_read"] = count
        if count != n:
            print(f"  !! get-history returned {count:,} points, expected {n:,}")
    rep.checks["history_read_seconds_all"] = [round(x, 4) for x in times]
    rep.add(
        "history.seconds",
        f"metrics/get-history of {n:,} points, best of {sizes.history_reads}",
        min(times),
        "s",
        "lower",
    )


def scenario_concurrent(url: str, sizes: Sizes, rep: Report) -> None:
    k = sizes.concurrent_clients
    with make_client(url) as client:
        eid = new_experiment(client, "concurrent")
        run_ids = [new_run(client, eid, f"c{i}") for i in range(k)]
    barrier = threading.Barrier(k + 1)
    ok_points = [0] * k
    errors = [0] * k
    error_samples: list[str] = []
    finished = [0.0] * k
    state = {"deadline": 0.0}

    def worker(i: int) -> None:
        with make_client(url) as c:
            ts = now_ms()
            barrier.wait()
            deadline = state["deadline"]
            for req in range(sizes.concurrent_max_requests):
                if time.perf_counter() >= deadline:
                    break
                body = batch_body(run_ids[i], "c", req * 1000, 1000, ts)
                try:
                    resp = post_raw(c, "/runs/log-batch", body)
                    if resp.status_code == 200:
                        ok_points[i] += 1000
                    else:
                        errors[i] += 1
                        if len(error_samples) < 3:
                            error_samples.append(f"{resp.status_code}: {resp.text[:200]}")
                except TransportError as exc:
                    errors[i] += 1
                    if len(error_samples) < 3:
                        error_samples.append(repr(exc))
            finished[i] = time.perf_counter()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(k)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    state["deadline"] = t0 + sizes.concurrent_seconds
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = max(finished) - t0
    total = sum(ok_points)
    rep.checks["concurrent_points"] = total
    rep.checks["concurrent_seconds"] = round(elapsed, 3)
    if error_samples:
        rep.checks["concurrent_error_samples"] = error_samples
        for s in error_samples:
            print(f"  !! {s}")
    rep.add(
        "concurrent.points_per_s",
        f"{k} concurrent clients, log-batch 1,000 points (~{sizes.concurrent_seconds:g} s)",
        total / elapsed,
        "points/s",
        "higher",
    )
    rep.add(
        "concurrent.errors",
        f"{k} concurrent clients: non-200 answers",
        sum(errors),
        "errors",
        "lower",
    )


def scenario_keepalive(client: Client, sizes: Sizes, rep: Report) -> None:
    n = sizes.keepalive_requests
    eid = new_experiment(client, "keepalive")
    for path, key, what in (
        ("/health", "keepalive.health_s", "GET /health"),
        (
            f"{API}/experiments/get?experiment_id={eid}",
            "keepalive.api_get_s",
            "GET experiments/get",
        ),
    ):
        check(client.get(path))  # connection is open and warm
        t0 = time.perf_counter()
        for _ in range(n):
            check(client.get(path))
        rep.add(
            key, f"{n} sequential {what} on one connection", time.perf_counter() - t0, "s", "lower"
        )
    # The same /health requests, each on a new connection: if this is much faster than the
    # keep-alive figure, the server stalls on reused connections (Nagle + delayed ACK).
    # "Connection: close" makes both ends drop the connection after each answer; the client
    # object is reused, so only the TCP connection is new each time.
    close = {"Connection": "close"}
    t0 = time.perf_counter()
    for _ in range(n):
        check(client.get("/health", headers=close))
    rep.add(
        "keepalive.health_newconn_s",
        f"{n} sequential GET /health, new connection each",
        time.perf_counter() - t0,
        "s",
        "lower",
    )


# --------------------------------------------------------------------------- driver

SCENARIOS = ("create", "batch", "metric", "search", "history", "concurrent", "keepalive")


def run_all(url: str, quick: bool, label: str, only: list[str] | None = None) -> Report:
    sizes = Sizes.quick() if quick else Sizes()
    rep = Report(label=label, url=url, quick=quick, sizes=asdict(sizes))
    rep.started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    wanted = only or list(SCENARIOS)
    start = time.perf_counter()
    with make_client(url) as client:
        check(client.get("/health"))
        try:
            resp = client.get("/version")
            rep.server_version = resp.text.strip()[:80] if resp.status_code == 200 else None
        except TransportError:
            rep.server_version = None
        kind = "quick" if quick else "full"
        print(f"{label}: {url} (version {rep.server_version or '?'}), {kind} sizes")
        steps: dict[str, Callable[[], None]] = {
            "create": lambda: scenario_create_runs(client, sizes, rep),
            "batch": lambda: scenario_log_batch(client, sizes, rep),
            "metric": lambda: scenario_log_metric(client, sizes, rep),
            "search": lambda: scenario_search(url, client, sizes, rep),
            "history": lambda: scenario_history(client, sizes, rep),
            "concurrent": lambda: scenario_concurrent(url, sizes, rep),
            "keepalive": lambda: scenario_keepalive(client, sizes, rep),
        }
        for name in wanted:
            steps[name]()
    rep.wall_seconds = round(time.perf_counter() - start, 2)
    print(f"  (all scenarios: {rep.wall_seconds:.1f} s wall)")
    return rep


def report_dict(rep: Report) -> dict[str, Any]:
    data = asdict(rep)
    data["figures"] = [asdict(f) for f in rep.figures]
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:5000", help="server base URL")
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--label", default="server", help="name shown in the output")
    parser.add_argument(
        "--only",
        help=f"comma-separated subset of scenarios: {','.join(SCENARIOS)}",
    )
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",")] if args.only else None
    if only and (bad := [s for s in only if s not in SCENARIOS]):
        parser.error(f"unknown scenario(s): {', '.join(bad)}")
    try:
        rep = run_all(args.url, args.quick, args.label, only)
    except (TransportError, ServerError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report_dict(rep), fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
