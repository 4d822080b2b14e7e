"""Model versions in the SQL registry store: sources, copies, numbering, stages, aliases."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cairn.entities import ModelVersionStage
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.store.model_sources import LocalArtifactAccess
from cairn.store.sql.registry import SqlRegistryStore


def _files(registry: SqlRegistryStore, uri: str) -> list[str]:
    repo = LocalArtifactAccess(registry.tracking.artifact_root).repository(uri)
    out: list[str] = []
    pending = [""]
    while pending:
        for info in repo.list_artifacts(pending.pop() or None):
            (pending if info.is_dir else out).append(info.path)
    return sorted(out)


def test_a_version_from_a_run_is_a_copy_that_outlives_the_run_files(
    registry: SqlRegistryStore, store: Any, model_run: str
) -> None:
    from cairn.artifacts import get_artifact_repository

    registry.create_registered_model("m")
    source = f"runs:/{model_run}/model"
    v1 = registry.create_model_version(
        "m", source, tags={"k": "v"}, description="first", run_link="http://ci/1"
    )
    assert (v1.name, v1.version, v1.source, v1.run_id) == ("m", "1", source, model_run)
    assert v1.status == "READY" and v1.current_stage == ModelVersionStage.NONE
    assert v1.tags == {"k": "v"} and v1.description == "first" and v1.run_link == "http://ci/1"
    assert v1.storage_location.startswith(registry.storage_root + "/")
    assert registry.get_model_version_download_uri("m", "1") == v1.storage_location
    assert _files(registry, v1.storage_location) == ["MLmodel", "data/weights.bin"]

    model = registry.get_registered_model("m")
    assert [v.version for v in model.latest_versions] == ["1"]
    assert model.last_updated_timestamp >= v1.creation_timestamp

    run_root = store.get_run(model_run).info.artifact_uri
    get_artifact_repository(run_root).delete_artifacts()
    store.delete_run(model_run)
    assert _files(registry, registry.get_model_version_download_uri("m", "1")) == [
        "MLmodel",
        "data/weights.bin",
    ]


def test_sources_of_every_accepted_kind(
    registry: SqlRegistryStore, store: Any, model_run: str
) -> None:
    registry.create_registered_model("m")
    run_root = store.get_run(model_run).info.artifact_uri
    by_path = registry.create_model_version("m", f"{run_root}/model", run_id=model_run)
    assert by_path.version == "1" and by_path.run_id == model_run
    by_file_uri = registry.create_model_version("m", f"file://{run_root}/model")
    assert by_file_uri.run_id == ""
    from_model = registry.create_model_version("m", "models:/m/1")
    assert from_model.source == "models:/m/1" and from_model.run_id == model_run
    assert _files(registry, from_model.storage_location) == ["MLmodel", "data/weights.bin"]
    with pytest.raises(InvalidParameterValue, match="names run"):
        registry.create_model_version("m", f"runs:/{model_run}/model", run_id="f" * 32)
    with pytest.raises(ResourceDoesNotExist):
        registry.create_model_version("m", f"runs:/{'0' * 32}/model")
    with pytest.raises(InvalidParameterValue, match="no files"):
        registry.create_model_version("m", f"runs:/{model_run}/missing")
    with pytest.raises(ResourceDoesNotExist):
        registry.create_model_version("absent", f"runs:/{model_run}/model")


@pytest.mark.parametrize(
    "source",
    [
        "runs:/{run}/../../etc",
        "runs:/{run}/a/../../x",
        "runs:/{run}/%2e%2e/%2e%2e/x",
        "runs:/{run}/%252e%252e%252f",
        "{root}/../../outside",
        "{root}/..\\..\\outside",
        "{root}/model%00",
        "{root}/model#/../../x",
        "{root}/model%23/../x",
        "/etc",
        "/etc/passwd",
        "file:///etc/",
        "file:/etc",
        "file://otherhost/srv/models",
        "//host/share/x",
        "C:\\models\\x",
        "relative/model",
        "http://169.254.169.254/latest/meta-data",
        "https://example.com/model.tar",
        "mlflow-artifacts:/0/x/artifacts/model",
        "{outside}",
    ],
)
def test_sources_outside_the_artifact_store_are_refused(
    registry: SqlRegistryStore, store: Any, model_run: str, tmp_path: Path, source: str
) -> None:
    outside = tmp_path / "outside-model"
    outside.mkdir()
    (outside / "MLmodel").write_text("secret")
    root = store.get_run(model_run).info.artifact_uri
    registry.create_registered_model("m")
    text = source.format(run=model_run, root=root, outside=outside)
    with pytest.raises(InvalidParameterValue):
        registry.create_model_version("m", text)
    assert registry.search_model_versions("name = 'm'") == []
    assert not (Path(registry.storage_root)).exists() or not any(
        Path(registry.storage_root).iterdir()
    )


def test_numbers_are_never_reused_after_deletes(registry: SqlRegistryStore, model_run: str) -> None:
    registry.create_registered_model("m")
    source = f"runs:/{model_run}/model"
    for expected in ("1", "2", "3"):
        assert registry.create_model_version("m", source).version == expected
    copy = registry.get_model_version("m", "3").storage_location
    registry.delete_model_version("m", "3")
    assert _files(registry, copy) == []
    assert registry.create_model_version("m", source).version == "4"
    with pytest.raises(ResourceDoesNotExist):
        registry.get_model_version("m", "3")
    with pytest.raises(InvalidParameterValue):
        registry.get_model_version("m", "three")


def test_concurrent_creators_get_one_to_n_without_gaps(
    registry: SqlRegistryStore, model_run: str
) -> None:
    registry.create_registered_model("busy")
    source = f"runs:/{model_run}/model"
    threads, each = 4, 4
    got: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def create() -> None:
        try:
            start.wait()
            for _ in range(each):
                got.append(registry.create_model_version("busy", source).version)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=create) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    expected = [str(n) for n in range(1, threads * each + 1)]
    assert sorted(got, key=int) == expected
    listed = registry.search_model_versions("name = 'busy'", order_by=["version_number ASC"])
    assert [v.version for v in listed] == expected


def test_stages_and_latest_versions(registry: SqlRegistryStore, model_run: str) -> None:
    registry.create_registered_model("m")
    for _ in range(4):
        registry.create_model_version("m", f"runs:/{model_run}/model")
    moved = registry.transition_model_version_stage("m", "1", "production")
    assert moved.current_stage == ModelVersionStage.PRODUCTION
    registry.transition_model_version_stage("m", "2", "Staging")
    registry.transition_model_version_stage("m", "3", "STAGING")
    latest = registry.get_latest_versions("m")
    assert [(v.current_stage.value, v.version) for v in latest] == [
        ("None", "4"),
        ("Staging", "3"),
        ("Production", "1"),
    ]
    assert [v.version for v in registry.get_latest_versions("m", ["staging"])] == ["3"]
    assert registry.get_latest_versions("m", ["Archived"]) == []

    registry.transition_model_version_stage("m", "3", "Production", archive_existing_versions=True)
    stages = {v.version: v.current_stage.value for v in registry.search_model_versions("name='m'")}
    assert stages == {"1": "Archived", "2": "Staging", "3": "Production", "4": "None"}
    model = registry.get_registered_model("m")
    assert {v.current_stage.value: v.version for v in model.latest_versions} == {
        "None": "4",
        "Staging": "2",
        "Production": "3",
        "Archived": "1",
    }
    with pytest.raises(InvalidParameterValue, match="stage"):
        registry.transition_model_version_stage("m", "1", "Live")
    with pytest.raises(InvalidParameterValue, match="archive_existing_versions"):
        registry.transition_model_version_stage("m", "1", "Archived", True)
    with pytest.raises(InvalidParameterValue):
        registry.get_latest_versions("m", ["Live"])


def test_aliases(registry: SqlRegistryStore, model_run: str) -> None:
    registry.create_registered_model("m")
    for _ in range(3):
        registry.create_model_version("m", f"runs:/{model_run}/model")
    registry.set_registered_model_alias("m", "champion", "1")
    registry.set_registered_model_alias("m", "champion", "2")  # moves the alias
    registry.set_registered_model_alias("m", "challenger", "3")
    assert registry.get_model_version_by_alias("m", "champion").version == "2"
    assert registry.get_model_version("m", "2").aliases == ("champion",)
    assert registry.get_model_version("m", "1").aliases == ()
    assert registry.get_registered_model("m").aliases == {"challenger": "3", "champion": "2"}
    assert registry.get_model_version_by_alias("m", "LATEST").version == "3"
    for reserved in ("latest", "Latest", "v1", "V12", "bad alias", "a/b", ""):
        with pytest.raises(InvalidParameterValue):
            registry.set_registered_model_alias("m", reserved, "1")
    with pytest.raises(ResourceDoesNotExist):
        registry.set_registered_model_alias("m", "x", "9")
    with pytest.raises(InvalidParameterValue, match="not found"):
        registry.get_model_version_by_alias("m", "ghost")
    registry.delete_model_version("m", "3")  # takes its aliases along
    assert registry.get_registered_model("m").aliases == {"champion": "2"}
    registry.delete_registered_model_alias("m", "champion")
    registry.delete_registered_model_alias("m", "champion")  # missing: a no-op
    assert registry.get_registered_model("m").aliases == {}


def test_update_tags_and_timestamps(registry: SqlRegistryStore, model_run: str) -> None:
    registry.create_registered_model("m")
    created = registry.create_model_version("m", f"runs:/{model_run}/model")
    time.sleep(0.002)
    updated = registry.update_model_version("m", "1", "better")
    assert updated.description == "better"
    assert updated.last_updated_timestamp > created.last_updated_timestamp
    assert updated.creation_timestamp == created.creation_timestamp
    registry.set_model_version_tag("m", "1", "validated", "yes")
    registry.set_model_version_tag("m", "1", "k", "v")
    registry.delete_model_version_tag("m", "1", "k")
    registry.delete_model_version_tag("m", "1", "missing")
    assert registry.get_model_version("m", "1").tags == {"validated": "yes"}
    with pytest.raises(ResourceDoesNotExist):
        registry.set_model_version_tag("m", "2", "k", "v")


def test_search_model_versions(registry: SqlRegistryStore, store: Any, model_run: str) -> None:
    other_run = store.create_run("0").info.run_id
    registry.create_registered_model("a")
    registry.create_registered_model("b")
    source = f"runs:/{model_run}/model"
    for name in ("a", "b", "a", "b", "a"):
        registry.create_model_version(name, source)
    registry.set_model_version_tag("a", "2", "env", "prod")
    store_run_root = store.get_run(model_run).info.artifact_uri

    def keys(filter_string: str | None = None, **kw: Any) -> list[tuple[str, str]]:
        found = registry.search_model_versions(filter_string, **kw)
        return [(v.name, v.version) for v in found]

    everything = [("a", "3"), ("a", "2"), ("a", "1"), ("b", "2"), ("b", "1")]
    assert keys() == everything  # name ASC, version_number DESC
    assert keys("name = 'b'") == [("b", "2"), ("b", "1")]
    assert keys("name IN ('b') AND version_number >= 2") == [("b", "2")]
    assert keys(f"run_id = '{model_run}'") == everything
    assert keys(f"run_id = '{other_run}'") == []
    assert keys("tags.env = 'prod'") == [("a", "2")]
    assert keys("source_path LIKE 'runs:/%'") == everything
    assert keys(f"source_path = '{store_run_root}'") == []
    assert keys(order_by=["version_number ASC", "name DESC"])[:2] == [("b", "1"), ("a", "1")]
    page = registry.search_model_versions(max_results=2)
    assert len(page) == 2 and page.token
    rest = registry.search_model_versions(max_results=10, page_token=None)
    assert len(rest) == 5
    with pytest.raises(InvalidParameterValue):
        registry.search_model_versions(max_results=200_001)
    with pytest.raises(InvalidParameterValue):
        registry.search_model_versions("metrics.x > 1")
