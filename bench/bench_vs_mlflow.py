"""Cairn vs. MLflow: the same client code, the same workloads, the same machine, the same run.

    .venv/bin/python bench/bench_vs_mlflow.py          # full sizes (about 10 min, mostly MLflow)
    .venv/bin/python bench/bench_vs_mlflow.py --quick  # smaller sizes, a smoke run (~1.5 min)
    .venv/bin/python bench/bench_vs_mlflow.py --mlflow-python /path/to/venv/bin/python

MLflow runs in its own virtualenv (default `/work/mlflow-venv/bin/python`, or `$MLFLOW_PYTHON`,
or `--mlflow-python`); it is never installed into Cairn's. Every workload runs in a fresh
subprocess per library: once under MLflow's interpreter with `mlflow.MlflowClient` on
`sqlite:///<tmp>/mlflow.db` (MLflow's SQLAlchemy store), once under Cairn's interpreter with
`cairn.MlflowClient` (= `CairnClient`) on `sqlite:///<tmp>/cairn.db`. The worker code below is
shared: only `load_library` differs (`import mlflow as lib` / `import cairn as lib`); everything
else goes through `lib.MlflowClient` and `lib.entities`.

Workloads (full / --quick sizes):
1. log_batch throughput: N metric points (100,000 / 20,000), 10 keys, 1,000 points per call,
   into one run; points/s. Fresh database per round, best and median over rounds.
2. create_run + log_batch(5 metrics, 5 params, 3 tags): runs/s over the first R runs
   (2,000 / 500) of the population used by 3.
3. search_runs over S runs (10,000 / 1,000), `metrics.m0 > 0.5 and params.p0 = 'a'`, ordered by
   `metrics.m1 DESC`, first 100: p50 / p95 over repeats, in a fresh process after one untimed
   warm-up call. Both libraries get the same seeded data, so the 100 run names returned, in
   order, must be identical: the script checks it.
4. get_metric_history of one P-point metric (200,000 / 50,000), logged with log_batch first;
   seconds, best of 3 reads per round, then best and median over rounds.
Plus `python -c "import mlflow"` vs. `python -c "import cairn"` (best of 5).

Each library uses its own defaults (MLflow: SQLite's rollback journal, synchronous=FULL;
Cairn: WAL, synchronous=FULL). MLflow's telemetry is switched off (MLFLOW_DISABLE_TELEMETRY,
DO_NOT_TRACK): it is not part of the tracking work. Nothing is asserted: the numbers are for
people to read. Rounds alternate which library goes first.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CAIRN_PYTHON = ROOT / ".venv" / "bin" / "python"
DEFAULT_MLFLOW_PYTHON = os.environ.get("MLFLOW_PYTHON", "/work/mlflow-venv/bin/python")
LIBS = ("cairn", "mlflow")
RESULT_PREFIX = "BENCH-RESULT "
BATCH = 1000
SEARCH_FILTER = "metrics.m0 > 0.5 and params.p0 = 'a'"
SEARCH_ORDER = ["metrics.m1 DESC"]


# ---------------------------------------------------------------------------------------------
# Worker: runs inside MLflow's or Cairn's interpreter. Identical for both but for the imports.
# ---------------------------------------------------------------------------------------------


def load_library(name: str) -> Any:
    if name == "mlflow":
        import mlflow as lib
    else:
        sys.path.insert(0, str(ROOT))  # this working tree's Cairn, not an installed copy
        import cairn as lib
    return lib


def open_client(lib: Any, db: Path) -> Any:
    return lib.MlflowClient(tracking_uri=f"sqlite:///{db}")


def w_log_batch(lib: Any, db: Path, points: int) -> dict[str, Any]:
    Metric = lib.entities.Metric
    t = time.perf_counter()
    client = open_client(lib, db)
    experiment_id = client.create_experiment("log-batch")
    setup = time.perf_counter() - t
    run_id = client.create_run(experiment_id).info.run_id
    # Ready-made entities: building them is the caller's work, not the tracking client's.
    batches = [
        [
            Metric(f"metric_{i % 10}", float(i) * 0.5, 1_700_000_000_000 + i, i // 10)
            for i in range(start, min(start + BATCH, points))
        ]
        for start in range(0, points, BATCH)
    ]
    t = time.perf_counter()
    for batch in batches:
        client.log_batch(run_id, metrics=batch)
    elapsed = time.perf_counter() - t
    stored = len(client.get_metric_history(run_id, "metric_0"))
    return {
        "points_per_s": points / elapsed,
        "seconds": elapsed,
        "setup_s": setup,
        "check_points_metric_0": stored,
    }


def w_runs(lib: Any, db: Path, total: int, first: int) -> dict[str, Any]:
    Metric, Param, RunTag = lib.entities.Metric, lib.entities.Param, lib.entities.RunTag
    client = open_client(lib, db)
    experiment_id = client.create_experiment("search-bench")
    rng = random.Random(42)  # same data for both libraries
    t = time.perf_counter()
    first_s = None
    for i in range(total):
        run = client.create_run(experiment_id, run_name=f"run-{i:05d}")
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(f"m{j}", rng.random(), 1_700_000_000_000 + i, 0) for j in range(5)],
            params=[Param(f"p{j}", rng.choice("abcd")) for j in range(5)],
            tags=[RunTag(f"t{j}", f"v{rng.randint(0, 9)}") for j in range(3)],
        )
        if i + 1 == first:
            first_s = time.perf_counter() - t
    elapsed = time.perf_counter() - t
    first_s = elapsed if first_s is None else first_s
    return {
        "runs_per_s": min(first, total) / first_s,
        "all_runs_per_s": total / elapsed,
        "populate_s": elapsed,
        "experiment_id": experiment_id,
    }


def w_search(lib: Any, db: Path, repeats: int) -> dict[str, Any]:
    client = open_client(lib, db)
    experiment_id = client.get_experiment_by_name("search-bench").experiment_id

    def once() -> Any:
        return client.search_runs(
            [experiment_id], filter_string=SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=100
        )

    t = time.perf_counter()
    found = once()
    first_call = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        once()
        times.append(time.perf_counter() - t)
    times.sort()
    return {
        "p50_s": statistics.median(times),
        "p95_s": times[max(0, math.ceil(0.95 * len(times)) - 1)],
        "min_s": times[0],
        "first_call_s": first_call,
        "found": len(found),
        "has_next_page": found.token is not None,
        "names": [r.info.run_name for r in found],
        "m1": [r.data.metrics.get("m1") for r in found],
        "p0": sorted({r.data.params.get("p0") for r in found}),
    }


def w_history(lib: Any, db: Path, points: int, reads: int) -> dict[str, Any]:
    Metric = lib.entities.Metric
    client = open_client(lib, db)
    run_id = client.create_run(client.create_experiment("history")).info.run_id
    batches = [
        [
            Metric("loss", 1.0 / (i + 1), 1_700_000_000_000 + i, i)
            for i in range(start, min(start + BATCH, points))
        ]
        for start in range(0, points, BATCH)
    ]
    t = time.perf_counter()
    for batch in batches:
        client.log_batch(run_id, metrics=batch)
    log_s = time.perf_counter() - t
    del batches
    times = []
    history: list[Any] = []
    for _ in range(reads):
        del history
        gc.collect()
        t = time.perf_counter()
        history = client.get_metric_history(run_id, "loss")
        times.append(time.perf_counter() - t)
    steps = [m.step for m in history]
    return {
        "best_s": min(times),
        "median_s": statistics.median(times),
        "log_points_per_s": points / log_s,
        "count": len(history),
        "ordered_by_step": steps == sorted(steps),
        "first": [history[0].step, history[0].value] if history else None,
        "last": [history[-1].step, history[-1].value] if history else None,
    }


def worker_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_vs_mlflow.py --worker")
    parser.add_argument("lib", choices=LIBS)
    parser.add_argument("workload", choices=["log_batch", "runs", "search", "history"])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    lib = load_library(args.lib)
    if args.workload == "log_batch":
        result = w_log_batch(lib, args.db, args.size)
    elif args.workload == "runs":
        result = w_runs(lib, args.db, args.size, args.first)
    elif args.workload == "search":
        result = w_search(lib, args.db, args.repeats)
    else:
        result = w_history(lib, args.db, args.size, args.repeats)
    result["version"] = lib.__version__
    print(RESULT_PREFIX + json.dumps(result), flush=True)


# ---------------------------------------------------------------------------------------------
# Driver: runs in Cairn's interpreter, starts the workers, prints the table.
# ---------------------------------------------------------------------------------------------

Results = dict[str, dict[str, list[dict[str, Any]]]]  # lib -> workload -> one dict per round


class Driver:
    def __init__(self, pythons: dict[str, str], work: Path) -> None:
        self.pythons = pythons
        self.work = work
        self.env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
        for name in ("MLFLOW_TRACKING_URI", "CAIRN_TRACKING_URI", "PYTHONPATH"):
            self.env.pop(name, None)
        self.results: Results = {lib: {} for lib in LIBS}
        self.failures: list[str] = []

    def fresh_dir(self, lib: str, name: str) -> Path:
        path = self.work / lib / name
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def worker(self, lib: str, workload: str, cwd: Path, **options: Any) -> bool:
        """Run one workload in a fresh process of `lib`'s interpreter; keep its result."""
        cmd = [self.pythons[lib], str(Path(__file__).resolve()), "--worker", lib, workload]
        cmd += ["--db", str(cwd / f"{lib}.db")]
        for key, value in options.items():
            cmd += [f"--{key}", str(value)]
        t = time.perf_counter()
        # cwd: MLflow puts its default artifact root (./mlruns, ./mlartifacts) there.
        proc = subprocess.run(cmd, cwd=cwd, env=self.env, capture_output=True, text=True)
        wall = time.perf_counter() - t
        for line in proc.stdout.splitlines():
            if line.startswith(RESULT_PREFIX) and proc.returncode == 0:
                result = json.loads(line[len(RESULT_PREFIX) :])
                self.results[lib].setdefault(workload, []).append(result)
                log(f"  {lib:<6} {workload:<9} {wall:6.1f} s")
                return True
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
        self.failures.append(f"{lib} {workload} (exit {proc.returncode}):\n{tail}")
        log(f"  {lib:<6} {workload:<9} FAILED (exit {proc.returncode})")
        return False

    def import_time(self, repeats: int = 5) -> None:
        """Wall time of `python -c "import X"` and of a bare interpreter, best of `repeats`."""
        for lib in LIBS:
            best = {}
            for label, code in (("bare_s", "pass"), ("import_s", f"import {lib}")):
                times = []
                for _ in range(repeats):
                    t = time.perf_counter()
                    proc = subprocess.run(
                        [self.pythons[lib], "-c", code],
                        cwd=ROOT,  # so `import cairn` finds this working tree's Cairn
                        env=self.env,
                        capture_output=True,
                        text=True,
                    )
                    times.append(time.perf_counter() - t)
                    if proc.returncode != 0:
                        tail = "\n".join(proc.stderr.strip().splitlines()[-10:])
                        self.failures.append(f"{lib} python -c {code!r}:\n{tail}")
                        return
                best[label] = min(times)
            self.results[lib]["import"] = [best]

    def values(self, lib: str, workload: str, key: str) -> list[float]:
        return [r[key] for r in self.results[lib].get(workload, [])]

    def first(self, lib: str, workload: str) -> dict[str, Any] | None:
        found = self.results[lib].get(workload)
        return found[0] if found else None


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def lib_order(round_no: int) -> tuple[str, ...]:
    """Alternate which library goes first, so neither always gets the cooler machine."""
    return LIBS if round_no % 2 == 0 else LIBS[::-1]


# A row: label, workload, result key, unit. Units ending in "/s" are rates (higher is better,
# best = max); "s" and "ms" are durations (lower is better, best = min). "ratio" False: no
# speed-up column (reference rows).
Row = tuple[str, str, str, str, bool]


def rows(sizes: dict[str, int]) -> list[Row]:
    points, runs, search_runs, history = (
        sizes["points"],
        sizes["runs"],
        sizes["search_runs"],
        sizes["history"],
    )
    return [
        ('python -c "import X" (best of 5)', "import", "import_s", "ms", True),
        ('  python -c "pass", same interpreter', "import", "bare_s", "ms", False),
        (
            f"1. log_batch {points:,} points, 1,000 per call",
            "log_batch",
            "points_per_s",
            "pts/s",
            True,
        ),
        ("   new database: open client + create_experiment", "log_batch", "setup_s", "s", True),
        (
            f"2. create_run + log_batch(5m 5p 3t), {runs:,} runs",
            "runs",
            "runs_per_s",
            "runs/s",
            True,
        ),
        (
            f"   same, all {search_runs:,} runs (search set-up)",
            "runs",
            "all_runs_per_s",
            "runs/s",
            True,
        ),
        (f"3. search_runs, {search_runs:,} runs, top 100: p50", "search", "p50_s", "ms", True),
        (f"3. search_runs, {search_runs:,} runs, top 100: p95", "search", "p95_s", "ms", True),
        ("   first search_runs in a fresh process", "search", "first_call_s", "ms", True),
        (f"4. get_metric_history, {history:,} points", "history", "best_s", "s", True),
        ("   log_batch of that one metric (set-up)", "history", "log_points_per_s", "pts/s", True),
    ]


def summarise(values: list[float], unit: str) -> tuple[float | None, str]:
    """The best value and its text: `best (med median) unit` when there are several."""
    if not values:
        return None, "failed"
    rate = unit.endswith("/s")
    best = max(values) if rate else min(values)
    scale, fmt = {"ms": (1000.0, ".1f"), "s": (1.0, ".2f")}.get(unit, (1.0, ",.0f"))
    text = f"{best * scale:{fmt}}"
    if len(values) > 1:
        text += f" (med {statistics.median(values) * scale:{fmt}})"
    return best, f"{text} {unit}"


def print_table(driver: Driver, sizes: dict[str, int], rounds: int) -> None:
    print("Durations: best (median over rounds); rates: best (median). Speed-up: how many times")
    print(f"faster Cairn is, best against best. Rounds for 1 and 4: {rounds}.\n")
    line = "| {:<52} | {:>28} | {:>28} | {:>8} |"
    print(line.format("workload", "Cairn", "MLflow", "speed-up"))
    print(line.format("-" * 52, "-" * 28, "-" * 28, "-" * 8))
    for label, workload, key, unit, with_ratio in rows(sizes):
        c_best, c_text = summarise(driver.values("cairn", workload, key), unit)
        m_best, m_text = summarise(driver.values("mlflow", workload, key), unit)
        ratio = ""
        if with_ratio and c_best and m_best:
            ratio = f"{(c_best / m_best if unit.endswith('/s') else m_best / c_best):.1f}x"
        print(line.format(label, c_text, m_text, ratio))


def compare_answers(driver: Driver, sizes: dict[str, int]) -> list[str]:
    """Same seeded data in, so the same answers must come out of both libraries."""
    problems: list[str] = []
    for lib in LIBS:
        for r in driver.results[lib].get("log_batch", []):
            if r["check_points_metric_0"] != sizes["points"] // 10:
                problems.append(
                    f"{lib}: log_batch stored {r['check_points_metric_0']} points of metric_0, "
                    f"expected {sizes['points'] // 10}"
                )
        for r in driver.results[lib].get("history", []):
            if r["count"] != sizes["history"] or not r["ordered_by_step"]:
                problems.append(
                    f"{lib}: get_metric_history returned {r['count']} points (expected "
                    f"{sizes['history']}), ordered by step: {r['ordered_by_step']}"
                )
    hc, hm = driver.first("cairn", "history"), driver.first("mlflow", "history")
    if hc and hm and (hc["first"], hc["last"]) != (hm["first"], hm["last"]):
        problems.append(
            f"history ends differ: cairn {hc['first']}..{hc['last']}, "
            f"mlflow {hm['first']}..{hm['last']}"
        )
    sc, sm = driver.first("cairn", "search"), driver.first("mlflow", "search")
    if sc and sm:
        for key in ("found", "has_next_page", "names", "m1", "p0"):
            if sc[key] != sm[key]:
                shown = (
                    (sc[key][:5], sm[key][:5]) if isinstance(sc[key], list) else (sc[key], sm[key])
                )
                problems.append(f"search_runs {key!r} differs: cairn {shown[0]}, mlflow {shown[1]}")
    return problems


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--points", type=int, help="1: metric points logged (100,000)")
    parser.add_argument("--runs", type=int, help="2: runs timed (2,000)")
    parser.add_argument("--search-runs", type=int, help="3: runs searched (10,000)")
    parser.add_argument("--search-repeats", type=int, help="3: timed searches (30)")
    parser.add_argument("--history", type=int, help="4: points in the metric (200,000)")
    parser.add_argument("--rounds", type=int, help="rounds of workloads 1 and 4 (3)")
    parser.add_argument("--mlflow-python", default=DEFAULT_MLFLOW_PYTHON)
    parser.add_argument("--cairn-python", default=str(DEFAULT_CAIRN_PYTHON))
    parser.add_argument("--workdir", type=Path, help="keep the databases here (default: temp)")
    args = parser.parse_args()
    quick = args.quick
    sizes = {
        "points": args.points or (20_000 if quick else 100_000),
        "search_runs": args.search_runs or (1_000 if quick else 10_000),
        "history": args.history or (50_000 if quick else 200_000),
    }
    sizes["runs"] = min(args.runs or (500 if quick else 2_000), sizes["search_runs"])
    repeats = args.search_repeats or (10 if quick else 30)
    rounds = args.rounds or (1 if quick else 3)

    pythons = {"cairn": args.cairn_python, "mlflow": args.mlflow_python}
    for lib, python in pythons.items():
        if not Path(python).exists():
            sys.exit(f"{lib} interpreter not found: {python} (see --{lib}-python)")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="cairn-vs-mlflow-"))
    work.mkdir(parents=True, exist_ok=True)
    driver = Driver(pythons, work)
    started = time.perf_counter()

    log("import time (best of 5)")
    driver.import_time()
    log(f"1. log_batch: {sizes['points']:,} points, {rounds} round(s)")
    for r in range(rounds):
        for lib in lib_order(r):
            driver.worker(
                lib, "log_batch", driver.fresh_dir(lib, "log_batch"), size=sizes["points"]
            )
    log(f"2./3. {sizes['search_runs']:,} runs (first {sizes['runs']:,} timed), then search_runs")
    for lib in LIBS:
        cwd = driver.fresh_dir(lib, "search")
        if driver.worker(lib, "runs", cwd, size=sizes["search_runs"], first=sizes["runs"]):
            driver.worker(lib, "search", cwd, repeats=repeats)
    log(f"4. get_metric_history: {sizes['history']:,} points, {rounds} round(s)")
    for r in range(rounds):
        for lib in lib_order(r):
            cwd = driver.fresh_dir(lib, "history")
            driver.worker(lib, "history", cwd, size=sizes["history"], repeats=3)

    import sqlite3

    versions = {
        lib: next((r[0]["version"] for w, r in driver.results[lib].items() if w != "import"), "?")
        for lib in LIBS
    }
    print(
        f"\nCairn {versions['cairn']} vs MLflow {versions['mlflow']}, both on SQLite — Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, "
        f"{time.strftime('%Y-%m-%d')}"
    )
    print_table(driver, sizes, rounds)
    problems = compare_answers(driver, sizes)
    sc, sm = driver.first("cairn", "search"), driver.first("mlflow", "search")
    if problems:
        verdict = f"{len(problems)} difference(s):"
    elif driver.failures:
        verdict = "no differences in what both completed (see FAILED below)."
    else:
        verdict = "every check agrees."
    print(
        f"\nSame answers? search_runs returned {sc['found'] if sc else '-'} runs (Cairn) and "
        f"{sm['found'] if sm else '-'} (MLflow); " + verdict
    )
    for problem in problems:
        print(f"  - {problem}")
    for failure in driver.failures:
        print(f"\nFAILED: {failure}")
    print(f"\nTotal wall time {time.perf_counter() - started:.0f} s")
    if args.workdir:
        print(f"Databases kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
