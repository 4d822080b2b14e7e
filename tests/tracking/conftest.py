"""Fixtures for the tracking tests: isolated fluent state and clients on real databases."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.tracking import async_logging, fluent, run_context, tracking_uri
from cairn.tracking.client import CairnClient

# Variables that would leak a developer's own setup into the tests.
_ENV = (
    "CAIRN_TRACKING_URI",
    "MLFLOW_TRACKING_URI",
    "CAIRN_ARTIFACT_ROOT",
    "MLFLOW_DEFAULT_ARTIFACT_ROOT",
    "CAIRN_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_ID",
    "CAIRN_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_NAME",
    "CAIRN_RUN_ID",
    "MLFLOW_RUN_ID",
    "CAIRN_PROJECT_ENTRY_POINT",
    "MLFLOW_PROJECT_ENTRY_POINT",
    "CAIRN_USER",
    "MLFLOW_TRACKING_USERNAME",
)


@pytest.fixture(autouse=True)
def isolated_fluent_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no active run, no chosen experiment or URI, in its own cwd,
    and leaves no queued writes behind nor background-logging failures it did not raise."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield
    stack = run_context.stack()
    while stack:
        with contextlib.suppress(Exception):
            fluent.end_run()
    queue = async_logging.queue()
    queue.wait()
    assert queue.take_failures() == [], "the test left background-logging failures unraised"
    run_context.set_last_run_id(None)
    tracking_uri.reset_tracking_uri()
    fluent._forget_experiment()
    for c in fluent._clients.values():
        with contextlib.suppress(Exception):
            c.store.close()  # type: ignore[attr-defined]
    fluent._clients.clear()
    fluent._run_clients.clear()


@pytest.fixture
def client(tracking_uri: str) -> CairnClient:
    """A client on a fresh SQLite database (also the fluent API's default via the env)."""
    return CairnClient(tracking_uri)


@pytest.fixture
def backend_client(store: object) -> CairnClient:
    """A client on each database backend (SQLite, PostgreSQL, MySQL)."""
    return CairnClient(store=store)  # type: ignore[arg-type]
