"""`cairn models serve` against `mlflow models serve` on the same iris RandomForest model.

    .venv/bin/python bench/bench_serving.py                 # both servers, full sizes
    .venv/bin/python bench/bench_serving.py --quick         # fewer requests, 3 s of load
    .venv/bin/python bench/bench_serving.py --skip-mlflow   # Cairn only

Each library trains the same `RandomForestClassifier(random_state=0)` on iris in its own
virtualenv and saves it with its own `save_model` (MLflow: `mlflow.sklearn`, Cairn:
`cairn.sklearn`); both servers must then give the same predictions for all 150 rows, which
the script checks before measuring. For each server it measures:

* start: from launching the command to the first successful 1-row `/invocations`, median
  and best of `--starts` launches (3);
* latency: p50/p95 of sequential 1-row requests on one keep-alive connection;
* throughput: requests/s of N concurrent clients (threads, one `httpx.Client` each) for a
  fixed time, every answer checked for status 200.

The load generator uses the standard library and httpx only; nothing here imports Cairn or
MLflow (they run in subprocesses, each with its own interpreter).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
CAIRN_PYTHON = sys.executable
DEFAULT_MLFLOW_PYTHON = "/work/mlflow-venv/bin/python"
COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ONE_ROW = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[5.9, 3.0, 5.1, 1.8]]}})
HEADERS = {"content-type": "application/json"}

TRAIN = """
import sys
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
X, y = load_iris(return_X_y=True, as_frame=True)
model = RandomForestClassifier(random_state=0).fit(X, y)
"""
# MLflow 3 saves with skops by default too; it asks for the tree type to be trusted by name.
SAVE_MLFLOW = """
import mlflow.sklearn
mlflow.sklearn.save_model(model, sys.argv[1], skops_trusted_types=["sklearn.tree._tree.Tree"])
"""
SAVE_CAIRN = "import cairn.sklearn\ncairn.sklearn.save_model(model, sys.argv[1])\n"
# The in-process floor: what one prediction costs without any server.
PREDICT_COST = """
import sys, time, warnings
import pandas as pd
import cairn.pyfunc
warnings.simplefilter("ignore")
model = cairn.pyfunc.load_model(sys.argv[1])
raw = model.get_raw_model()
cols = {cols!r}
frame = pd.DataFrame([[5.9, 3.0, 5.1, 1.8]], columns=cols)
def best(fn, n=300):
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1000
print(f"{{best(lambda: raw.predict(frame)):.3f}} {{best(lambda: model.predict(frame)):.3f}}")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_python(python: str, code: str, *args: str) -> str:
    done = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{python} failed:\n{done.stderr[-3000:]}")
    return done.stdout


class Server:
    """A scoring server subprocess: started, timed to its first answer, stopped."""

    def __init__(
        self, name: str, command: list[str], port: int, log: Path, env: dict[str, str]
    ) -> None:
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self._log_file = log.open("wb")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        self.start_seconds = self._wait_first_answer()

    def _wait_first_answer(self, timeout: float = 120.0) -> float:
        deadline = self.started + timeout
        with httpx.Client(timeout=5) as client:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise SystemExit(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
                try:
                    url = self.url + "/invocations"
                    answer = client.post(url, content=ONE_ROW, headers=HEADERS)
                    if answer.status_code == 200:
                        return time.perf_counter() - self.started
                except httpx.TransportError:
                    pass
                time.sleep(0.01)
        log = self.log.read_text()[-3000:]
        raise SystemExit(f"{self.name} did not answer in {timeout} s:\n{log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log_file.close()


def predictions(url: str, rows: list[list[float]]) -> list[object]:
    body = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": rows}})
    answer = httpx.post(url + "/invocations", content=body, headers=HEADERS, timeout=30)
    answer.raise_for_status()
    return list(answer.json()["predictions"])


def latency(url: str, requests: int) -> tuple[float, float]:
    """p50 and p95 in milliseconds of sequential 1-row requests on one connection."""
    times: list[float] = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(30):
            client.post("/invocations", content=ONE_ROW, headers=HEADERS).raise_for_status()
        for _ in range(requests):
            start = time.perf_counter()
            answer = client.post("/invocations", content=ONE_ROW, headers=HEADERS)
            times.append(time.perf_counter() - start)
            answer.raise_for_status()
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.95) - 1] * 1000


def throughput(url: str, clients: int, seconds: float) -> float:
    """Successful 1-row requests per second with `clients` concurrent clients."""
    counts = [0] * clients
    failures: list[str] = []
    go = threading.Event()
    stop_at = [0.0]

    def client_loop(i: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            client.post("/invocations", content=ONE_ROW, headers=HEADERS)  # connect first
            go.wait()
            while time.perf_counter() < stop_at[0]:
                answer = client.post("/invocations", content=ONE_ROW, headers=HEADERS)
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {answer.text[:200]}")
                    return
                counts[i] += 1

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    start = time.perf_counter()
    stop_at[0] = start + seconds
    go.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{url}: failed requests under load: {failures[0]}")
    return sum(counts) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 requests, 3 s, 1 start")
    parser.add_argument("--requests", type=int, default=500, help="sequential requests")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="load duration")
    parser.add_argument("--starts", type=int, default=3, help="starts timed per server")
    parser.add_argument("--cairn-workers", type=int, default=1)
    parser.add_argument("--mlflow-workers", type=int, default=1)
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument(
        "--generic",
        action="store_true",
        help="also Cairn with --no-fast-path (the model's own predict, through pandas)",
    )
    parser.add_argument(
        "--mlflow-python",
        default=os.environ.get("MLFLOW_PYTHON", DEFAULT_MLFLOW_PYTHON),
        help="interpreter of a virtualenv with mlflow installed",
    )
    parser.add_argument("--workdir", help="keep the models and logs here")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.seconds, args.starts = 200, 3.0, 1
    if not args.skip_mlflow and not Path(args.mlflow_python).exists():
        raise SystemExit(
            f"No MLflow interpreter at {args.mlflow_python}: pass --mlflow-python, set "
            "MLFLOW_PYTHON, or run with --skip-mlflow (see bench/README.md for the venv)"
        )

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-serving-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cairn_dir, mlflow_dir = workdir / "cairn-model", workdir / "mlflow-model"
    for d in (cairn_dir, mlflow_dir):
        shutil.rmtree(d, ignore_errors=True)
    run_python(CAIRN_PYTHON, TRAIN + SAVE_CAIRN, str(cairn_dir))
    raw_ms, pyfunc_ms = run_python(
        CAIRN_PYTHON, textwrap.dedent(PREDICT_COST.format(cols=COLUMNS)), str(cairn_dir)
    ).split()
    print(f"in-process 1-row predict: estimator {raw_ms} ms, cairn pyfunc {pyfunc_ms} ms")

    cairn_bin = str(Path(CAIRN_PYTHON).with_name("cairn"))
    commands = {
        "cairn": [
            cairn_bin,
            "models",
            "serve",
            "-m",
            str(cairn_dir),
            "--no-log-requests",
            "--workers",
            str(args.cairn_workers),
        ],
    }
    if args.generic:
        commands["cairn-generic"] = [*commands["cairn"], "--no-fast-path"]
    if not args.skip_mlflow:
        run_python(args.mlflow_python, TRAIN + SAVE_MLFLOW, str(mlflow_dir))
        mlflow_bin = str(Path(args.mlflow_python).with_name("mlflow"))
        commands["mlflow"] = [
            mlflow_bin,
            "models",
            "serve",
            "-m",
            str(mlflow_dir),
            "--env-manager",
            "local",
            "--workers",
            str(args.mlflow_workers),
        ]

    iris_rows = [[float(v) for v in row] for row in _iris_rows()]
    results: dict[str, dict[str, float]] = {}
    answers: dict[str, list[object]] = {}
    for name, command in commands.items():
        # `mlflow models serve` runs `uvicorn` from PATH: its virtualenv's bin must be there.
        bin_dir = str(Path(command[0]).parent)
        env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
        starts: list[float] = []
        for attempt in range(args.starts):
            port = free_port()
            full = [*command, "--port", str(port), "--host", "127.0.0.1"]
            server = Server(name, full, port, workdir / f"{name}.log", env)
            starts.append(server.start_seconds)
            try:
                if attempt == args.starts - 1:  # measure on the last one
                    answers[name] = predictions(server.url, iris_rows)
                    p50, p95 = latency(server.url, args.requests)
                    rps = throughput(server.url, args.clients, args.seconds)
            finally:
                server.stop()
        results[name] = {
            "start": statistics.median(starts),
            "start_best": min(starts),
            "p50": p50,
            "p95": p95,
            "rps": rps,
        }
        print(f"{name}: done (starts: {', '.join(f'{s:.2f}' for s in starts)} s)", flush=True)

    if any(answer != answers["cairn"] for answer in answers.values()):
        raise SystemExit("the servers disagree on the iris predictions")
    _table(results, args)


def _iris_rows() -> list[list[float]]:
    """The 150 iris rows, read from the Cairn interpreter (no sklearn import here)."""
    code = (
        "import json; from sklearn.datasets import load_iris; "
        "print(json.dumps(load_iris().data.tolist()))"
    )
    return list(json.loads(run_python(CAIRN_PYTHON, code)))


def _table(results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    rows = [
        ("start to first answer, median (s)", "start", "{:.2f}", "lower"),
        ("start to first answer, best (s)", "start_best", "{:.2f}", "lower"),
        ("1-row latency p50 (ms)", "p50", "{:.2f}", "lower"),
        ("1-row latency p95 (ms)", "p95", "{:.2f}", "lower"),
        (f"{args.clients} clients (requests/s)", "rps", "{:.0f}", "higher"),
    ]
    names = list(results)
    versus = "mlflow" in results
    print()
    header = f"{'':36}" + "".join(f"{n:>14}" for n in names)
    print(header + ("   cairn vs mlflow" if versus else ""))
    for label, key, fmt, better in rows:
        line = f"{label:36}" + "".join(f"{fmt.format(results[n][key]):>14}" for n in names)
        if versus:
            c, m = results["cairn"][key], results["mlflow"][key]
            line += f"   {(m / c if better == 'lower' else c / m):.1f}x"
        print(line)
    print(
        f"\n{args.requests} sequential requests; {args.clients} clients for {args.seconds:g} s; "
        f"workers: cairn {args.cairn_workers}, mlflow {args.mlflow_workers}; ratio = how many "
        "times better Cairn is"
    )


if __name__ == "__main__":
    main()
