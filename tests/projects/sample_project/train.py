"""The sample project's script: uses its one dependency, logs with cairn, exits as told."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cairn

try:
    import six
except ImportError:  # run with --env-manager local, where the environment is not built
    six = None

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=0.5)
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--label", default="")
parser.add_argument("--exit-code", type=int, default=0)
parser.add_argument("--data")
parser.add_argument("--source")
args, passed_on = parser.parse_known_args()

with cairn.start_run() as run:
    for step in range(args.steps):
        cairn.log_metric("score", args.alpha * (step + 1), step=step)
    cairn.log_param("six_version", six.__version__ if six else "not installed")
    cairn.set_tags(
        {
            "sample.six_file": six.__file__ if six else "",
            "sample.python": sys.executable,
            "sample.label": args.label,
            "sample.passed_on": " ".join(passed_on),
        }
    )
    if args.data:
        cairn.set_tag("sample.data", Path(args.data).read_text().strip())
    if args.source:
        cairn.set_tag("sample.source", args.source)
    print(f"sample: run {run.info.run_id} alpha={args.alpha} label={args.label}")

sys.exit(args.exit_code)
