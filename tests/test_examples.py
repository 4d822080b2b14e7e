"""The README's example runs as documented: the iris grid, then `cairn runs list`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("sklearn")


def test_iris_grid_example_logs_twenty_runs_and_the_cli_lists_the_best(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "MLFLOW_"))}
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "iris_grid.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "logged 20 runs" in run.stdout
    assert (tmp_path / "cairn-data" / "cairn.db").exists()

    listing = subprocess.run(
        [
            sys.executable,
            "-m",
            "cairn.cli",
            "runs",
            "list",
            "--experiment-name",
            "iris-grid",
            "--order-by",
            "metrics.accuracy DESC",
            "--max-results",
            "5",
            "--json",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode == 0, listing.stderr
    runs = json.loads(listing.stdout)
    assert len(runs) == 5
    accuracies = [
        next(m["value"] for m in r["data"]["metrics"] if m["key"] == "accuracy") for r in runs
    ]
    assert accuracies == sorted(accuracies, reverse=True)
    best = runs[0]
    assert {p["key"] for p in best["data"]["params"]} >= {"max_depth", "max_leaf_nodes"}
    assert best["inputs"]["dataset_inputs"][0]["dataset"]["name"] == "iris"
    artifacts = Path(best["info"]["artifact_uri"]) / "model" / "model.pkl"
    assert artifacts.is_file()
