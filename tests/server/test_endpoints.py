"""The endpoint table: which handlers may run on the event loop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cairn.server.app import ExactRoutes, create_app
from cairn.server.config import ServerConfig
from cairn.server.endpoints import all_endpoints

# Work that grows with the data: a page of runs or experiments, a metric's history, a
# directory listing, every run of an experiment. These must never block the event loop.
UNBOUNDED = {
    "/mlflow/runs/search",
    "/mlflow/experiments/search",
    "/mlflow/metrics/get-history",
    "/mlflow/artifacts/list",
    "/mlflow/experiments/delete",
    "/mlflow/experiments/restore",
}


def test_handlers_whose_work_grows_with_the_data_run_in_worker_threads() -> None:
    paths = {e.path for e in all_endpoints()}
    assert paths >= UNBOUNDED  # every one of them exists
    assert not [e.path for e in all_endpoints() if e.bounded and e.path in UNBOUNDED]


def test_single_run_writes_and_reads_are_bounded() -> None:
    bounded = {e.path for e in all_endpoints() if e.bounded}
    for name in ("create", "get", "update", "log-metric", "log-batch", "set-tag"):
        assert f"/mlflow/runs/{name}" in bounded


def test_only_an_embedded_database_runs_bounded_handlers_inline(
    db_uri: str, tmp_path: Path
) -> None:
    config = ServerConfig(
        backend_store_uri=db_uri, artifacts_destination=str(tmp_path / "artifacts")
    ).resolved()
    embedded = create_app(config).state.context.embedded_db
    assert embedded == db_uri.startswith("sqlite:")


def test_exact_routes_take_only_endpoints_that_answer_their_own_errors(tmp_path: Path) -> None:
    config = ServerConfig(
        backend_store_uri=f"sqlite:///{tmp_path}/cairn.db",
        artifacts_destination=str(tmp_path / "artifacts"),
    ).resolved()
    exact = ExactRoutes(create_app(config)).exact
    for endpoint in all_endpoints():
        for prefix in ("/api", "/ajax-api"):
            for method in endpoint.methods:
                key = (method, f"{prefix}/{endpoint.version}{endpoint.path}")
                # Routes with ids in the path (MLflow 3's logged models) need the router.
                assert (key in exact) is ("{" not in endpoint.path), key
    assert ("GET", "/health") in exact
    # The artifact proxy relies on the app's exception handlers, so it stays behind them.
    assert not [path for _, path in exact if "mlflow-artifacts" in path]
    assert not [method for method, _ in exact if method == "HEAD"]


def test_the_server_does_not_import_the_http_client() -> None:
    # httpx is the remote client's; loading it would only slow the server's start.
    modules = "cairn.cli.main, cairn.server.app, cairn.server.runner"
    code = f"import sys, {modules}; print(sys.modules.get('httpx'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "None"
