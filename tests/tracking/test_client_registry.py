"""The client's registry methods and `cairn.register_model`, in-process and against a server.

The same scenario runs on a local SQLite database (SqlRegistryStore) and through the
session's `cairn server` (RestRegistryStore + the artifact proxy): MLflow's method names,
`models:/` downloads in every form, and versions that outlive their run's files.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

import cairn
from cairn.entities import ModelVersionStage
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.store.registry_base import RegistryStore
from cairn.store.rest import RestRegistryStore
from cairn.store.sql.registry import SqlRegistryStore
from cairn.tracking.client import CairnClient


@pytest.fixture(params=["local", "server"])
def any_client(
    request: pytest.FixtureRequest, tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> CairnClient:
    if request.param == "local":
        return CairnClient(tracking_uri)
    url = request.getfixturevalue("live_server").url
    monkeypatch.setenv("CAIRN_TRACKING_URI", url)
    return CairnClient(url)


def _model_files(tmp_path: Path) -> Path:
    files = tmp_path / "model-src"
    files.mkdir(exist_ok=True)
    (files / "MLmodel").write_text("flavors: {}\n")
    (files / "weights.bin").write_bytes(b"w" * 64)
    return files


def test_the_registry_through_the_client(any_client: CairnClient, tmp_path: Path) -> None:
    c = any_client
    expected_store = SqlRegistryStore if "sqlite" in c.tracking_uri else RestRegistryStore
    assert isinstance(c.registry_store, expected_store)
    assert isinstance(c.registry_store, RegistryStore)  # the protocol, method for method
    experiment_id = c.create_experiment(f"reg-{uuid.uuid4().hex}")
    run_id = c.create_run(experiment_id).info.run_id
    c.log_artifacts(run_id, _model_files(tmp_path), "model")

    name = f"client-{uuid.uuid4().hex[:8]}"
    version = cairn.register_model(f"runs:/{run_id}/model", name, tags={"t": 1})
    assert (version.name, version.version, version.run_id) == (name, "1", run_id)
    assert version.tags == {"t": "1"}
    again = cairn.register_model(f"runs:/{run_id}/model", name)  # the model exists: fine
    assert again.version == "2"

    c.update_registered_model(name, "desc")
    c.set_registered_model_tag(name, "team", "ds")
    c.transition_model_version_stage(name, 1, "Production")
    c.set_registered_model_alias(name, "champion", 1)
    c.set_model_version_tag(name, 2, "k", "v")
    c.update_model_version(name, 2, "second")
    model = c.get_registered_model(name)
    assert model.description == "desc" and model.tags == {"team": "ds"}
    assert model.aliases == {"champion": "1"}
    assert {v.current_stage: v.version for v in model.latest_versions} == {
        ModelVersionStage.NONE: "2",
        ModelVersionStage.PRODUCTION: "1",
    }
    assert [v.version for v in c.get_latest_versions(name, ["Production"])] == ["1"]
    assert c.get_model_version_by_alias(name, "champion").version == "1"
    assert c.get_model_version(name, 2).tags == {"k": "v"}
    assert [m.name for m in c.search_registered_models(f"name = '{name}'")] == [name]
    assert [v.version for v in c.search_model_versions(f"name = '{name}'")] == ["2", "1"]

    for i, uri in enumerate(
        [
            f"models:/{name}/1",
            f"models:/{name}/production",
            f"models:/{name}/latest",
            f"models:/{name}@champion",
        ]
    ):
        local = Path(c.download_model_artifacts(uri, tmp_path / f"dl{i}"))
        assert (local / "MLmodel").read_text() == "flavors: {}\n"
    assert c.get_model_version_for_uri(f"models:/{name}/latest").version == "2"

    # The registry keeps its own copy: the run's files can go.
    for info in c.list_artifacts(run_id):
        assert info.path == "model"
    c.delete_run(run_id)
    assert (Path(c.download_model_artifacts(f"models:/{name}/1")) / "weights.bin").exists()

    c.rename_registered_model(name, name + "-renamed")
    assert c.get_model_version(name + "-renamed", 1).aliases == ("champion",)
    c.delete_registered_model_alias(name + "-renamed", "champion")
    c.delete_model_version_tag(name + "-renamed", 2, "k")
    c.delete_registered_model_tag(name + "-renamed", "team")
    c.delete_model_version(name + "-renamed", 2)
    with pytest.raises(ResourceDoesNotExist):
        c.get_model_version(name + "-renamed", 2)
    c.delete_registered_model(name + "-renamed")
    with pytest.raises(ResourceDoesNotExist):
        c.get_registered_model(name + "-renamed")
    with pytest.raises(InvalidParameterValue):
        c.download_model_artifacts("models:/x")


def test_create_model_version_with_the_run_artifact_uri(
    any_client: CairnClient, tmp_path: Path
) -> None:
    c = any_client
    run = c.create_run(c.create_experiment(f"uri-{uuid.uuid4().hex}"))
    c.log_artifacts(run.info.run_id, _model_files(tmp_path), "model")
    name = f"uri-{uuid.uuid4().hex[:8]}"
    c.create_registered_model(name)
    source = f"{run.info.artifact_uri}/model"
    version = c.create_model_version(name, source, run_id=run.info.run_id)
    assert version.source == source and version.run_id == run.info.run_id
    from_model = c.create_model_version(name, f"models:/{name}/1")
    assert from_model.version == "2"
    with pytest.raises(InvalidParameterValue):
        c.create_model_version(name, "/etc")


def test_a_separate_registry_uri_is_honoured(tmp_path: Path, tracking_uri: str) -> None:
    registry_uri = f"sqlite:///{tmp_path / 'registry.db'}"
    c = CairnClient(tracking_uri, registry_uri=registry_uri)
    c.create_registered_model("only-in-registry")
    store: Any = c.registry_store
    assert store.tracking.db_uri == registry_uri
    assert CairnClient(tracking_uri).search_registered_models() == []
