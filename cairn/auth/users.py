"""Users and their API tokens in the tracking database (tables `users` and `api_tokens`).

`UserStore` is what `cairn users` and the server's gate use. Every write goes through
`run_write` (retried on lock and deadlock errors, like the stores' writes); looking a password
or token up is a short read. Password hashing happens outside any transaction: it takes tens of
milliseconds on purpose and must not hold the database's write lock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from cairn.auth.passwords import dummy_hash, hash_password, verify_password
from cairn.auth.tokens import new_token, parse_duration, token_digest
from cairn.exceptions import (
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from cairn.store.sql.engine import run_read, run_write
from cairn.store.sql.queries import now_ms
from cairn.store.sql.schema import api_tokens, users

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
_u = users.c
_t = api_tokens.c


@dataclass(frozen=True, slots=True)
class User:
    user_id: int
    username: str
    is_admin: bool
    creation_time: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "username": self.username,
            "is_admin": self.is_admin,
            "creation_time": self.creation_time,
        }


@dataclass(frozen=True, slots=True)
class ApiToken:
    token_id: int
    username: str
    name: str
    creation_time: int
    expiry_time: int | None
    revoked_time: int | None
    # The secret itself: set only on the value `create_token` returns, never read back.
    token: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "token_id": self.token_id,
            "username": self.username,
            "name": self.name,
            "creation_time": self.creation_time,
            "expiry_time": self.expiry_time,
            "revoked_time": self.revoked_time,
        }
        if self.token is not None:
            found["token"] = self.token
        return found


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request authenticated as; `token_id` is set when it used an API token."""

    username: str
    is_admin: bool
    token_id: int | None = None


def check_username(name: str) -> str:
    if not _USERNAME.match(name):
        raise InvalidParameterValue(
            f"Invalid user name {name!r}: 1-128 characters, letters, digits and . _ @ + -, "
            "starting with a letter or digit"
        )
    return name


class UserStore:
    """Users and tokens on one database engine (the tracking store's)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- users ---------------------------------------------------------------------------------
    def create_user(self, username: str, password: str, *, is_admin: bool = False) -> User:
        check_username(username)
        hashed = hash_password(password)  # refuses short passwords
        now = now_ms()

        def work(conn: Connection) -> User:
            if conn.execute(select(_u.user_id).where(_u.username == username)).first():
                raise ResourceAlreadyExists(f"User {username!r} already exists")
            result = conn.execute(
                users.insert().values(
                    username=username,
                    password_hash=hashed,
                    is_admin=is_admin,
                    creation_time=now,
                    last_update_time=now,
                )
            )
            user_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            return User(user_id, username, is_admin, now)

        try:
            return run_write(self.engine, work)
        except IntegrityError as exc:  # a concurrent create of the same name
            raise ResourceAlreadyExists(f"User {username!r} already exists") from exc

    def get_user(self, username: str) -> User:
        row = run_read(
            self.engine,
            lambda conn: conn.execute(
                select(_u.user_id, _u.username, _u.is_admin, _u.creation_time).where(
                    _u.username == username
                )
            ).first(),
        )
        if row is None:
            raise ResourceDoesNotExist(f"No user named {username!r}")
        return User(row.user_id, row.username, bool(row.is_admin), row.creation_time)

    def list_users(self) -> list[User]:
        rows = run_read(
            self.engine,
            lambda conn: conn.execute(
                select(_u.user_id, _u.username, _u.is_admin, _u.creation_time).order_by(_u.username)
            ).all(),
        )
        return [User(r.user_id, r.username, bool(r.is_admin), r.creation_time) for r in rows]

    def count_users(self) -> int:
        return int(
            run_read(
                self.engine,
                lambda conn: conn.execute(select(func.count()).select_from(users)).scalar_one(),
            )
        )

    def delete_user(self, username: str) -> None:
        def work(conn: Connection) -> None:
            user_id = self._user_id(conn, username)
            conn.execute(delete(api_tokens).where(_t.user_id == user_id))
            conn.execute(delete(users).where(_u.user_id == user_id))

        run_write(self.engine, work)

    def set_password(self, username: str, password: str) -> None:
        hashed = hash_password(password)
        self._update(username, password_hash=hashed)

    def set_admin(self, username: str, is_admin: bool) -> None:
        self._update(username, is_admin=is_admin)

    def _update(self, username: str, **values: Any) -> None:
        def work(conn: Connection) -> None:
            user_id = self._user_id(conn, username)
            conn.execute(
                update(users)
                .where(_u.user_id == user_id)
                .values(last_update_time=now_ms(), **values)
            )

        run_write(self.engine, work)

    @staticmethod
    def _user_id(conn: Connection, username: str) -> int:
        user_id = conn.execute(select(_u.user_id).where(_u.username == username)).scalar()
        if user_id is None:
            raise ResourceDoesNotExist(f"No user named {username!r}")
        return int(user_id)

    def authenticate_password(self, username: str, password: str) -> Identity | None:
        """The identity for a correct username and password, else None. Takes a KDF's time
        whether or not the user exists."""
        row = run_read(
            self.engine,
            lambda conn: conn.execute(
                select(_u.password_hash, _u.is_admin).where(_u.username == username)
            ).first(),
        )
        if row is None:
            verify_password(password, dummy_hash())
            return None
        if not verify_password(password, row.password_hash):
            return None
        return Identity(username, bool(row.is_admin))

    # -- tokens --------------------------------------------------------------------------------
    def create_token(self, username: str, name: str = "", expires_in: str = "30d") -> ApiToken:
        """A new token for `username`; the returned value is the only one carrying the secret."""
        lifetime_ms = parse_duration(expires_in) * 1000
        if len(name) > 256:
            raise InvalidParameterValue("Token names are at most 256 characters")
        token = new_token()
        now = now_ms()

        def work(conn: Connection) -> ApiToken:
            user_id = self._user_id(conn, username)
            result = conn.execute(
                api_tokens.insert().values(
                    user_id=user_id,
                    name=name,
                    token_hash=token_digest(token),
                    creation_time=now,
                    expiry_time=now + lifetime_ms,
                    revoked_time=None,
                )
            )
            token_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            return ApiToken(token_id, username, name, now, now + lifetime_ms, None, token)

        return run_write(self.engine, work)

    def list_tokens(self, username: str | None = None) -> list[ApiToken]:
        """Tokens of `username` (every user's when None), newest first, without secrets."""
        query = (
            select(_t.token_id, _u.username, _t.name, _t.creation_time, _t.expiry_time)
            .add_columns(_t.revoked_time)
            .join(users, _u.user_id == _t.user_id)
            .order_by(_t.token_id.desc())
        )
        if username is not None:
            query = query.where(_u.username == username)
        rows = run_read(self.engine, lambda conn: conn.execute(query).all())
        return [
            ApiToken(r.token_id, r.username, r.name, r.creation_time, r.expiry_time, r.revoked_time)
            for r in rows
        ]

    def revoke_token(self, token_id: int, username: str | None = None) -> None:
        """Revoke token `token_id` (only if it belongs to `username`, when given)."""

        def work(conn: Connection) -> None:
            query = (
                select(_t.token_id, _t.revoked_time)
                .join(users, _u.user_id == _t.user_id)
                .where(_t.token_id == token_id)
            )
            if username is not None:
                query = query.where(_u.username == username)
            row = conn.execute(query).first()
            if row is None:
                raise ResourceDoesNotExist(f"No token with id {token_id}")
            if row.revoked_time is None:
                conn.execute(
                    update(api_tokens).where(_t.token_id == token_id).values(revoked_time=now_ms())
                )

        run_write(self.engine, work)

    def authenticate_token(self, token: str) -> tuple[Identity, int | None] | None:
        """(identity, expiry in ms) for a valid, unexpired, unrevoked token, else None."""
        digest = token_digest(token)
        row = run_read(
            self.engine,
            lambda conn: conn.execute(
                select(_t.token_id, _t.expiry_time, _t.revoked_time, _u.username, _u.is_admin)
                .join(users, _u.user_id == _t.user_id)
                .where(_t.token_hash == digest)
            ).first(),
        )
        if row is None or row.revoked_time is not None:
            return None
        if row.expiry_time is not None and row.expiry_time <= now_ms():
            return None
        return Identity(row.username, bool(row.is_admin), row.token_id), row.expiry_time


def ensure_first_admin(store: UserStore, username: str | None, password: str | None) -> User | None:
    """Create the first admin from `username`/`password` when the database has no user yet.

    Returns the user created, None when users exist already. With no users and no
    credentials given, raises: a server with authentication on and nobody able to log in is a
    misconfiguration, and there is no default password to fall back on.
    """
    if store.count_users() > 0:
        return None
    if not username or not password:
        from cairn.exceptions import CairnException

        raise CairnException(
            "Authentication is on but the database has no users. Create the first admin with "
            "`cairn users create NAME --admin --password-stdin --backend-store-uri URI`, or "
            "set CAIRN_ADMIN_USERNAME and CAIRN_ADMIN_PASSWORD for the server's first start."
        )
    try:
        return store.create_user(username, password, is_admin=True)
    except ResourceAlreadyExists:
        return None  # another process of the same first start created it
