"""`cairn permissions experiment grant|revoke|list`: on the server's database, by id or name."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cairn.auth.permissions import Permission, PermissionStore
from cairn.auth.users import UserStore
from cairn.store.sql.store import SqlTrackingStore
from tests.cli.support import WIDE

Invoke = Callable[..., Result]


@pytest.fixture
def backend(tmp_path: Path) -> str:
    uri = f"sqlite:///{tmp_path / 'server.db'}"
    store = SqlTrackingStore.for_uri(uri)
    UserStore(store.engine).create_user("ada", "a long enough password")
    store.create_experiment("churn")
    return uri


@pytest.fixture
def permissions(backend: str) -> Invoke:
    from cairn.cli.main import app

    runner = CliRunner(env=WIDE)

    def invoke(*args: str) -> Result:
        return runner.invoke(
            app,
            ["permissions", "experiment", *args, "--backend-store-uri", backend],
            prog_name="cairn",
        )

    return invoke


def _level(backend: str, user: str, experiment_id: int) -> Permission:
    return PermissionStore(SqlTrackingStore.for_uri(backend).engine).level(user, experiment_id)


def test_grant_list_and_revoke(permissions: Invoke, backend: str) -> None:
    granted = permissions("grant", "churn", "ada", "edit")
    assert granted.exit_code == 0, granted.output
    assert "'ada' has EDIT on experiment 1" in granted.output
    assert _level(backend, "ada", 1) is Permission.EDIT

    assert permissions("grant", "1", "ada", "NO_PERMISSIONS").exit_code == 0
    listed = permissions("list", "--user", "ada", "--json")
    assert json.loads(listed.output) == [
        {"experiment_id": "1", "user_id": 1, "username": "ada", "permission": "NO_PERMISSIONS"}
    ]
    assert "NO_PERMISSIONS" in permissions("list", "--experiment", "churn").output

    revoked = permissions("revoke", "churn", "ada")
    assert revoked.exit_code == 0, revoked.output
    assert _level(backend, "ada", 1) is Permission.READ  # the default again
    assert json.loads(permissions("list", "--json").output) == []


def test_mistakes_are_clean_errors(permissions: Invoke) -> None:
    for args, message in [
        (("grant", "churn", "ada", "ALL"), "Invalid permission"),
        (("grant", "nope", "ada", "READ"), "No experiment named 'nope'"),
        (("grant", "churn", "bob", "READ"), "No user named 'bob'"),
        (("grant", "99", "ada", "READ"), "No experiment with id 99"),
        (("revoke", "churn", "ada"), "No permission for user 'ada'"),
    ]:
        result = permissions(*args)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
