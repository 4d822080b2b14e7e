"""Helpers shared by the CLI tests (kept out of conftest.py so tests can import them)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

from cairn.entities import Experiment
from cairn.tracking.client import CairnClient

REPO = Path(__file__).resolve().parents[2]
WIDE = {"COLUMNS": "250", "NO_COLOR": "1"}

Cli = Callable[..., Result]
"""Runs `cairn ARGS...` in-process (CliRunner)."""

RunCairn = Callable[..., subprocess.CompletedProcess[str]]
"""Runs `cairn ARGS...` as a separate process."""


def cairn_command() -> list[str]:
    """The installed `cairn` script beside this interpreter, else `python -m cairn.cli`."""
    script = Path(sys.executable).parent / "cairn"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cairn.cli"]


def experiment_named(client: CairnClient, name: str) -> Experiment:
    """The experiment called `name`, which the test expects to exist."""
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None, f"no experiment named {name!r}"
    return experiment
