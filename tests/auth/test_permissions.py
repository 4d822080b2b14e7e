"""Experiment permissions in the database: levels, the default, grants and revocations, the
readable condition searches put in SQL, and rows that go with their user or experiment."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from cairn.auth.permissions import Permission, PermissionStore
from cairn.auth.users import UserStore
from cairn.exceptions import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from cairn.store.sql.engine import run_read
from cairn.store.sql.schema import experiments

PASSWORD = "correct horse battery"


@pytest.fixture
def setup(store: Any) -> tuple[Any, list[int]]:
    users = UserStore(store.engine)
    users.create_user("ada", PASSWORD)
    users.create_user("bob", PASSWORD)
    ids = [int(store.create_experiment(f"exp-{i}")) for i in range(4)]
    return store, ids


def _readable(permissions: PermissionStore, user: str, ids: list[int]) -> list[int]:
    column = experiments.c.experiment_id
    query = (
        select(column)
        .where(column.in_(ids), permissions.readable_condition(user, column))
        .order_by(column)
    )
    return [int(r) for r in run_read(permissions.engine, lambda c: c.execute(query).scalars())]


def test_levels_default_grant_and_revoke(setup: tuple[Any, list[int]]) -> None:
    store, ids = setup
    permissions = PermissionStore(store.engine)
    assert permissions.level("ada", ids[0]) is Permission.READ
    permissions.grant(ids[0], "ada", Permission.EDIT)
    assert permissions.level("ada", ids[0]) is Permission.EDIT
    assert permissions.level("bob", ids[0]) is Permission.READ
    permissions.grant(ids[0], "ada", Permission.MANAGE)  # replaces
    assert [g.permission for g in permissions.list(ids[0])] == [Permission.MANAGE]
    with pytest.raises(ResourceAlreadyExists):
        permissions.grant(ids[0], "ada", Permission.READ, replace=False)
    permissions.revoke(ids[0], "ada")
    assert permissions.level("ada", ids[0]) is Permission.READ
    with pytest.raises(ResourceDoesNotExist):
        permissions.revoke(ids[0], "ada")
    with pytest.raises(ResourceDoesNotExist, match="No user"):
        permissions.grant(ids[0], "nobody", Permission.READ)
    with pytest.raises(ResourceDoesNotExist, match="No experiment"):
        permissions.grant(10_000, "ada", Permission.READ)


def test_levels_are_ordered() -> None:
    assert Permission.MANAGE.allows("EDIT") and Permission.EDIT.allows("READ")
    assert not Permission.READ.allows("EDIT") and not Permission.NO_PERMISSIONS.allows("READ")
    assert Permission.parse(" edit ") is Permission.EDIT
    with pytest.raises(InvalidParameterValue):
        Permission.parse("ALL")


@pytest.mark.parametrize("default", [Permission.READ, Permission.NO_PERMISSIONS])
def test_the_readable_condition_matches_the_levels(
    setup: tuple[Any, list[int]], default: Permission
) -> None:
    store, ids = setup
    permissions = PermissionStore(store.engine, default)
    permissions.grant(ids[0], "ada", Permission.NO_PERMISSIONS)
    permissions.grant(ids[1], "ada", Permission.READ)
    permissions.grant(ids[2], "ada", Permission.MANAGE)
    permissions.grant(ids[3], "bob", Permission.NO_PERMISSIONS)
    expected = [e for e in ids if permissions.level("ada", e).allows("READ")]
    assert _readable(permissions, "ada", ids) == expected
    assert expected == ([ids[1], ids[2], ids[3]] if default is Permission.READ else ids[1:3])


def test_rows_go_with_their_user(setup: tuple[Any, list[int]]) -> None:
    store, ids = setup
    permissions = PermissionStore(store.engine)
    permissions.grant(ids[0], "ada", Permission.MANAGE)
    UserStore(store.engine).delete_user("ada")
    assert permissions.list() == []
