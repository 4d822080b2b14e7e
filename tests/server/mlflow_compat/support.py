"""Shared pieces of the MLflow-client compatibility suite (`test_mlflow_client_*.py`).

The suite drives a real `cairn server` subprocess with the real MLflow client. MLflow keeps
process-wide state (tracking URI, active experiment, the active-run stack, environment
variables it writes for subprocesses); `connect` sets it for one test and undoes all of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

# Set for every test: a server 5xx must fail the test at once, not retry for minutes.
CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
# Variables MLflow itself writes while a test runs (set_experiment, start_run, ...).
MLFLOW_WRITES = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID")


def connect(server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Point MLflow (client and fluent API) at `server` for one test, then reset it."""
    import mlflow
    import mlflow.tracking.fluent as fluent
    from mlflow.tracking._tracking_service import utils as tracking_utils

    for name, value in CLIENT_ENV.items():
        monkeypatch.setenv(name, value)
    for name in MLFLOW_WRITES:
        # setenv first so that monkeypatch records (and at teardown restores) the old state.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    monkeypatch.setattr(fluent, "_active_experiment_id", None)
    mlflow.set_tracking_uri(server.url)
    try:
        yield server
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()


def unique(prefix: str = "compat") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def error_of(excinfo: pytest.ExceptionInfo[Any]) -> tuple[str, int]:
    """(error_code, HTTP status) of an MlflowException raised by the client."""
    exc = excinfo.value
    return exc.error_code, exc.get_http_status_code()
