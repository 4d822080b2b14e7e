"""Permissions per experiment and per registered model: who may read, edit or manage it.

A user's level on a resource is their row in its table (`experiment_permissions`,
`registered_model_permissions`), else the server-wide default (`CAIRN_AUTH_DEFAULT_PERMISSION`,
READ like MLflow's basic-auth app). Admins have every level everywhere and are never looked
up. Runs, their metrics, params, tags, artifacts and datasets, and logged models, inherit the
level of their experiment; model versions, aliases and transition requests that of their model.

Levels are ordered: NO_PERMISSIONS < READ < EDIT < MANAGE; a route needing READ admits EDIT
and MANAGE. `readable_condition` says the same thing in SQL, so searches filter inside their
query and pages stay full.

`PermissionStore` keeps each resource's table and key columns in a `ResourceKind`
(`EXPERIMENT`, `REGISTERED_MODEL`): one code path serves both. Registered models are keyed by
their internal `model_pk` (a rename keeps the rows; a delete removes them); the API names them,
so the store's grant, revoke, get and list take a resource as the API names it
(`ResourceKind.named_by`), while `level` and `readable_condition` work on the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table, delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from cairn.exceptions import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from cairn.store.sql.engine import run_read, run_write
from cairn.store.sql.schema import (
    experiment_permissions,
    experiments,
    registered_model_permissions,
    registered_models,
    runs,
    users,
)

if TYPE_CHECKING:
    from sqlalchemy import Column, Connection, Engine


class Permission(Enum):
    NO_PERMISSIONS = 0
    READ = 1
    EDIT = 2
    MANAGE = 3

    @classmethod
    def parse(cls, name: object) -> Permission:
        if isinstance(name, str):
            found = cls.__members__.get(name.strip().upper())
            if found is not None:
                return found
        raise InvalidParameterValue(
            f"Invalid permission {name!r}: one of READ, EDIT, MANAGE, NO_PERMISSIONS"
        )

    def allows(self, needed: str) -> bool:
        """Whether this level admits a route needing `needed` ("READ", "EDIT" or "MANAGE")."""
        return self.value >= Permission[needed].value


@dataclass(frozen=True, slots=True)
class ResourceKind:
    """A kind of resource that has permissions: its permission table and its key columns."""

    name: str
    table: Table
    key: Column[Any]  # the permission table's resource key
    target: Column[Any]  # the resource table's key (to check the resource exists)
    named_by: Column[Any]  # how the API names a resource: experiment id, model name
    field: str  # the name of that field in MLflow's requests and answers
    field_prefix: str  # MLflow's answers are {"<prefix>_permission": …}


EXPERIMENT = ResourceKind(
    "experiment",
    experiment_permissions,
    experiment_permissions.c.experiment_id,
    experiments.c.experiment_id,
    experiments.c.experiment_id,
    "experiment_id",
    "experiment",
)
REGISTERED_MODEL = ResourceKind(
    "registered model",
    registered_model_permissions,
    registered_model_permissions.c.model_pk,
    registered_models.c.model_pk,
    registered_models.c.name,
    "name",
    "registered_model",
)


@dataclass(frozen=True, slots=True)
class Grant:
    resource_id: str
    username: str
    permission: Permission
    user_id: int = 0

    def to_dict(self, kind: ResourceKind = EXPERIMENT) -> dict[str, Any]:
        """MLflow's `ExperimentPermission` / `RegisteredModelPermission` fields, and the
        user's name."""
        return {
            kind.field: self.resource_id,
            "user_id": self.user_id,
            "username": self.username,
            "permission": self.permission.name,
        }


_u = users.c


class PermissionStore:
    """Permissions on one database engine (the tracking store's)."""

    def __init__(self, engine: Engine, default: Permission = Permission.READ) -> None:
        self.engine = engine
        self.default = default

    # -- reading -------------------------------------------------------------------------------
    def level(self, username: str, resource_id: int, kind: ResourceKind = EXPERIMENT) -> Permission:
        """`username`'s level on the resource: their row, else the default."""
        query = (
            select(kind.table.c.permission)
            .join(users, _u.user_id == kind.table.c.user_id)
            .where(_u.username == username, kind.key == resource_id)
        )
        found = run_read(self.engine, lambda conn: conn.execute(query).scalar())
        return self.default if found is None else Permission[found]

    def experiment_of_run(self, run_id: str) -> int | None:
        """The experiment of run `run_id`, None when there is no such run."""
        query = select(runs.c.experiment_id).where(runs.c.run_id == run_id)
        found = run_read(self.engine, lambda conn: conn.execute(query).scalar())
        return None if found is None else int(found)

    def model_pk(self, name: str) -> int | None:
        """The key of the registered model called `name` (the exact name, as the registry
        looks it up), None when there is none."""
        query = select(registered_models.c.model_pk).where(registered_models.c.name == name)
        found = run_read(self.engine, lambda conn: conn.execute(query).scalar())
        return None if found is None else int(found)

    def experiment_by_name(self, name: str) -> int | None:
        query = select(experiments.c.experiment_id).where(experiments.c.name == name)
        found = run_read(self.engine, lambda conn: conn.execute(query).scalar())
        return None if found is None else int(found)

    def readable_condition(
        self, username: str, column: ColumnElement[Any], kind: ResourceKind = EXPERIMENT
    ) -> ColumnElement[bool]:
        """A condition on `column`, a resource id of the enclosing query: `username` may read it."""
        mine = (
            select(kind.table.c.user_id)
            .join(users, _u.user_id == kind.table.c.user_id)
            .where(_u.username == username, kind.key == column)
        )
        readable = [p.name for p in Permission if p.value >= Permission.READ.value]
        if self.default.allows("READ"):
            denied = mine.where(kind.table.c.permission == Permission.NO_PERMISSIONS.name)
            return ~exists(denied)
        return exists(mine.where(kind.table.c.permission.in_(readable)))

    def list(
        self,
        resource: int | str | None = None,
        username: str | None = None,
        kind: ResourceKind = EXPERIMENT,
    ) -> list[Grant]:
        """The rows, for one resource (as the API names it: `ResourceKind.named_by`) and/or
        one user; every row when both are None."""
        query = (
            select(kind.named_by, _u.username, kind.table.c.permission, _u.user_id)
            .join(users, _u.user_id == kind.table.c.user_id)
            .join(kind.target.table, kind.target == kind.key)
        )
        if resource is not None:
            query = query.where(kind.named_by == resource)
        if username is not None:
            query = query.where(_u.username == username)
        query = query.order_by(kind.named_by, _u.username)
        rows = run_read(self.engine, lambda conn: conn.execute(query).all())
        return [Grant(str(r[0]), r[1], Permission[r[2]], int(r[3])) for r in rows]

    def get(self, resource: int | str, username: str, kind: ResourceKind = EXPERIMENT) -> Grant:
        """`username`'s own row on the resource; ResourceDoesNotExist when there is none."""
        found = self.list(resource, username, kind)
        if not found:
            raise ResourceDoesNotExist(
                f"No permission for user {username!r} on {resource_label(kind, resource)}"
            )
        return found[0]

    # -- writing -------------------------------------------------------------------------------
    def grant(
        self,
        resource: int | str,
        username: str,
        permission: Permission,
        kind: ResourceKind = EXPERIMENT,
        *,
        replace: bool = True,
    ) -> Grant:
        """Set `username`'s level on the resource (named as the API names it). With
        `replace=False` an existing row is an error (ResourceAlreadyExists), as MLflow's
        `permissions/create` answers."""
        taken = f"User {username!r} already has a permission on {resource_label(kind, resource)}"

        def work(conn: Connection) -> Grant:
            user_id, key = self._ids(conn, resource, username, kind)
            where = (kind.key == key, kind.table.c.user_id == user_id)
            present = conn.execute(select(kind.table.c.permission).where(*where)).first()
            if present is not None and not replace:
                raise ResourceAlreadyExists(taken)
            if present is None:
                row = {kind.key.name: key, "user_id": user_id, "permission": permission.name}
                conn.execute(kind.table.insert().values(row))
            else:
                conn.execute(update(kind.table).where(*where).values(permission=permission.name))
            return Grant(str(resource), username, permission, user_id)

        try:
            return run_write(self.engine, work)
        except IntegrityError as exc:  # a concurrent grant of the same pair
            raise ResourceAlreadyExists(taken) from exc

    def revoke(self, resource: int | str, username: str, kind: ResourceKind = EXPERIMENT) -> None:
        """Remove `username`'s row: they fall back to the default level."""

        def work(conn: Connection) -> None:
            user_id, key = self._ids(conn, resource, username, kind)
            done = conn.execute(
                delete(kind.table).where(kind.key == key, kind.table.c.user_id == user_id)
            )
            if not done.rowcount:
                raise ResourceDoesNotExist(
                    f"No permission for user {username!r} on {resource_label(kind, resource)}"
                )

        run_write(self.engine, work)

    @staticmethod
    def _ids(
        conn: Connection, resource: int | str, username: str, kind: ResourceKind
    ) -> tuple[int, int]:
        """(the user's id, the resource's key); ResourceDoesNotExist when either is missing."""
        user_id = conn.execute(select(_u.user_id).where(_u.username == username)).scalar()
        if user_id is None:
            raise ResourceDoesNotExist(f"No user named {username!r}")
        key = conn.execute(select(kind.target).where(kind.named_by == resource)).scalar()
        if key is None:
            named = f"named {resource!r}" if isinstance(resource, str) else f"with id {resource}"
            raise ResourceDoesNotExist(f"No {kind.name} {named}")
        return int(user_id), int(key)


def resource_label(kind: ResourceKind, resource: int | str) -> str:
    """`experiment 3`, `registered model 'churn'`."""
    return f"{kind.name} {resource!r}" if isinstance(resource, str) else f"{kind.name} {resource}"


def parse_resource_id(value: object, kind: ResourceKind = EXPERIMENT) -> int:
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not (text.isascii() and text.isdigit()):
        raise InvalidParameterValue(f"Invalid {kind.name} id {value!r}")
    return int(text)
