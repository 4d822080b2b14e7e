"""Users and tokens on every database: create, authenticate, revoke, expire, delete."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from cairn.auth.users import UserStore, ensure_first_admin
from cairn.exceptions import (
    CairnException,
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from cairn.store.sql.schema import api_tokens

PASSWORD = "correct horse battery"


@pytest.fixture
def users(store: object) -> Iterator[UserStore]:
    yield UserStore(store.engine)  # type: ignore[attr-defined]


def test_a_user_authenticates_with_the_right_password_only(users: UserStore) -> None:
    created = users.create_user("alice", PASSWORD, is_admin=True)
    assert created.is_admin and created.username == "alice"
    identity = users.authenticate_password("alice", PASSWORD)
    assert identity is not None and identity.username == "alice" and identity.is_admin
    assert users.authenticate_password("alice", PASSWORD + "!") is None
    assert users.authenticate_password("nobody", PASSWORD) is None


def test_names_are_unique_and_checked(users: UserStore) -> None:
    users.create_user("alice", PASSWORD)
    with pytest.raises(ResourceAlreadyExists):
        users.create_user("alice", PASSWORD)
    for bad in ("", " alice", "a/b", "x" * 200):
        with pytest.raises(InvalidParameterValue):
            users.create_user(bad, PASSWORD)


def test_short_passwords_are_refused_on_create_and_change(users: UserStore) -> None:
    with pytest.raises(InvalidParameterValue, match="12"):
        users.create_user("bob", "short")
    users.create_user("bob", PASSWORD)
    with pytest.raises(InvalidParameterValue, match="12"):
        users.set_password("bob", "short")
    users.set_password("bob", "another long password")
    assert users.authenticate_password("bob", PASSWORD) is None
    assert users.authenticate_password("bob", "another long password") is not None


def test_admin_rights_and_deletion(users: UserStore) -> None:
    users.create_user("carol", PASSWORD)
    users.set_admin("carol", True)
    assert users.get_user("carol").is_admin
    token = users.create_token("carol", "ci")
    users.delete_user("carol")
    assert users.list_users() == []
    assert token.token and users.authenticate_token(token.token) is None
    with pytest.raises(ResourceDoesNotExist):
        users.set_admin("carol", False)


def test_tokens_authenticate_until_revoked(users: UserStore) -> None:
    users.create_user("dave", PASSWORD)
    token = users.create_token("dave", "laptop", "1d")
    assert token.token is not None
    found = users.authenticate_token(token.token)
    assert found is not None and found[0].username == "dave" and found[0].token_id == token.token_id
    listed = users.list_tokens("dave")
    assert [t.name for t in listed] == ["laptop"] and listed[0].token is None
    assert users.authenticate_token(token.token + "x") is None
    users.revoke_token(token.token_id)
    assert users.authenticate_token(token.token) is None
    assert users.list_tokens()[0].revoked_time is not None


def test_a_user_may_revoke_only_their_own_token(users: UserStore) -> None:
    users.create_user("erin", PASSWORD)
    users.create_user("frank", PASSWORD)
    token = users.create_token("erin")
    with pytest.raises(ResourceDoesNotExist):
        users.revoke_token(token.token_id, "frank")


def test_expired_tokens_are_refused(users: UserStore) -> None:
    users.create_user("gina", PASSWORD)
    token = users.create_token("gina")
    with users.engine.begin() as conn:
        conn.execute(update(api_tokens).values(expiry_time=int(time.time() * 1000) - 1))
    assert token.token and users.authenticate_token(token.token) is None


def test_the_first_admin_comes_from_the_environment_or_the_server_refuses(
    users: UserStore,
) -> None:
    with pytest.raises(CairnException, match="CAIRN_ADMIN_USERNAME"):
        ensure_first_admin(users, None, None)
    with pytest.raises(InvalidParameterValue):
        ensure_first_admin(users, "root", "short")
    created = ensure_first_admin(users, "root", PASSWORD)
    assert created is not None and created.is_admin
    assert ensure_first_admin(users, "other", PASSWORD) is None  # users exist: nothing done
    assert [u.username for u in users.list_users()] == ["root"]
