"""`cairn models predict` on a million rows: rows/s and peak memory, CSV and Parquet.

    .venv/bin/python bench/bench_batch_predict.py                 # 1,000,000 and 100,000 rows
    .venv/bin/python bench/bench_batch_predict.py --rows 200000 --small-rows 20000 --quick

Makes an iris-like input (the 150 iris rows resampled with noise, plus an id column) as CSV
and Parquet, saves a RandomForest trained on iris with `cairn.sklearn` (skops), then runs the
real command under `/usr/bin/time -v` for each format and chunk size, and prints:

* rows/s over the whole command (interpreter start and model load included) and over the
  scoring alone (the command's own "Scored N rows in S" note);
* the peak resident memory of the process.

Memory is bounded by the chunk size, not the file: the same chunk size gives nearly the same
peak for --small-rows and --rows. Files go to bench/.work/batch (git-ignored).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CAIRN = Path(sys.executable).parent / "cairn"


def make_inputs(workdir: Path, rows: int) -> dict[str, Path]:
    """iris-like rows as CSV and Parquet (made once per size and kept)."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_iris

    paths = {"csv": workdir / f"in-{rows}.csv", "parquet": workdir / f"in-{rows}.parquet"}
    if all(p.exists() for p in paths.values()):
        return paths
    iris = load_iris(as_frame=True).data
    rng = np.random.default_rng(0)
    picked = iris.to_numpy()[rng.integers(0, len(iris), rows)]
    noisy = np.round(picked + rng.normal(0, 0.1, picked.shape), 2)
    frame = pd.DataFrame(noisy, columns=iris.columns)
    frame.insert(0, "id", np.arange(rows))
    frame.to_csv(paths["csv"], index=False)
    frame.to_parquet(paths["parquet"], index=False, row_group_size=100_000)
    return paths


def make_model(workdir: Path, trees: int) -> Path:
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    import cairn.sklearn

    path = workdir / f"forest-{trees}"
    if path.exists():
        return path
    features, target = load_iris(return_X_y=True, as_frame=True)
    forest = RandomForestClassifier(n_estimators=trees, random_state=0).fit(features, target)
    cairn.sklearn.save_model(forest, path, input_example=features.head(3))
    return path


def run(model: Path, source: Path, fmt: str, chunk: int, rows: int) -> dict[str, float]:
    target = source.with_name(f"out-{rows}-{chunk}.{fmt}")
    command = [
        str(CAIRN), "models", "predict", "-m", str(model), "-i", str(source), "-o", str(target),
        "--chunk-size", str(chunk), "--keep-columns", "id",
    ]  # fmt: skip
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    started = time.perf_counter()
    done = subprocess.run([*timer, *command], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    scored = re.search(r"Scored ([\d,]+) rows in ([\d.]+)s", done.stderr)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    target.unlink()
    return {
        "wall": wall,
        "rows_s": rows / wall,
        "scoring_rows_s": rows / float(scored.group(2)) if scored else float("nan"),
        "peak_mib": int(peak.group(1)) / 1024 if peak else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-rows", type=int, default=100_000, help="0 to skip")
    parser.add_argument("--chunk-sizes", default="10000,100000")
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="one chunk size, 10 trees")
    parser.add_argument("--workdir", type=Path, default=HERE / ".work" / "batch")
    parser.add_argument("--clean", action="store_true", help="remove the work directory first")
    args = parser.parse_args()
    if args.clean and args.workdir.exists():
        shutil.rmtree(args.workdir)
    args.workdir.mkdir(parents=True, exist_ok=True)
    chunks = [int(c) for c in args.chunk_sizes.split(",")]
    if args.quick:
        chunks, args.trees = chunks[:1], 10
    model = make_model(args.workdir, args.trees)
    sizes = [n for n in (args.small_rows, args.rows) if n]

    print(f"RandomForest, {args.trees} trees, skops; cairn models predict --keep-columns id")
    print(f"{'format':8} {'rows':>10} {'chunk':>8} {'wall s':>8} {'rows/s':>10} "
          f"{'scoring rows/s':>15} {'peak RSS MiB':>13}")  # fmt: skip
    for rows in sizes:
        inputs = make_inputs(args.workdir, rows)
        for fmt, source in inputs.items():
            for chunk in chunks:
                r = run(model, source, fmt, chunk, rows)
                print(
                    f"{fmt:8} {rows:>10,} {chunk:>8,} {r['wall']:>8.1f} {r['rows_s']:>10,.0f} "
                    f"{r['scoring_rows_s']:>15,.0f} {r['peak_mib']:>13.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
