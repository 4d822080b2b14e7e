"""The real MLflow client's model registry calls against `cairn server`."""

from __future__ import annotations

import warnings
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.server.mlflow_compat.support import error_of, unique


@pytest.fixture(autouse=True)
def _quiet_stage_deprecations() -> None:
    # MLflow 3 warns on every stage call; stages are still part of the protocol we serve.
    warnings.filterwarnings("ignore", category=FutureWarning)


@pytest.fixture
def model_run(client: MlflowClient, experiment_id: str, tmp_path: Path) -> str:
    """A run with a model directory logged through the server's artifact proxy."""
    files = tmp_path / "model"
    files.mkdir()
    (files / "MLmodel").write_text("flavors: {}\n")
    (files / "weights.bin").write_bytes(b"w" * 100)
    run_id = client.create_run(experiment_id).info.run_id
    client.log_artifacts(run_id, str(files), "model")
    return run_id


def test_registered_model_lifecycle(client: MlflowClient) -> None:
    name = unique("model")
    created = client.create_registered_model(name, tags={"team": "ds"}, description="first")
    assert created.name == name and created.description == "first"
    assert created.tags == {"team": "ds"}
    assert created.creation_timestamp > 0

    client.update_registered_model(name, description="second")
    client.set_registered_model_tag(name, "tier", "1")
    client.delete_registered_model_tag(name, "team")
    fetched = client.get_registered_model(name)
    assert fetched.description == "second" and fetched.tags == {"tier": "1"}

    client.rename_registered_model(name, name + "-new")
    assert client.get_registered_model(name + "-new").tags == {"tier": "1"}
    with pytest.raises(MlflowException) as missing:
        client.get_registered_model(name)
    assert error_of(missing) == ("RESOURCE_DOES_NOT_EXIST", 404)
    with pytest.raises(MlflowException) as duplicate:
        client.create_registered_model(name + "-new")
    assert error_of(duplicate) == ("RESOURCE_ALREADY_EXISTS", 400)

    client.delete_registered_model(name + "-new")
    with pytest.raises(MlflowException):
        client.get_registered_model(name + "-new")


def test_search_registered_models_pages_and_filters(client: MlflowClient) -> None:
    prefix = unique("search")
    for i in range(5):
        client.create_registered_model(f"{prefix}-{i}", tags={"parity": str(i % 2)})
    found = client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'")
    assert [m.name for m in found] == [f"{prefix}-{i}" for i in range(5)]
    first = client.search_registered_models(
        filter_string=f"name LIKE '{prefix}-%'", max_results=2, order_by=["name DESC"]
    )
    assert [m.name for m in first] == [f"{prefix}-4", f"{prefix}-3"] and first.token
    second = client.search_registered_models(
        filter_string=f"name LIKE '{prefix}-%'",
        max_results=2,
        order_by=["name DESC"],
        page_token=first.token,
    )
    assert [m.name for m in second] == [f"{prefix}-2", f"{prefix}-1"]
    odd = client.search_registered_models(filter_string=f"name LIKE '{prefix}%' AND tag.parity='1'")
    assert {m.name for m in odd} == {f"{prefix}-1", f"{prefix}-3"}
    with pytest.raises(MlflowException) as bad:
        client.search_registered_models(filter_string="metrics.x > 1")
    assert error_of(bad) == ("INVALID_PARAMETER_VALUE", 400)


def test_register_a_run_model_and_download_it_by_every_uri_form(
    client: MlflowClient, model_run: str, tmp_path: Path
) -> None:
    name = unique("reg")
    version = mlflow.register_model(f"runs:/{model_run}/model", name)
    assert version.version == "1" and version.status == "READY"
    assert version.run_id == model_run
    second = client.create_model_version(name, f"runs:/{model_run}/model", run_id=model_run)
    assert second.version == "2"

    client.transition_model_version_stage(name, "1", "Production")
    client.set_registered_model_alias(name, "champion", "1")
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    model = client.get_registered_model(name)
    assert {v.current_stage: v.version for v in model.latest_versions} == {
        "None": "2",
        "Production": "1",
    }
    assert model.aliases == {"champion": "1"}
    assert client.get_model_version(name, "1").aliases == ["champion"]

    download_uri = client.get_model_version_download_uri(name, "1")
    assert download_uri.startswith("mlflow-artifacts:/models/")
    for i, uri in enumerate(
        [
            f"models:/{name}/1",
            f"models:/{name}/Production",
            f"models:/{name}/latest",
            f"models:/{name}@champion",
        ]
    ):
        local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / str(i))))
        assert (local / "MLmodel").read_text() == "flavors: {}\n"
        assert (local / "weights.bin").stat().st_size == 100

    # Deleting the run's files does not break the registered versions.
    client.delete_run(model_run)
    again = Path(
        mlflow.artifacts.download_artifacts(f"models:/{name}/1", dst_path=str(tmp_path / "x"))
    )
    assert (again / "MLmodel").exists()


def test_versions_stages_tags_search_and_delete(client: MlflowClient, model_run: str) -> None:
    name = unique("versions")
    client.create_registered_model(name)
    source = f"runs:/{model_run}/model"
    for _ in range(3):
        client.create_model_version(name, source, run_id=model_run, tags={"k": "v"})
    client.update_model_version(name, "2", description="two")
    client.set_model_version_tag(name, "2", "validated", "yes")
    client.delete_model_version_tag(name, "2", "k")
    v2 = client.get_model_version(name, "2")
    assert v2.description == "two" and v2.tags == {"validated": "yes"}

    client.transition_model_version_stage(name, "1", "staging")
    moved = client.transition_model_version_stage(
        name, "2", "Staging", archive_existing_versions=True
    )
    assert moved.current_stage == "Staging"
    assert client.get_model_version(name, "1").current_stage == "Archived"
    latest = client.get_latest_versions(name, stages=["Staging"])
    assert [v.version for v in latest] == ["2"]

    found = client.search_model_versions(f"name = '{name}'")
    assert [v.version for v in found] == ["3", "2", "1"]
    tagged = client.search_model_versions(f"name = '{name}' AND tags.validated = 'yes'")
    assert [v.version for v in tagged] == ["2"]
    paged = client.search_model_versions(f"name = '{name}'", max_results=2)
    assert len(paged) == 2 and paged.token

    client.delete_model_version(name, "3")
    with pytest.raises(MlflowException) as gone:
        client.get_model_version(name, "3")
    assert error_of(gone) == ("RESOURCE_DOES_NOT_EXIST", 404)
    assert client.create_model_version(name, source, run_id=model_run).version == "4"

    client.set_registered_model_alias(name, "a", "4")
    client.delete_registered_model_alias(name, "a")
    with pytest.raises(MlflowException) as no_alias:
        client.get_model_version_by_alias(name, "a")
    assert error_of(no_alias) == ("INVALID_PARAMETER_VALUE", 400)
    with pytest.raises(MlflowException) as bad_stage:
        client.transition_model_version_stage(name, "4", "Live")
    assert error_of(bad_stage) == ("INVALID_PARAMETER_VALUE", 400)


@pytest.mark.parametrize(
    "source",
    ["/etc", "file:///etc/passwd", "mlflow-artifacts:/../../etc", "http://169.254.169.254/x"],
)
def test_sources_outside_the_store_are_refused(client: MlflowClient, source: str) -> None:
    name = unique("refuse")
    client.create_registered_model(name)
    with pytest.raises(MlflowException) as refused:
        client.create_model_version(name, source)
    assert error_of(refused) == ("INVALID_PARAMETER_VALUE", 400)
    assert client.search_model_versions(f"name = '{name}'") == []


def test_copy_model_version_registers_from_a_models_uri(
    client: MlflowClient, model_run: str, tmp_path: Path
) -> None:
    source_name, target_name = unique("src"), unique("dst")
    mlflow.register_model(f"runs:/{model_run}/model", source_name)
    copied = client.copy_model_version(f"models:/{source_name}/1", target_name)
    assert (copied.name, copied.version) == (target_name, "1")
    local = Path(
        mlflow.artifacts.download_artifacts(f"models:/{target_name}/1", dst_path=str(tmp_path))
    )
    assert (local / "MLmodel").exists()


def test_a_promotion_policy_refusal_reaches_the_mlflow_client_at_once(
    server: object, client: MlflowClient, model_run: str
) -> None:
    import time

    from cairn.tracking.client import CairnClient

    name = unique("governed")
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{model_run}/model", run_id=model_run)
    cairn_client = CairnClient(server.url)  # type: ignore[attr-defined]
    cairn_client.set_registry_policy(
        name, {"stages": {"Production": [{"kind": "requires_signature"}]}}
    )
    started = time.monotonic()
    with pytest.raises(MlflowException) as refused:
        client.transition_model_version_stage(name, "1", "Production")
    assert time.monotonic() - started < 2  # 403 is not retried
    assert error_of(refused) == ("PERMISSION_DENIED", 403)
    assert "requires_signature" in refused.value.message
    assert "no signature" in refused.value.message
    assert client.get_model_version(name, "1").current_stage == "None"
    client.set_registered_model_alias(name, "champion", "1")  # no alias rules
    actions = [e.action for e in cairn_client.get_registry_audit(name)]
    assert actions[-2:] == ["REFUSED_TRANSITION_STAGE", "SET_ALIAS"]
