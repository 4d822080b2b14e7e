"""The real MLflow client against `cairn server`: artifacts through the proxy, and where
everything a client logs ends up (Cairn's SQL store and the artifact destination)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.server.mlflow_compat.support import unique


@pytest.fixture
def run_id(client: MlflowClient) -> str:
    return client.create_run(client.create_experiment(unique())).info.run_id


def make_tree(root: Path) -> dict[str, bytes]:
    """A small directory tree (nested dirs, an empty file, a space in a name, binary data)."""
    files = {
        "model/weights.bin": bytes(range(256)) * 40,
        "model/config.json": b'{"layers": 3}',
        "model/sub dir/notes file.txt": "ünïcode ✓\n".encode(),
        "model/empty.txt": b"",
        "readme.md": b"# hello\n",
    }
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_run_artifact_uri_is_proxied(client: MlflowClient, run_id: str) -> None:
    run = client.get_run(run_id)
    assert run.info.artifact_uri == (
        f"mlflow-artifacts:/{run.info.experiment_id}/{run_id}/artifacts"
    )
    assert client.list_artifacts(run_id) == []


def test_log_list_and_download(
    server: Any, client: MlflowClient, run_id: str, tmp_path: Path
) -> None:
    single = tmp_path / "metrics.csv"
    single.write_text("a,b\n1,2\n")
    client.log_artifact(run_id, str(single))
    client.log_artifact(run_id, str(single), artifact_path="copies/deep")
    source = tmp_path / "src"
    files = make_tree(source)
    client.log_artifacts(run_id, str(source), artifact_path="outputs")

    top = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in top] == [
        ("copies", True),
        ("metrics.csv", False),
        ("outputs", True),
    ]
    assert [f.file_size for f in top if not f.is_dir] == [len("a,b\n1,2\n")]

    # Listing below the root (the 3.x client first asks logged-models/search).
    outputs = client.list_artifacts(run_id, "outputs")
    assert [(f.path, f.is_dir) for f in outputs] == [
        ("outputs/model", True),
        ("outputs/readme.md", False),
    ]
    model = {f.path: f for f in client.list_artifacts(run_id, "outputs/model")}
    assert set(model) == {
        "outputs/model/config.json",
        "outputs/model/empty.txt",
        "outputs/model/sub dir",
        "outputs/model/weights.bin",
    }
    assert model["outputs/model/weights.bin"].file_size == 256 * 40
    assert model["outputs/model/sub dir"].is_dir
    assert model["outputs/model/empty.txt"].file_size in (0, None)
    assert client.list_artifacts(run_id, "no/such/dir") == []

    # Download one file, then a whole directory.
    one = client.download_artifacts(run_id, "copies/deep/metrics.csv", str(tmp_path / "one"))
    assert Path(one).read_text() == "a,b\n1,2\n"
    tree = client.download_artifacts(run_id, "outputs", str(tmp_path / "tree"))
    assert read_tree(Path(tree)) == files

    # The fluent helper, by run id and path.
    via_fluent = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="outputs/model", dst_path=str(tmp_path / "fluent")
    )
    assert read_tree(Path(via_fluent)) == {
        k.removeprefix("model/"): v for k, v in files.items() if k.startswith("model/")
    }
    everything = mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "all"))
    assert set(read_tree(Path(everything))) == {
        "metrics.csv",
        "copies/deep/metrics.csv",
        *(f"outputs/{k}" for k in files),
    }

    # The bytes are on the server's disk where the run's artifact URI says.
    experiment_id = client.get_run(run_id).info.experiment_id
    on_disk = Path(server.artifacts_destination) / experiment_id / run_id / "artifacts"
    assert read_tree(on_disk / "outputs") == files
    assert (on_disk / "copies" / "deep" / "metrics.csv").read_text() == "a,b\n1,2\n"


def test_file_names_that_need_escaping(
    server: Any, client: MlflowClient, run_id: str, tmp_path: Path
) -> None:
    names = ["a+b.txt", "ünïcödé.txt", "x=1,y@2&z;w.txt", "spaces in name.txt", "100%.txt"]
    source = tmp_path / "odd"
    source.mkdir()
    for name in names:
        (source / name).write_text(name)
    client.log_artifacts(run_id, str(source), "odd")
    assert sorted(f.path for f in client.list_artifacts(run_id, "odd")) == sorted(
        f"odd/{n}" for n in names
    )
    experiment_id = client.get_run(run_id).info.experiment_id
    on_disk = Path(server.artifacts_destination) / experiment_id / run_id / "artifacts" / "odd"
    assert sorted(p.name for p in on_disk.iterdir()) == sorted(names)
    back = Path(client.download_artifacts(run_id, "odd", str(tmp_path / "back")))
    assert {p.name: p.read_text() for p in back.iterdir()} == {n: n for n in names}


def test_text_and_dict_round_trip(client: MlflowClient, run_id: str) -> None:
    client.log_text(run_id, "line one\nlïne two ✓\n", "notes/readme.txt")
    client.log_dict(run_id, {"a": [1, 2], "b": {"c": None}}, "config/params.json")
    client.log_dict(run_id, {"k": "v"}, "config/params.yaml")
    assert (
        mlflow.artifacts.load_text(f"runs:/{run_id}/notes/readme.txt") == "line one\nlïne two ✓\n"
    )
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/config/params.json") == {
        "a": [1, 2],
        "b": {"c": None},
    }
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/config/params.yaml").strip() == "k: v"
    artifact_uri = client.get_run(run_id).info.artifact_uri
    assert mlflow.artifacts.load_text(f"{artifact_uri}/notes/readme.txt").startswith("line one")


def test_fluent_artifact_logging(server: Any, client: MlflowClient, tmp_path: Path) -> None:
    mlflow.set_experiment(unique())
    source = tmp_path / "src"
    files = make_tree(source)
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(source))
        mlflow.log_artifact(str(source / "readme.md"), artifact_path="docs")
        mlflow.log_text("plain", "texts/a.txt")
        mlflow.log_dict({"x": 1}, "dicts/x.json")
        artifact_uri = mlflow.get_artifact_uri()
    run_id = run.info.run_id
    assert artifact_uri == client.get_run(run_id).info.artifact_uri
    assert {f.path for f in client.list_artifacts(run_id)} == {
        "model",
        "readme.md",
        "docs",
        "texts",
        "dicts",
    }
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/docs/readme.md") == "# hello\n"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/dicts/x.json") == {"x": 1}
    downloaded = client.download_artifacts(run_id, "", str(tmp_path / "back"))
    assert {k: v for k, v in read_tree(Path(downloaded)).items() if k in files} == files


def test_missing_artifact_is_an_error(client: MlflowClient, run_id: str, tmp_path: Path) -> None:
    with pytest.raises((MlflowException, OSError)):
        mlflow.artifacts.load_text(f"runs:/{run_id}/nope.txt")
    with pytest.raises((MlflowException, OSError)):
        client.download_artifacts(run_id, "nope/also.txt", str(tmp_path))


def test_logged_data_lands_in_cairn_store(server: Any, client: MlflowClient) -> None:
    """Everything logged through MLflow is what Cairn's own SQL store reads back."""
    from cairn.store import get_tracking_store

    name = unique()
    mlflow.set_experiment(name)
    with mlflow.start_run(run_name="stored", tags={"team": "x"}) as run:
        mlflow.log_params({"lr": "0.1", "depth": "4"})
        for step in range(4):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metric("odd", math.nan)
        mlflow.log_text("saved", "out/result.txt")
    run_id = run.info.run_id

    store = get_tracking_store(server.backend_uri)
    experiment = store.get_experiment_by_name(name)
    assert experiment is not None and experiment.experiment_id == run.info.experiment_id
    stored = store.get_run(run_id)
    assert stored.info.run_name == "stored"
    assert str(getattr(stored.info.status, "value", stored.info.status)) == "FINISHED"
    assert stored.info.artifact_uri == run.info.artifact_uri
    assert stored.data.params == {"lr": "0.1", "depth": "4"}
    assert stored.data.tags["team"] == "x"
    assert stored.data.tags["mlflow.runName"] == "stored"
    assert stored.data.metrics["loss"] == 0.25
    assert math.isnan(stored.data.metrics["odd"])
    history = store.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(4)]

    stored_file = (
        Path(server.artifacts_destination)
        / run.info.experiment_id
        / run_id
        / "artifacts"
        / "out"
        / "result.txt"
    )
    assert stored_file.read_text() == "saved"


def test_list_artifacts_rest_endpoint_agrees(
    server: Any, client: MlflowClient, run_id: str
) -> None:
    """`/api/2.0/mlflow/artifacts/list` (through the run) sees what the proxy wrote."""
    import httpx

    client.log_text(run_id, "12345", "dir/file.txt")
    url = server.url + "/api/2.0/mlflow/artifacts/list"
    body = httpx.get(url, params={"run_id": run_id, "path": "dir"}).json()
    assert body["root_uri"] == client.get_run(run_id).info.artifact_uri
    assert body["files"] == [{"path": "dir/file.txt", "is_dir": False, "file_size": 5}]
