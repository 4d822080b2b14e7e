"""Fixtures for CLI tests: a real SQLite file per test, and two ways to run `cairn`.

`cli` runs the Typer app in-process (CliRunner); `cairn_subprocess` runs the installed
console script (or `python -m cairn.cli` when the package is not installed) as a user would.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner, Result

from cairn.tracking.client import CairnClient
from tests.cli.support import REPO, WIDE, Cli, RunCairn, cairn_command


@pytest.fixture(autouse=True)
def _fresh_stores() -> Iterator[None]:
    """Close the engines the CLI opened so no test sees another's cached store."""
    yield
    from cairn.store.sql.store import SqlTrackingStore

    for store in SqlTrackingStore._cache.values():
        store.close()
    SqlTrackingStore._cache.clear()


@pytest.fixture
def cli(tracking_uri: str) -> Cli:
    """Run `cairn ARGS...` in-process against the test's database; returns the Result."""
    from cairn.cli.main import app

    runner = CliRunner(env=WIDE)

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args), prog_name="cairn")

    return invoke


@pytest.fixture
def client(tracking_uri: str) -> CairnClient:
    return CairnClient(tracking_uri=tracking_uri)


@pytest.fixture
def cairn_subprocess(tracking_uri: str) -> RunCairn:
    """Run `cairn ARGS...` as a separate process with the test's environment."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **WIDE, "PYTHONPATH": str(REPO)}
        return subprocess.run(
            [*cairn_command(), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    return run
