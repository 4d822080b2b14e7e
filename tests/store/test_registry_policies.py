"""Promotion policies: rules checked on stage transitions and alias changes, with real runs,
metrics and model directories, on all three databases."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from cairn.entities import Metric, ModelVersionStage
from cairn.exceptions import InvalidParameterValue, PolicyRefused, ResourceDoesNotExist
from cairn.store.sql.registry import SqlRegistryStore

SIGNED_MLMODEL = """\
flavors: {}
signature:
  inputs: '[{"type": "double", "name": "x"}]'
  outputs: '[{"type": "double"}]'
"""
PRODUCTION = {
    "stages": {
        "Production": [
            {"kind": "requires_signature"},
            {"kind": "metric", "key": "accuracy", "op": ">=", "value": 0.9},
        ]
    }
}


def _run_with_model(store: Any, tmp_path: Path, mlmodel: str | None, accuracy: float | None) -> str:
    from cairn.artifacts import get_artifact_repository

    run = store.create_run("0")
    files = tmp_path / f"model-{run.info.run_id}"
    files.mkdir()
    (files / "weights.bin").write_bytes(b"w")
    if mlmodel is not None:
        (files / "MLmodel").write_text(mlmodel)
    get_artifact_repository(run.info.artifact_uri).log_artifacts(files, "model")
    if accuracy is not None:
        store.log_metric(run.info.run_id, Metric("accuracy", accuracy, int(time.time() * 1000), 0))
    return str(run.info.run_id)


def _version(registry: SqlRegistryStore, run_id: str) -> str:
    return registry.create_model_version("m", f"runs:/{run_id}/model").version


def test_production_requires_a_signature_and_a_good_metric(
    registry: SqlRegistryStore, store: Any, tmp_path: Path
) -> None:
    registry.create_registered_model("m")
    registry.set_registry_policy("m", PRODUCTION)
    unsigned = _version(registry, _run_with_model(store, tmp_path, "flavors: {}\n", 0.95))
    no_mlmodel = _version(registry, _run_with_model(store, tmp_path, None, 0.95))
    weak_run = _run_with_model(store, tmp_path, SIGNED_MLMODEL, 0.85)
    weak = _version(registry, weak_run)
    no_metric = _version(registry, _run_with_model(store, tmp_path, SIGNED_MLMODEL, None))
    good = _version(registry, _run_with_model(store, tmp_path, SIGNED_MLMODEL, 0.93))

    cases = [
        (unsigned, "requires_signature", "no signature"),
        (no_mlmodel, "requires_signature", "no MLmodel file"),
        (weak, "metric accuracy >= 0.9", "accuracy is 0.85"),
        (no_metric, "metric accuracy >= 0.9", "no metric 'accuracy'"),
    ]
    for version, rule, why in cases:
        with pytest.raises(PolicyRefused) as refused:
            registry.transition_model_version_stage("m", version, "production")
        assert f"`{rule}`" in refused.value.message and why in refused.value.message
        assert refused.value.error_code == "PERMISSION_DENIED"
        assert registry.get_model_version("m", version).current_stage == ModelVersionStage.NONE

    moved = registry.transition_model_version_stage("m", good, "Production")
    assert moved.current_stage == ModelVersionStage.PRODUCTION
    # Other stages have no rules; the source run's *latest* value counts.
    registry.transition_model_version_stage("m", weak, "Staging")
    store.log_metric(weak_run, Metric("accuracy", 0.91, int(time.time() * 1000), 1))
    registry.transition_model_version_stage("m", weak, "Production")


def test_alias_rules_tag_rules_and_the_server_wide_policy(
    registry: SqlRegistryStore, store: Any, tmp_path: Path
) -> None:
    registry.create_registered_model("m")
    version = _version(registry, _run_with_model(store, tmp_path, SIGNED_MLMODEL, 0.5))
    registry.set_registry_policy(
        "*", {"aliases": {"champion": [{"kind": "requires_tag", "key": "validated"}]}}
    )
    registry.set_registry_policy(
        "m",
        {"aliases": {"champion": [{"kind": "requires_tag", "key": "owner", "value": "risk"}]}},
    )
    with pytest.raises(PolicyRefused, match=r"server-wide policy.*no tag 'validated'"):
        registry.set_registered_model_alias("m", "champion", version)
    registry.set_model_version_tag("m", version, "validated", "yes")
    registry.set_model_version_tag("m", version, "owner", "ops")
    with pytest.raises(PolicyRefused, match=r"policy of model 'm'.*'ops', not 'risk'"):
        registry.set_registered_model_alias("m", "champion", version)
    registry.set_model_version_tag("m", version, "owner", "risk")
    registry.set_registered_model_alias("m", "champion", version)
    registry.set_registered_model_alias("m", "challenger", version)  # no rules for it
    assert registry.get_registered_model("m").aliases == {"champion": "1", "challenger": "1"}
    registry.delete_registry_policy("*")
    assert registry.get_registry_policy("*") == {"stages": {}, "aliases": {}}


def test_policies_are_validated_and_belong_to_existing_models(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("m")
    bad = [
        ["not", "an", "object"],
        {"stages": {"Prod": []}},
        {"stages": {"Production": [{"kind": "vibes"}]}},
        {"stages": {"Production": [{"kind": "metric", "key": "a", "op": "=~", "value": 1}]}},
        {"stages": {"Production": [{"kind": "metric", "key": "a", "op": ">", "value": "x"}]}},
        {"stages": {"Production": [{"kind": "metric", "key": "a", "op": ">", "value": 10**400}]}},
        {"aliases": {"champion": [{"kind": "requires_approval"}]}},
        {"rules": {}},
        "{not json",
    ]
    for document in bad:
        with pytest.raises(InvalidParameterValue):
            registry.set_registry_policy("m", document)  # type: ignore[arg-type]
    with pytest.raises(ResourceDoesNotExist):
        registry.set_registry_policy("absent", PRODUCTION)
    with pytest.raises(InvalidParameterValue, match="server-wide"):
        registry.create_registered_model("*")  # "*" names the server-wide policy
    stored = registry.set_registry_policy("m", {"stages": {"production": []}})
    assert stored == {"stages": {"Production": []}, "aliases": {}}
    # A policy follows its model's renames and goes with it.
    registry.set_registry_policy("m", PRODUCTION)
    registry.rename_registered_model("m", "n")
    assert registry.get_registry_policy("n")["stages"]["Production"][0]["kind"] == (
        "requires_signature"
    )
    registry.delete_registered_model("n")
    registry.create_registered_model("n")
    assert registry.get_registry_policy("n") == {"stages": {}, "aliases": {}}
