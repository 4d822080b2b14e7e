"""Registered-model permissions in the database (every backend): rows keyed by the model's
internal key, so a rename keeps them and a delete removes them; the readable condition that
registry searches put in SQL keeps pages full."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from cairn.auth.permissions import REGISTERED_MODEL, Permission, PermissionStore
from cairn.auth.users import UserStore
from cairn.exceptions import ResourceAlreadyExists, ResourceDoesNotExist
from cairn.store.sql.engine import run_read
from cairn.store.sql.registry import SqlRegistryStore
from cairn.store.sql.schema import registered_model_permissions

PASSWORD = "correct horse battery"
M = REGISTERED_MODEL


@pytest.fixture
def registry(store: Any) -> SqlRegistryStore:
    users = UserStore(store.engine)
    users.create_user("ada", PASSWORD)
    users.create_user("bob", PASSWORD)
    return SqlRegistryStore(store)


def _rows(permissions: PermissionStore) -> int:
    query = select(func.count()).select_from(registered_model_permissions)
    return int(run_read(permissions.engine, lambda c: c.execute(query).scalar()) or 0)


def test_grants_by_name_levels_by_key(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("churn")
    permissions = PermissionStore(registry.engine)
    pk = permissions.model_pk("churn")
    assert pk is not None
    assert permissions.model_pk("Churn") is None  # the registry's exact-name lookup
    assert permissions.level("ada", pk, M) is Permission.READ  # the default
    grant = permissions.grant("churn", "ada", Permission.EDIT, M)
    assert grant.to_dict(M) == {
        "name": "churn",
        "user_id": grant.user_id,
        "username": "ada",
        "permission": "EDIT",
    }
    assert permissions.level("ada", pk, M) is Permission.EDIT
    assert permissions.level("ada", pk) is Permission.READ  # experiment `pk` is another thing
    with pytest.raises(ResourceAlreadyExists, match="registered model 'churn'"):
        permissions.grant("churn", "ada", Permission.READ, M, replace=False)
    assert [(g.resource_id, g.username) for g in permissions.list("churn", kind=M)] == [
        ("churn", "ada")
    ]
    assert permissions.get("churn", "ada", M).permission is Permission.EDIT
    permissions.revoke("churn", "ada", M)
    with pytest.raises(ResourceDoesNotExist, match="No permission"):
        permissions.get("churn", "ada", M)
    with pytest.raises(ResourceDoesNotExist, match="No registered model named 'nope'"):
        permissions.grant("nope", "ada", Permission.READ, M)


def test_a_rename_keeps_the_rows_and_a_delete_removes_them(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("old")
    permissions = PermissionStore(registry.engine)
    permissions.grant("old", "ada", Permission.MANAGE, M)
    permissions.grant("old", "bob", Permission.NO_PERMISSIONS, M)
    registry.rename_registered_model("old", "new")
    assert [(g.resource_id, g.username, g.permission) for g in permissions.list(kind=M)] == [
        ("new", "ada", Permission.MANAGE),
        ("new", "bob", Permission.NO_PERMISSIONS),
    ]
    registry.delete_registered_model("new")
    assert _rows(permissions) == 0
    registry.create_registered_model("new")  # the name again: a new model, no rows
    pk = permissions.model_pk("new")
    assert pk is not None
    assert permissions.level("bob", pk, M) is Permission.READ


@pytest.mark.parametrize("default", [Permission.READ, Permission.NO_PERMISSIONS])
def test_searches_filter_in_sql_with_full_pages(
    registry: SqlRegistryStore, default: Permission
) -> None:
    permissions = PermissionStore(registry.engine, default)
    names = [f"m{i}" for i in range(7)]
    for name in names:
        registry.create_registered_model(name)
        registry.create_model_version(name, _source(registry, name))
    readable = {"m1", "m3", "m6"}
    for name in names:
        level = Permission.READ if name in readable else Permission.NO_PERMISSIONS
        permissions.grant(name, "ada", level, M)

    def condition(column: Any) -> Any:
        return permissions.readable_condition("ada", column, M)

    pages, token = [], None
    while True:
        page = registry.search_registered_models(
            max_results=2, page_token=token, readable=condition
        )
        pages.append([m.name for m in page])
        token = page.token
        if not token:
            break
    assert pages == [["m1", "m3"], ["m6"]]

    versions, token = [], None
    while True:
        found = registry.search_model_versions(max_results=2, page_token=token, readable=condition)
        versions.append([v.name for v in found])
        token = found.token
        if not token:
            break
    assert versions == [["m1", "m3"], ["m6"]]
    assert len(registry.search_registered_models()) == 7  # no condition: everything


def _source(registry: SqlRegistryStore, name: str) -> str:
    """A directory of files under the artifact root, to register a version from."""
    from pathlib import Path

    from cairn.artifacts.local import local_root_from_uri

    root = Path(local_root_from_uri(registry.tracking.artifact_root)) / "sources" / name
    root.mkdir(parents=True, exist_ok=True)
    (root / "MLmodel").write_text("flavors: {}\n")
    return str(root)
