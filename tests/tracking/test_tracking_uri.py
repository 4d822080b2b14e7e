"""Which database the client opens, and where artifacts go by default."""

from __future__ import annotations

from pathlib import Path

import pytest

import cairn
from cairn.exceptions import InvalidParameterValue
from cairn.tracking import tracking_uri
from cairn.tracking.client import CairnClient


def test_default_is_a_sqlite_database_under_cairn_data_in_the_current_directory(
    tmp_path: Path,
) -> None:
    assert cairn.get_tracking_uri() == "sqlite:///cairn-data/cairn.db"
    assert not cairn.is_tracking_uri_set()

    client = CairnClient()

    assert client.tracking_uri == f"sqlite:///{tmp_path / 'cairn-data' / 'cairn.db'}"
    assert (tmp_path / "cairn-data").is_dir()
    assert client.get_experiment("0").artifact_location == str(
        tmp_path / "cairn-data" / "artifacts" / "0"
    )


def test_set_tracking_uri_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_TRACKING_URI", f"sqlite:///{tmp_path / 'env.db'}")
    assert cairn.get_tracking_uri() == f"sqlite:///{tmp_path / 'env.db'}"
    assert cairn.is_tracking_uri_set()

    cairn.set_tracking_uri(f"sqlite:///{tmp_path / 'set.db'}")

    assert cairn.get_tracking_uri() == f"sqlite:///{tmp_path / 'set.db'}"


def test_mlflow_variable_is_honoured_when_no_cairn_variable_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert cairn.get_tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_client_argument_wins_over_everything(tmp_path: Path) -> None:
    cairn.set_tracking_uri(f"sqlite:///{tmp_path / 'set.db'}")
    client = CairnClient(f"sqlite:///{tmp_path / 'arg.db'}")
    assert client.tracking_uri.endswith("/arg.db")


def test_relative_sqlite_paths_are_made_absolute(tmp_path: Path) -> None:
    resolved = tracking_uri.resolve_tracking_uri("sqlite:///sub/dir/x.db?timeout=5")
    assert resolved == f"sqlite:///{tmp_path / 'sub' / 'dir' / 'x.db'}?timeout=5"
    assert (tmp_path / "sub" / "dir").is_dir()


def test_in_memory_and_server_uris_are_left_alone() -> None:
    assert tracking_uri.resolve_tracking_uri("sqlite:///:memory:") == "sqlite:///:memory:"
    uri = "postgresql://user@db.example/cairn"
    assert tracking_uri.resolve_tracking_uri(uri) == uri


@pytest.mark.parametrize("uri", ["./mlruns", "mlruns", "/abs/mlruns", "file:///tmp/mlruns"])
def test_mlflow_file_store_uris_are_refused_with_advice(uri: str) -> None:
    with pytest.raises(InvalidParameterValue, match="sqlite:///"):
        cairn.set_tracking_uri(uri)
    with pytest.raises(InvalidParameterValue, match="file store"):
        CairnClient(uri)


def test_artifacts_default_to_a_directory_beside_the_sqlite_file(tmp_path: Path) -> None:
    root = tracking_uri.resolve_artifact_root(f"sqlite:///{tmp_path / 'db' / 'x.db'}")
    assert root == str(tmp_path / "db" / "artifacts")


def test_artifacts_for_server_databases_default_to_cairn_data_in_cwd(tmp_path: Path) -> None:
    root = tracking_uri.resolve_artifact_root("postgresql://h/db")
    assert root == str(tmp_path / "cairn-data" / "artifacts")


def test_artifact_root_setting_wins_and_relative_paths_become_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_ARTIFACT_ROOT", "store/here")
    assert tracking_uri.resolve_artifact_root("sqlite:///x.db") == str(tmp_path / "store/here")
    monkeypatch.setenv("CAIRN_ARTIFACT_ROOT", "s3://bucket/prefix")
    assert tracking_uri.resolve_artifact_root("sqlite:///x.db") == "s3://bucket/prefix"


def test_changing_the_uri_forgets_the_active_experiment(tmp_path: Path) -> None:
    cairn.set_tracking_uri(f"sqlite:///{tmp_path / 'a.db'}")
    cairn.set_experiment("only-in-a")

    cairn.set_tracking_uri(f"sqlite:///{tmp_path / 'b.db'}")

    with cairn.start_run() as run:
        pass
    assert run.info.experiment_id == "0"
