"""`cairn.ui.access` without a server: with authentication off every check passes without a
query; a level too low to read is "missing", one too low to change is 403."""

from __future__ import annotations

import asyncio

import pytest

from cairn.auth.permissions import Permission
from cairn.exceptions import PermissionDenied, ResourceDoesNotExist
from cairn.ui.access import ALL, OPEN, Rights, decide, missing_experiment


def test_without_authentication_everything_is_allowed_without_a_lookup() -> None:
    assert OPEN.guard is None and not OPEN.checked and not OPEN.authenticated
    assert OPEN.readable() is None
    assert OPEN.judge_run("abc", "MANAGE") is ALL
    assert OPEN.judge_model("m", "MANAGE") is ALL
    assert OPEN.rights_of(["1", "2"]) == {"1": ALL, "2": ALL}
    assert OPEN.readable_runs({"r": "1"}) == {"r"}
    assert asyncio.run(OPEN.require("3", "MANAGE")) is ALL
    with pytest.raises(Exception, match="Authentication is not enabled"):
        OPEN.security_for_changes()


@pytest.mark.parametrize(
    ("level", "read", "edit", "manage"),
    [
        (Permission.NO_PERMISSIONS, False, False, False),
        (Permission.READ, True, False, False),
        (Permission.EDIT, True, True, False),
        (Permission.MANAGE, True, True, True),
    ],
)
def test_rights_follow_the_level_order(
    level: Permission, read: bool, edit: bool, manage: bool
) -> None:
    rights = Rights(level)
    assert (rights.read, rights.edit, rights.manage) == (read, edit, manage)


def test_unreadable_is_missing_and_too_low_is_denied() -> None:
    missing = missing_experiment(7)
    with pytest.raises(ResourceDoesNotExist) as found:
        decide(Permission.NO_PERMISSIONS, "READ", missing)
    assert found.value is missing and found.value.message == "No experiment with id=7"
    with pytest.raises(PermissionDenied, match="You need MANAGE permission"):
        decide(Permission.EDIT, "MANAGE", missing)
    assert decide(Permission.EDIT, "EDIT", missing) == Rights(Permission.EDIT)
