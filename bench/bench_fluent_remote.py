"""Fluent-API round trip against a remote tracking server: 1,000 log_metric calls + end_run.

Run it with the interpreter of the client library being measured:

    /work/main/.venv/bin/python bench/bench_fluent_remote.py URL --client cairn
    /work/mlflow-venv/bin/python bench/bench_fluent_remote.py URL --client mlflow

It sets the tracking URI to URL, makes a fresh experiment, starts a run (untimed), then times
``log_metric("loss", i * 0.1, step=i)`` for i in 0..N-1 followed by ``end_run()``. With
``--client mlflow`` it also times the same loop with ``synchronous=False`` (MLflow's
asynchronous logging; ``end_run`` waits for the queue to drain). After each timed run the
stored history is counted over plain HTTP, so a figure only stands if every point arrived.

The last line of stdout is a JSON object with the figures (``--json`` prints only that line).
Exit status 2 means the client library could not be used against URL (for example a client
without remote support yet); the reason is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
import urllib.parse
import urllib.request
import uuid
from typing import Any


def count_history(url: str, run_id: str, key: str) -> int:
    """Points stored for (run_id, key), read over plain HTTP, following page tokens."""
    count = 0
    token = None
    while True:
        query = {"run_id": run_id, "metric_key": key}
        if token:
            query["page_token"] = token
        full = f"{url.rstrip('/')}/api/2.0/mlflow/metrics/get-history?" + urllib.parse.urlencode(
            query
        )
        with urllib.request.urlopen(full, timeout=600) as resp:
            page = json.loads(resp.read() or b"{}")
        count += len(page.get("metrics", []))
        token = page.get("next_page_token")
        if not token:
            return count


def timed_run(lib: Any, url: str, n: int, **log_kwargs: Any) -> tuple[float, float, int]:
    """(seconds for log_metric x n + end_run, seconds for start_run, points stored)."""
    t = time.perf_counter()
    run = lib.start_run()
    start_s = time.perf_counter() - t
    run_id = run.info.run_id
    t0 = time.perf_counter()
    for i in range(n):
        lib.log_metric("loss", i * 0.1, step=i, **log_kwargs)
    lib.end_run()
    flush = getattr(lib, "flush_async_logging", None)
    if log_kwargs and flush is not None:
        flush()  # end_run already waits; this is a no-op safety net, inside the clock
    elapsed = time.perf_counter() - t0
    return elapsed, start_s, count_history(url, run_id, "loss")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="tracking server base URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--client", choices=("cairn", "mlflow"), default="cairn")
    parser.add_argument("-n", type=int, default=1000, help="log_metric calls (default 1000)")
    parser.add_argument("--json", action="store_true", help="print only the JSON result line")
    args = parser.parse_args(argv)

    say = (lambda *a: None) if args.json else print
    result: dict[str, Any] = {"client": args.client, "url": args.url, "n": args.n}
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    try:
        if args.client == "mlflow":
            import mlflow as lib
        else:
            import cairn as lib
        result["client_version"] = getattr(lib, "__version__", None)
        lib.set_tracking_uri(args.url)
        lib.set_experiment(f"bench-fluent-{args.client}-{uuid.uuid4().hex[:12]}")
        sync_s, start_s, stored = timed_run(lib, args.url, args.n)
    except Exception as exc:
        result["skipped"] = f"{type(exc).__name__}: {exc}"
        say(f"{args.client} client against {args.url} failed; skipping.")
        if not args.json:
            traceback.print_exc()
        print(json.dumps(result))
        return 2

    result.update(sync_s=round(sync_s, 4), start_run_s=round(start_s, 4), sync_points=stored)
    say(f"{args.client}: start_run {start_s:.3f} s (untimed)")
    say(f"{args.client}: {args.n} x log_metric + end_run: {sync_s:.3f} s ({stored} points stored)")
    if args.client == "mlflow":
        async_s, _, stored_async = timed_run(lib, args.url, args.n, synchronous=False)
        result.update(async_s=round(async_s, 4), async_points=stored_async)
        say(
            f"{args.client}: {args.n} x log_metric(synchronous=False) + end_run: "
            f"{async_s:.3f} s ({stored_async} points stored)"
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
