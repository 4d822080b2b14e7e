"""Side-by-side REST benchmark: ``cairn server`` against ``mlflow server``.

    python bench/compare_servers.py [--quick] [--only cairn|mlflow]
                                    [--mlflow-configs default,workers1] [--json out.json]

For each server configuration, one at a time (the machine's cores are not shared between two
servers under load), the script

1. starts the server on a free port over a fresh SQLite database and artifact directory in a
   temporary directory, and times spawn -> first 200 from ``GET /health``;
2. waits for the process tree's memory to settle and samples its idle RSS;
3. runs ``bench_server.py`` (every REST scenario) against it as a subprocess, while a thread
   samples the tree's total RSS and PSS (the server process plus all its descendants, from
   /proc) to get the peak;
4. runs ``bench_fluent_remote.py`` with each client library against it (Cairn's client on the
   Cairn server; MLflow's client, synchronous and ``synchronous=False``, on every server);
5. samples RSS after the run, then stops the whole process group.

The final table has one column per server and a ratio: Cairn's figure against the best MLflow
configuration, direction-aware, so a ratio above 1 always means Cairn did better.

Only the standard library is needed, here and in ``bench_server.py`` (which runs under
``--bench-python``, default this interpreter).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH_SERVER = HERE / "bench_server.py"
BENCH_FLUENT = HERE / "bench_fluent_remote.py"
DEFAULT_CAIRN = Path("/work/main/.venv/bin/cairn")
DEFAULT_MLFLOW = Path("/work/mlflow-venv/bin/mlflow")
MLFLOW_VENV_HINT = (
    "python3 -m venv /work/mlflow-venv && /work/mlflow-venv/bin/pip install mlflow==3.17.2"
)
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


# --------------------------------------------------------------------------- process memory


def descendants(pid: int) -> list[int]:
    """pid and all its descendants, from /proc/<pid>/task/*/children."""
    found = []
    stack = [pid]
    while stack:
        p = stack.pop()
        found.append(p)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
            except OSError:
                pass
    return found


def _read_kib(path: str, field_name: str) -> int:
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(field_name):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_memory(pid: int) -> tuple[float, float, int]:
    """(total RSS MiB, total PSS MiB, process count) of pid's tree.

    RSS counts pages shared between processes (forked workers, shared libraries) once per
    process; PSS divides them among the sharers, so the PSS sum is the tree's real footprint.
    """
    pids = descendants(pid)
    rss = sum(_read_kib(f"/proc/{p}/status", "VmRSS:") for p in pids)
    pss = sum(_read_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
    alive = sum(1 for p in pids if os.path.exists(f"/proc/{p}/status"))
    return rss / 1024, pss / 1024, alive


class MemorySampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_rss = 0.0
        self.peak_pss = 0.0
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            rss, pss, _ = tree_memory(self.pid)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.samples += 1
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


# --------------------------------------------------------------------------- servers


@dataclass
class ServerConfig:
    key: str  # column key: cairn, mlflow-default, mlflow-workers1
    title: str
    kind: str  # "cairn" or "mlflow"
    argv: list[str]
    workdir: Path
    port: int
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


class RunningServer:
    """A server process started in its own session, so its whole group can be stopped."""

    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.log_path = cfg.workdir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float) -> float:
        """Spawn and wait for the first 200 from /health; return the seconds it took."""
        self.cfg.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - handed to the child, closed in stop()
        self._log = log
        env = dict(os.environ, **QUIET_ENV)
        # Servers start as on a user's machine, with bytecode caches: some sandboxes set
        # PYTHONDONTWRITEBYTECODE, which makes every start recompile an editable install's
        # sources (~0.3 s for Cairn; MLflow's installed packages are compiled at install).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.cfg.argv,
            cwd=self.cfg.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = t0 + timeout
        while time.perf_counter() < deadline:
            if health_ok(self.cfg.url):
                return time.perf_counter() - t0
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.cfg.title} exited with {self.proc.returncode} before answering:\n"
                    + self.log_tail()
                )
            time.sleep(0.05)
        raise RuntimeError(
            f"{self.cfg.title} did not answer within {timeout:.0f} s:\n" + self.log_tail()
        )

    def settle(self, max_wait: float = 30.0) -> tuple[float, float, int]:
        """Wait until the tree's RSS stops moving (workers done importing); sample it."""
        assert self.proc is not None
        last = tree_memory(self.proc.pid)
        stable_since = time.perf_counter()
        end = time.perf_counter() + max_wait
        while time.perf_counter() < end:
            time.sleep(0.5)
            now = tree_memory(self.proc.pid)
            if abs(now[0] - last[0]) > max(2.0, 0.01 * last[0]) or now[2] != last[2]:
                stable_since = time.perf_counter()
            elif time.perf_counter() - stable_since >= 2.0:
                return now
            last = now
        return last

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM the server's process group, then SIGKILL whatever is left of it."""
        if self.proc is None:
            return
        pid = self.proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=15)
        time.sleep(0.5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            print(f"  !! {self.cfg.title} (pid {pid}) did not exit", file=sys.stderr)
        self._log.close()
        self.proc = None


# --------------------------------------------------------------------------- running


def run_bench_server(cfg: ServerConfig, python: str, quick: bool) -> dict[str, Any] | None:
    out = cfg.workdir / "bench.json"
    argv = [python, str(BENCH_SERVER), "--url", cfg.url, "--label", cfg.title, "--json", str(out)]
    if quick:
        argv.append("--quick")
    proc = subprocess.run(argv, env=dict(os.environ, **QUIET_ENV), check=False)
    if proc.returncode != 0 or not out.exists():
        print(f"  !! bench_server.py failed against {cfg.title} (exit {proc.returncode})")
        return None
    return json.loads(out.read_text())


def run_fluent(python: str, url: str, client: str, n: int) -> dict[str, Any]:
    if not Path(python).exists():
        return {"skipped": f"{python} not found"}
    argv = [python, str(BENCH_FLUENT), url, "--client", client, "-n", str(n), "--json"]
    proc = subprocess.run(
        argv, env=dict(os.environ, **QUIET_ENV), capture_output=True, text=True, check=False
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"skipped": f"exit {proc.returncode}: " + " | ".join(tail)}
    return json.loads(lines[-1])


def measure(cfg: ServerConfig, args: argparse.Namespace, pythons: dict[str, str]) -> dict[str, Any]:
    res: dict[str, Any] = {"title": cfg.title, "argv": cfg.argv}
    server = RunningServer(cfg)
    sampler: MemorySampler | None = None
    print(f"\n=== {cfg.title}: {' '.join(cfg.argv)}", flush=True)
    try:
        startup = server.start(args.start_timeout)
        res["startup_s"] = startup
        assert server.proc is not None
        pid = server.proc.pid
        print(f"  first 200 from /health after {startup:.2f} s", flush=True)
        rss, pss, nproc = server.settle()
        res.update(rss_idle_mib=rss, pss_idle_mib=pss, processes=nproc)
        print(f"  idle: {nproc} processes, RSS {rss:,.0f} MiB, PSS {pss:,.0f} MiB", flush=True)

        sampler = MemorySampler(pid)
        sampler.start()
        res["bench"] = run_bench_server(cfg, args.bench_python, args.quick)
        n = 200 if args.quick else 1000
        fluent: dict[str, Any] = {}
        if cfg.kind == "cairn":
            print("  fluent API, Cairn client ...", flush=True)
            fluent["own"] = run_fluent(pythons["cairn"], cfg.url, "cairn", n)
        if pythons.get("mlflow"):
            print("  fluent API, MLflow client (sync and synchronous=False) ...", flush=True)
            fluent["mlflow"] = run_fluent(pythons["mlflow"], cfg.url, "mlflow", n)
            if cfg.kind == "mlflow":
                fluent["own"] = fluent["mlflow"]
        res["fluent"] = fluent
        sampler.stop()
        res.update(rss_peak_mib=sampler.peak_rss, pss_peak_mib=sampler.peak_pss)
        time.sleep(2.0)
        rss, pss, nproc = tree_memory(pid)
        res.update(rss_after_mib=rss, pss_after_mib=pss)
        print(
            f"  memory: peak RSS {sampler.peak_rss:,.0f} MiB (PSS {sampler.peak_pss:,.0f}), "
            f"after RSS {rss:,.0f} MiB (PSS {pss:,.0f})",
            flush=True,
        )
        for label, f in fluent.items():
            if "skipped" in f:
                print(f"  fluent ({label} client): skipped - {f['skipped']}")
    except RuntimeError as exc:
        print(f"  !! {exc}")
        res["error"] = str(exc)
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        server.stop()
    return res


# --------------------------------------------------------------------------- table


@dataclass
class Row:
    key: str
    label: str
    unit: str
    better: str
    values: dict[str, float | None]


def collect_rows(results: dict[str, dict[str, Any]], n_fluent: int) -> list[Row]:
    rows: dict[str, Row] = {}

    def put(key: str, label: str, unit: str, better: str, col: str, value: Any) -> None:
        row = rows.setdefault(key, Row(key, label, unit, better, {}))
        row.values[col] = float(value) if isinstance(value, int | float) else None

    for col, res in results.items():
        if "startup_s" in res:
            put("startup_s", "server start to first answer", "s", "lower", col, res["startup_s"])
        bench = res.get("bench") or {}
        for fig in bench.get("figures", []):
            put(fig["key"], fig["label"], fig["unit"], fig["better"], col, fig["value"])
        fluent = res.get("fluent", {})
        own = fluent.get("own", {})
        mlf = fluent.get("mlflow", {})
        put(
            "fluent.own_sync_s",
            f"fluent: {n_fluent} log_metric + end_run, own client",
            "s",
            "lower",
            col,
            own.get("sync_s"),
        )
        if mlf:
            put(
                "fluent.mlflow_sync_s",
                f"fluent: same, MLflow client ({n_fluent} calls)",
                "s",
                "lower",
                col,
                mlf.get("sync_s"),
            )
            put(
                "fluent.mlflow_async_s",
                "fluent: same, MLflow client, synchronous=False",
                "s",
                "lower",
                col,
                mlf.get("async_s"),
            )
        for key, label in (
            ("rss_idle_mib", "RSS, idle after start (tree total)"),
            ("rss_peak_mib", "RSS, peak during the benchmark"),
            ("rss_after_mib", "RSS, after the benchmark"),
            ("pss_idle_mib", "PSS, idle after start (shared pages split)"),
            ("pss_peak_mib", "PSS, peak during the benchmark"),
        ):
            if key in res:
                put(key, label, "MiB", "lower", col, res[key])
        if "processes" in res:
            put("processes", "processes in the server tree", "procs", "none", col, res["processes"])
    return list(rows.values())


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("s", "ms"):
        return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"
    if unit in ("errors", "procs", "MiB") or value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def ratio(row: Row, cairn_col: str, mlflow_cols: list[str]) -> str:
    """Cairn against the best MLflow column; > 1 means Cairn is better either way."""
    if row.better not in ("higher", "lower"):
        return ""
    c = row.values.get(cairn_col)
    ms = [v for k in mlflow_cols if (v := row.values.get(k)) is not None]
    if c is None or not ms:
        return ""
    if row.better == "higher":
        best = max(ms)
        return f"{c / best:.2f}x" if best > 0 else ""
    best = min(ms)
    if c <= 0:
        return "" if best <= 0 else "inf"
    return f"{best / c:.2f}x"


def print_table(rows: list[Row], columns: list[tuple[str, str]]) -> None:
    keys = [k for k, _ in columns]
    cairn_col = "cairn" if "cairn" in keys else None
    mlflow_cols = [k for k in keys if k.startswith("mlflow")]
    show_ratio = cairn_col is not None and bool(mlflow_cols)
    width = max(len(r.label) + len(r.unit) + 3 for r in rows) if rows else 40
    colw = {k: max(12, len(t) + 2) for k, t in columns}
    header = f"{'figure':<{width}}" + "".join(f"{t:>{colw[k]}}" for k, t in columns)
    if show_ratio:
        header += f"{'Cairn vs best MLflow':>22}"
    print("\n" + header)
    print("-" * len(header))
    for r in rows:
        line = f"{r.label + ' [' + r.unit + ']':<{width}}"
        line += "".join(f"{fmt(r.values.get(k), r.unit):>{colw[k]}}" for k in keys)
        if show_ratio and cairn_col:
            line += f"{ratio(r, cairn_col, mlflow_cols):>22}"
        print(line)
    print("\n'-': not measured (see the notes below the table, if any).")
    if show_ratio:
        print(
            "ratio: higher-is-better figures are Cairn / best MLflow, lower-is-better ones best"
            " MLflow / Cairn, so above 1.00x means Cairn did better."
        )


# --------------------------------------------------------------------------- main


def cairn_server_available(cairn: Path) -> tuple[bool, str]:
    if not cairn.exists():
        return False, f"{cairn} not found"
    proc = subprocess.run(
        [str(cairn), "server", "--help"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return False, "`cairn server --help` failed: " + " ".join(t.strip(" │") for t in tail)
    return True, ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (bench_server --quick)")
    parser.add_argument("--only", choices=("cairn", "mlflow"), help="run one side only")
    parser.add_argument(
        "--mlflow-configs",
        default="default,workers1",
        help="comma-separated: default (mlflow's own worker count), workers1 (--workers 1)",
    )
    parser.add_argument("--mlflow", default=str(DEFAULT_MLFLOW), help="the mlflow executable")
    parser.add_argument("--cairn", default=str(DEFAULT_CAIRN), help="the cairn executable")
    parser.add_argument("--cairn-workers", type=int, help="pass --workers N to cairn server")
    parser.add_argument(
        "--bench-python",
        default=sys.executable,
        help="interpreter that runs bench_server.py; default: this one",
    )
    parser.add_argument("--workdir", help="keep databases and logs here instead of a temp dir")
    parser.add_argument("--json", metavar="PATH", help="write every result as JSON")
    parser.add_argument("--start-timeout", type=float, default=180.0, help="seconds (180)")
    args = parser.parse_args(argv)

    mlflow_bin = Path(args.mlflow)
    cairn_bin = Path(args.cairn)
    pythons: dict[str, str] = {"cairn": str(cairn_bin.parent / "python")}
    if (mlflow_bin.parent / "python").exists():
        pythons["mlflow"] = str(mlflow_bin.parent / "python")

    want_cairn = args.only in (None, "cairn")
    want_mlflow = args.only in (None, "mlflow")
    if want_mlflow and not mlflow_bin.exists():
        print(f"MLflow not found at {mlflow_bin}. Create it with:\n  {MLFLOW_VENV_HINT}")
        print("or point --mlflow at an mlflow executable.")
        want_mlflow = False
        pythons.pop("mlflow", None)
    if want_cairn:
        ok, why = cairn_server_available(cairn_bin)
        if not ok:
            print(f"Skipping Cairn: {why}")
            want_cairn = False
    if not (want_cairn or want_mlflow):
        print("nothing to run")
        return 1

    base = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="cairn-vs-mlflow-"))
    base.mkdir(parents=True, exist_ok=True)
    configs: list[ServerConfig] = []
    if want_cairn:
        d = base / "cairn"
        port = free_port()
        argv = [
            str(cairn_bin), "server", "--host", "127.0.0.1", "--port", str(port),
            "--backend-store-uri", f"sqlite:///{d / 'cairn.db'}",
            "--artifacts-destination", str(d / "artifacts"),
        ]  # fmt: skip
        title = "cairn"
        if args.cairn_workers:
            argv += ["--workers", str(args.cairn_workers)]
            title = f"cairn w{args.cairn_workers}"
        configs.append(ServerConfig("cairn", title, "cairn", argv, d, port))
    if want_mlflow:
        for name in [c.strip() for c in args.mlflow_configs.split(",") if c.strip()]:
            if name not in ("default", "workers1"):
                parser.error(f"unknown MLflow config {name!r} (default, workers1)")
            d = base / f"mlflow-{name}"
            port = free_port()
            argv = [
                str(mlflow_bin), "server",
                "--backend-store-uri", f"sqlite:///{d / 'mlflow.db'}",
                "--artifacts-destination", str(d / "artifacts"),
                "--host", "127.0.0.1", "--port", str(port),
            ]  # fmt: skip
            if name == "workers1":
                argv += ["--workers", "1"]
            title = "mlflow default" if name == "default" else "mlflow --workers 1"
            configs.append(ServerConfig(f"mlflow-{name}", title, "mlflow", argv, d, port))

    print(f"work directory: {base}")
    results: dict[str, dict[str, Any]] = {}
    t0 = time.perf_counter()
    try:
        for cfg in configs:
            results[cfg.key] = measure(cfg, args, pythons)
    finally:
        if not args.workdir:
            shutil.rmtree(base, ignore_errors=True)

    n_fluent = 200 if args.quick else 1000
    rows = collect_rows(results, n_fluent)
    print_table(rows, [(c.key, c.title) for c in configs])
    for key, res in results.items():
        if "error" in res:
            print(f"note: {key}: {res['error'].splitlines()[0]}")
        if res.get("bench") is None and "error" not in res:
            print(f"note: {key}: bench_server.py failed (see its output above)")
        for who, f in res.get("fluent", {}).items():
            if "skipped" in f:
                client = "its own" if who == "own" else "the MLflow"
                print(f"note: {key}: fluent benchmark with {client} client skipped: {f['skipped']}")
    print(f"\n(total {time.perf_counter() - t0:.0f} s, {'quick' if args.quick else 'full'} sizes)")
    if args.json:
        doc = {
            "quick": args.quick,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "columns": {c.key: c.title for c in configs},
            "results": results,
            "rows": [r.__dict__ for r in rows],
        }
        Path(args.json).write_text(json.dumps(doc, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
