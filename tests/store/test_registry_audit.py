"""The registry's audit trail: every change, in order, with from → to and comments;
append-only; on all three databases."""

from __future__ import annotations

from typing import Any

import pytest

from cairn.exceptions import PolicyRefused, ResourceDoesNotExist
from cairn.store.sql.registry import SqlRegistryStore


def _trail(registry: SqlRegistryStore, name: str | None = None) -> list[tuple[str, ...]]:
    return [
        (e.action, e.name, e.version, e.key, e.from_value, e.to_value, e.comment)
        for e in registry.list_audit_entries(name)
    ]


def test_every_change_type_is_recorded_in_order_with_from_and_to(
    registry: SqlRegistryStore, model_run: str
) -> None:
    source = f"runs:/{model_run}/model"
    registry.create_registered_model("m", description="first")
    registry.update_registered_model("m", "second")
    registry.set_registered_model_tag("m", "team", "risk")
    registry.set_registered_model_tag("m", "team", "fraud")
    registry.delete_registered_model_tag("m", "team")
    registry.create_model_version("m", source)
    registry.create_model_version("m", source)
    registry.update_model_version("m", "1", "v1 notes")
    registry.set_model_version_tag("m", "1", "validated", "yes")
    registry.delete_model_version_tag("m", "1", "validated")
    registry.transition_model_version_stage("m", "1", "Staging", comment="smoke tests pass")
    registry.set_registered_model_alias("m", "champion", "1", comment="best so far")
    registry.set_registered_model_alias("m", "champion", "2")
    registry.delete_registered_model_alias("m", "champion", comment="retired")
    registry.delete_model_version("m", "2")
    assert _trail(registry, "m") == [
        ("CREATE_MODEL", "m", "", "", "", "first", ""),
        ("UPDATE_DESCRIPTION", "m", "", "", "first", "second", ""),
        ("SET_TAG", "m", "", "team", "", "risk", ""),
        ("SET_TAG", "m", "", "team", "risk", "fraud", ""),
        ("DELETE_TAG", "m", "", "team", "fraud", "", ""),
        ("CREATE_VERSION", "m", "1", "", "", source, ""),
        ("CREATE_VERSION", "m", "2", "", "", source, ""),
        ("UPDATE_DESCRIPTION", "m", "1", "", "", "v1 notes", ""),
        ("SET_TAG", "m", "1", "validated", "", "yes", ""),
        ("DELETE_TAG", "m", "1", "validated", "yes", "", ""),
        ("TRANSITION_STAGE", "m", "1", "", "None", "Staging", "smoke tests pass"),
        ("SET_ALIAS", "m", "1", "champion", "", "1", "best so far"),
        ("SET_ALIAS", "m", "2", "champion", "1", "2", ""),
        ("DELETE_ALIAS", "m", "2", "champion", "2", "", "retired"),
        ("DELETE_VERSION", "m", "2", "", "None", "", ""),
    ]
    entries = list(registry.list_audit_entries("m"))
    assert [e.id for e in entries] == sorted(e.id for e in entries)
    assert all(e.timestamp > 0 and e.user == "" for e in entries)


def test_history_follows_renames_and_outlives_the_model(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("old")
    registry.rename_registered_model("old", "new")
    registry.set_registered_model_tag("new", "k", "v")
    assert [a for a, *_ in _trail(registry, "new")] == ["CREATE_MODEL", "RENAME_MODEL", "SET_TAG"]
    assert _trail(registry, "new")[1][4:6] == ("old", "new")
    registry.delete_registered_model("new")
    assert [a for a, *_ in _trail(registry, "new")][-1] == "DELETE_MODEL"
    registry.create_registered_model("other")
    assert [e.name for e in registry.list_audit_entries()][-1] == "other"


def test_a_failed_change_leaves_no_entry_and_a_refused_one_is_audited(
    registry: SqlRegistryStore, model_run: str
) -> None:
    registry.create_registered_model("m")
    registry.create_model_version("m", f"runs:/{model_run}/model")
    before = len(_trail(registry, "m"))
    with pytest.raises(ResourceDoesNotExist):
        registry.set_registered_model_alias("m", "champion", "7")  # no version 7
    assert len(_trail(registry, "m")) == before
    registry.set_registry_policy("m", {"aliases": {"champion": [{"kind": "requires_signature"}]}})
    with pytest.raises(PolicyRefused):
        registry.set_registered_model_alias("m", "champion", "1", comment="try")
    action, _, version, key, _, to, why = _trail(registry, "m")[-1]
    assert (action, version, key, to) == ("REFUSED_SET_ALIAS", "1", "champion", "1")
    assert "requires_signature" in why
    assert registry.get_registered_model("m").aliases == {}


def test_pages_and_append_only(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("m")
    for i in range(5):
        registry.set_registered_model_tag("m", "k", str(i))
    first = registry.list_audit_entries("m", max_results=4)
    assert len(first) == 4 and first.token
    rest = registry.list_audit_entries("m", max_results=4, page_token=first.token)
    assert [e.to_value for e in rest] == ["3", "4"] and rest.token is None
    # The audit trail has readers only: no store, client or endpoint changes an entry.
    from cairn.server.endpoints import all_endpoints
    from cairn.tracking.client import CairnClient

    for owner in (SqlRegistryStore, CairnClient):
        names = [n for n in dir(owner) if "audit" in n]
        assert all(n.startswith(("list_", "get_")) for n in names), names
    audit_paths = [e for e in all_endpoints() if "audit" in e.path]
    assert [(e.path, e.methods) for e in audit_paths] == [("/cairn/registry/audit", ("GET",))]


def test_comments_are_optional_for_mlflow_style_calls(
    registry: SqlRegistryStore, store: Any
) -> None:
    registry.create_registered_model("m")
    assert registry.list_audit_entries("m")[0].comment == ""
