"""`cairn users` and `cairn users token`: on the server's database, passwords from stdin."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cairn.auth.users import UserStore
from cairn.store.sql.store import SqlTrackingStore
from tests.cli.support import WIDE

PASSWORD = "a long enough password"
Users = Callable[..., Result]


@pytest.fixture
def backend(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'server.db'}"


@pytest.fixture
def users(backend: str) -> Users:
    from cairn.cli.main import app

    runner = CliRunner(env=WIDE)

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(
            app, ["users", *args, "--backend-store-uri", backend], input=input, prog_name="cairn"
        )

    return invoke


def _store(backend: str) -> UserStore:
    return UserStore(SqlTrackingStore.for_uri(backend).engine)


def test_create_list_and_delete(users: Users, backend: str) -> None:
    created = users("create", "alice", "--admin", "--password-stdin", input=PASSWORD + "\n")
    assert created.exit_code == 0, created.output
    assert "Created admin 'alice'" in created.stdout
    assert users("create", "bob", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    listed = users("list", "--json")
    assert [(u["username"], u["is_admin"]) for u in json.loads(listed.stdout)] == [
        ("alice", True),
        ("bob", False),
    ]
    assert "alice" in users("list").stdout
    assert _store(backend).authenticate_password("alice", PASSWORD) is not None
    assert users("delete", "bob").exit_code == 0
    assert [u.username for u in _store(backend).list_users()] == ["alice"]


def test_short_passwords_and_duplicates_are_refused(users: Users) -> None:
    short = users("create", "carol", "--password-stdin", input="short\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.stderr
    assert users("create", "carol", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    again = users("create", "carol", "--password-stdin", input=PASSWORD + "\n")
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert "Traceback" not in again.output


def test_a_password_can_be_prompted_for(users: Users, backend: str) -> None:
    result = users("create", "dora", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # not echoed
    assert _store(backend).authenticate_password("dora", PASSWORD) is not None


def test_set_password_and_admin(users: Users, backend: str) -> None:
    users("create", "erin", "--password-stdin", input=PASSWORD + "\n")
    changed = users("set-password", "erin", "--password-stdin", input="another long one!\n")
    assert changed.exit_code == 0, changed.output
    assert _store(backend).authenticate_password("erin", "another long one!") is not None
    assert users("set-admin", "erin").exit_code == 0
    assert _store(backend).get_user("erin").is_admin
    assert users("set-admin", "erin", "--no-admin").exit_code == 0
    assert not _store(backend).get_user("erin").is_admin
    missing = users("set-admin", "nobody")
    assert missing.exit_code == 1 and "No user named 'nobody'" in missing.stderr


def test_tokens_are_shown_once_listed_and_revoked(users: Users, backend: str) -> None:
    users("create", "frank", "--password-stdin", input=PASSWORD + "\n")
    created = users("token", "create", "frank", "--name", "ci", "--expires-in", "30d")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("cairn_") and "cannot be shown again" in created.stderr
    found = _store(backend).authenticate_token(token)
    assert found is not None and found[0].username == "frank"
    listed = json.loads(users("token", "list", "frank", "--json").stdout)
    assert [(t["name"], t["revoked_time"]) for t in listed] == [("ci", None)]
    assert token not in users("token", "list").stdout
    assert users("token", "revoke", str(listed[0]["token_id"])).exit_code == 0
    assert _store(backend).authenticate_token(token) is None
    bad = users("token", "create", "frank", "--expires-in", "forever")
    assert bad.exit_code == 1 and "Invalid duration" in bad.stderr
