"""Transition requests: stages whose policy requires approval are reached by request →
approve (or reject), each with a comment and audited; on all three databases."""

from __future__ import annotations

import time
from typing import Any

import pytest

from cairn.entities import Metric, ModelVersionStage
from cairn.exceptions import InvalidParameterValue, PolicyRefused, ResourceAlreadyExists
from cairn.store.sql.registry import SqlRegistryStore

GATED = {
    "stages": {
        "Production": [
            {"kind": "requires_approval"},
            {"kind": "metric", "key": "auc", "op": ">", "value": 0.8},
        ]
    }
}


def test_request_approve_and_reject(registry: SqlRegistryStore, store: Any, model_run: str) -> None:
    store.log_metric(model_run, Metric("auc", 0.9, int(time.time() * 1000), 0))
    registry.create_registered_model("m")
    for _ in range(2):
        registry.create_model_version("m", f"runs:/{model_run}/model")
    registry.set_registry_policy("m", GATED)

    with pytest.raises(PolicyRefused, match=r"requires_approval.*request"):
        registry.transition_model_version_stage("m", "1", "Production")
    with pytest.raises(InvalidParameterValue, match="requires no approval"):
        registry.request_transition("m", "1", "Staging")

    first = registry.request_transition("m", "1", "production", comment="ready")
    assert (first.name, first.version, first.stage, first.status) == (
        "m",
        "1",
        "Production",
        "PENDING",
    )
    with pytest.raises(ResourceAlreadyExists):
        registry.request_transition("m", "1", "Production")
    second = registry.request_transition("m", "2", "Production", comment="also ready")
    assert [r.id for r in registry.list_transition_requests("m")] == [first.id, second.id]

    moved = registry.approve_transition_request(first.id, comment="lgtm")
    assert moved.current_stage == ModelVersionStage.PRODUCTION
    rejected = registry.reject_transition_request(second.id, comment="not yet")
    assert (rejected.status, rejected.resolution_comment) == ("REJECTED", "not yet")
    assert registry.get_model_version("m", "2").current_stage == ModelVersionStage.NONE
    assert registry.list_transition_requests("m") == []
    done = registry.list_transition_requests("m", status="ALL")
    assert [(r.status, r.resolution_comment) for r in done] == [
        ("APPROVED", "lgtm"),
        ("REJECTED", "not yet"),
    ]
    with pytest.raises(InvalidParameterValue, match="already approved"):
        registry.approve_transition_request(first.id)

    trail = [(e.action, e.version, e.comment) for e in registry.list_audit_entries("m")][-6:]
    assert trail == [
        ("REFUSED_TRANSITION_STAGE", "1", trail[0][2]),
        ("REQUEST_TRANSITION", "1", "ready"),
        ("REQUEST_TRANSITION", "2", "also ready"),
        ("APPROVE_TRANSITION", "1", "lgtm"),
        ("TRANSITION_STAGE", "1", "lgtm"),
        ("REJECT_TRANSITION", "2", "not yet"),
    ]


def test_approval_checks_the_other_rules_again(
    registry: SqlRegistryStore, store: Any, model_run: str
) -> None:
    registry.create_registered_model("m")
    registry.create_model_version("m", f"runs:/{model_run}/model")
    registry.set_registry_policy("m", GATED)
    with pytest.raises(PolicyRefused, match="no metric 'auc'"):
        registry.request_transition("m", "1", "Production")  # could never pass
    store.log_metric(model_run, Metric("auc", 0.85, int(time.time() * 1000), 0))
    request = registry.request_transition("m", "1", "Production")
    store.log_metric(model_run, Metric("auc", 0.5, int(time.time() * 1000), 1))
    with pytest.raises(PolicyRefused, match=r"auc is 0\.5"):
        registry.approve_transition_request(request.id)
    assert registry.get_transition_request(request.id).status == "PENDING"
    assert registry.get_model_version("m", "1").current_stage == ModelVersionStage.NONE


def test_deleting_a_version_removes_its_requests(
    registry: SqlRegistryStore, model_run: str
) -> None:
    registry.create_registered_model("m")
    registry.create_model_version("m", f"runs:/{model_run}/model")
    registry.set_registry_policy("m", {"stages": {"Staging": [{"kind": "requires_approval"}]}})
    registry.request_transition("m", "1", "Staging")
    registry.delete_model_version("m", "1")
    assert registry.list_transition_requests(status="ALL") == []
