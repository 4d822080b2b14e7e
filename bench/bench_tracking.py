"""Tracking-core benchmark: each Cairn figure beside the physical limit measured in the same run.

    .venv/bin/python bench/bench_tracking.py            # full sizes (a few minutes)
    .venv/bin/python bench/bench_tracking.py --quick    # smaller sizes, for a smoke run

Figures printed:
1. `python -c "import cairn"` wall time (vs. a bare interpreter start).
2. In-process `log_batch` into SQLite, metric points/s, vs. a bare `sqlite3` program inserting
   the same rows into the same table layout with executemany and a commit per 1,000 rows.
3. `search_runs` over 100,000 runs (5 params, 5 metrics, 3 tags each), filter on a metric and a
   param, ordered by a metric, first 100 results: p50 / p95 latency.
4. `get_metric_history` of a 1,000,000-point metric vs. a bare sqlite3 read of the same rows,
   plus the peak memory of streaming it with `iter_metric_history`.
Nothing here is asserted: the numbers are for people to read.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
sys.path.insert(0, str(ROOT))


def fresh(name: str) -> Path:
    path = WORK / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def row(label: str, cairn: str, limit: str, ratio: str = "") -> None:
    print(f"  {label:<44} {cairn:>16} {limit:>16} {ratio:>10}")


def bench_import(repeats: int = 7) -> None:
    def best(code: str) -> float:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
            times.append(time.perf_counter() - t)
        return min(times)

    bare = best("pass")
    cairn = best("import cairn")
    print("\n1. import time (best of 7, wall clock incl. interpreter start)")
    row("", "cairn", "bare python", "")
    row('python -c "import cairn"', f"{cairn * 1000:.0f} ms", f"{bare * 1000:.0f} ms")
    row("import cairn itself", f"{(cairn - bare) * 1000:.0f} ms", "", "")


def bench_log_batch(points: int) -> None:
    from cairn.entities import Metric
    from cairn.store.sql.store import SqlTrackingStore

    per_batch = 1000
    keys = [f"metric_{i}" for i in range(10)]
    rows = [(keys[i % 10], float(i) * 0.5, 1_700_000_000_000 + i, i // 10) for i in range(points)]

    # The physical limit: bare sqlite3, same durability settings, same table layout.
    bare_dir = fresh("bare_insert")
    conn = sqlite3.connect(bare_dir / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(
        "CREATE TABLE metrics (run_pk INTEGER, key_id INTEGER, step INTEGER, timestamp INTEGER,"
        " value REAL, is_nan INTEGER, PRIMARY KEY (run_pk, key_id, step, timestamp, value,"
        " is_nan)) WITHOUT ROWID"
    )
    key_ids = {k: i for i, k in enumerate(keys)}
    # Both sides get their input ready-made (tuples for sqlite3, Metric objects for Cairn)
    # and bind the same five values per row: key, step, timestamp, value, NaN flag.
    bare_batches = [
        [(key_ids[k], step, ts, v, False) for k, v, ts, step in rows[i : i + per_batch]]
        for i in range(0, points, per_batch)
    ]
    t = time.perf_counter()
    for batch in bare_batches:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR IGNORE INTO metrics VALUES (1, ?, ?, ?, ?, ?)", batch)
        conn.execute("COMMIT")
    bare = points / (time.perf_counter() - t)
    conn.close()

    cairn_dir = fresh("cairn_insert")
    store = SqlTrackingStore(f"sqlite:///{cairn_dir / 'cairn.db'}", str(cairn_dir / "artifacts"))
    run_id = store.create_run("0").info.run_id
    cairn_batches = [
        [Metric(k, v, ts, step) for k, v, ts, step in rows[i : i + per_batch]]
        for i in range(0, points, per_batch)
    ]
    t = time.perf_counter()
    for batch in cairn_batches:
        store.log_batch(run_id, metrics=batch)
    cairn = points / (time.perf_counter() - t)
    store.close()
    print(f"\n2. log_batch into SQLite: {points:,} points, 1,000 per batch, commit per batch")
    row("", "cairn", "bare sqlite3", "ratio")
    row("points per second", f"{cairn:,.0f}", f"{bare:,.0f}", f"{cairn / bare:.0%}")


def populate_runs(store, n_runs: int) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """Fill an experiment with `n_runs` runs through bulk inserts into the store's tables.

    Going through log_batch would measure the write path 100,000 times over; this benchmark
    is about search, so the setup writes the same rows the store would, in bulk.
    """
    from cairn.store.sql.run_data import MetricKeys
    from cairn.store.sql.schema import latest_metrics, metrics, params, runs, tags

    eid = store.create_experiment("search-bench")
    metric_names = [f"m{i}" for i in range(5)]
    ids = MetricKeys(store.dialect).ensure(store.engine, metric_names)
    rng = random.Random(42)
    chunk = 5000
    with store.engine.begin() as conn:
        for start in range(0, n_runs, chunk):
            run_rows, m_rows, p_rows, t_rows = [], [], [], []
            for i in range(start, min(start + chunk, n_runs)):
                pk = i + 1000
                run_rows.append(
                    {
                        "run_pk": pk,
                        "run_id": uuid.uuid4().hex,
                        "experiment_id": int(eid),
                        "name": f"run-{i}",
                        "user_id": "bench",
                        "status": "FINISHED",
                        "start_time": 1_700_000_000_000 + i,
                        "end_time": 1_700_000_000_500 + i,
                        "lifecycle_stage": "active",
                        "artifact_uri": f"/tmp/{i}",
                    }
                )
                for name in metric_names:
                    v = rng.random()
                    m_rows.append(
                        {"run_pk": pk, "key_id": ids[name], "step": 0, "timestamp": 0, "value": v}
                    )
                for p in range(5):
                    p_rows.append({"run_pk": pk, "key": f"p{p}", "value": rng.choice("abcd")})
                for t in range(3):
                    t_rows.append({"run_pk": pk, "key": f"t{t}", "value": f"v{rng.randint(0, 9)}"})
            conn.execute(runs.insert(), run_rows)
            conn.execute(latest_metrics.insert(), m_rows)
            conn.execute(metrics.insert(), [dict(r, is_nan=False) for r in m_rows])
            conn.execute(params.insert(), p_rows)
            conn.execute(tags.insert(), t_rows)
    with store.engine.connect() as conn:
        if store.dialect == "mysql":
            conn.exec_driver_sql("ANALYZE TABLE runs, latest_metrics, metrics, params, tags")
        else:
            conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return eid, metric_names


def bench_search(n_runs: int, repeats: int, db_uri: str | None = None) -> None:
    from cairn.store.sql.store import SqlTrackingStore

    work = fresh("search")
    store = SqlTrackingStore(db_uri or f"sqlite:///{work / 'cairn.db'}", str(work / "artifacts"))
    t = time.perf_counter()
    eid, _ = populate_runs(store, n_runs)
    setup = time.perf_counter() - t
    queries = [
        ("metrics.m0 > 0.5 AND params.p0 = 'a'", ["metrics.m1 DESC"]),
        ("metrics.m2 < 0.3 AND params.p3 != 'b'", ["metrics.m4 ASC"]),
        ("params.p1 = 'c' AND metrics.m3 >= 0.9", ["metrics.m0 DESC", "params.p2"]),
    ]
    print(
        f"\n3. search_runs over {n_runs:,} runs on {store.dialect} (setup {setup:.1f} s), "
        f"first 100 results, {repeats} repeats each"
    )
    row("query", "p50", "p95", "found")
    for filter_string, order_by in queries:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            found = store.search_runs([eid], filter_string, max_results=100, order_by=order_by)
            times.append(time.perf_counter() - t)
        times.sort()
        p50 = statistics.median(times) * 1000
        p95 = times[int(len(times) * 0.95) - 1] * 1000
        row(
            f"{filter_string} / {order_by[0]}"[:44],
            f"{p50:.1f} ms",
            f"{p95:.1f} ms",
            str(len(found)),
        )
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        store.search_runs([eid], None, max_results=100)
        times.append(time.perf_counter() - t)
    row("(no filter, default order)", f"{statistics.median(times) * 1000:.1f} ms", "", "100")
    store.close()


def bench_history(points: int) -> None:
    from cairn.entities import Metric
    from cairn.store.sql.schema import metrics
    from cairn.store.sql.store import SqlTrackingStore

    work = fresh("history")
    db = work / "cairn.db"
    store = SqlTrackingStore(f"sqlite:///{db}", str(work / "artifacts"))
    run_id = store.create_run("0").info.run_id
    store.log_metric(run_id, Metric("loss", 1.0, 0, 0))  # creates the key and the run's rows
    key_id = store.keys.ensure(store.engine, ["loss"])["loss"]
    with store.engine.connect() as conn:
        run_pk = conn.exec_driver_sql(
            "SELECT run_pk FROM runs WHERE run_id = ?", (run_id,)
        ).scalar()
    with store.engine.begin() as conn:
        for start in range(1, points, 100_000):
            conn.execute(
                metrics.insert(),
                [
                    {
                        "run_pk": run_pk,
                        "key_id": key_id,
                        "step": i,
                        "timestamp": 1_700_000_000_000 + i,
                        "value": 1.0 / i,
                        "is_nan": False,
                    }
                    for i in range(start, min(start + 100_000, points))
                ],
            )

    def bare_read() -> int:
        conn = sqlite3.connect(db)
        rows = conn.execute(
            "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_pk = ? AND key_id = ?"
            " ORDER BY step, timestamp, value",
            (run_pk, key_id),
        ).fetchall()
        conn.close()
        return len(rows)

    def timed(fn) -> float:  # type: ignore[no-untyped-def]
        best = float("inf")
        for _ in range(3):
            gc.collect()
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
        return best

    bare = timed(bare_read)
    cairn = timed(lambda: store.get_metric_history(run_id, "loss"))
    tracemalloc.start()
    count = sum(1 for _ in store.iter_metric_history(run_id, "loss"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"\n4. metric history of {points:,} points (best of 3)")
    row("", "cairn", "bare sqlite3", "ratio")
    row(
        "get_metric_history (list of Metric)",
        f"{cairn:.2f} s",
        f"{bare:.2f} s",
        f"{cairn / bare:.2f}x",
    )
    row(
        f"iter_metric_history peak memory ({count:,} pts)",
        f"{peak / 2**20:.1f} MiB",
        "",
        "",
    )
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument(
        "--search-db",
        metavar="URI",
        help="run only the search benchmark, on this EMPTY database (postgresql://…, mysql://…)",
    )
    args = parser.parse_args()
    points = 100_000 if args.quick else 500_000
    n_runs = 10_000 if args.quick else 100_000
    history = 100_000 if args.quick else 1_000_000
    print(
        f"Cairn tracking benchmark — Python {sys.version.split()[0]}, "
        f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs"
    )
    if args.search_db:
        bench_search(n_runs, repeats=10 if args.quick else 30, db_uri=args.search_db)
        return
    bench_import()
    bench_log_batch(points)
    bench_search(n_runs, repeats=10 if args.quick else 30)
    bench_history(history)


if __name__ == "__main__":
    main()
