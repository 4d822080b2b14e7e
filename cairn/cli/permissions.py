"""`cairn permissions`: who may read, edit or manage what on `cairn server --auth`.

Like `cairn users`, these commands work on the server's database directly
(`--backend-store-uri`): whoever can reach the database is trusted as an admin. Over HTTP,
the same operations are MLflow's `experiments/permissions/*` and
`registered-models/permissions/*` routes (docs/security.md).

`experiment` and `model` have the same three commands; each is a thin wrapper around one
shared implementation that takes the `ResourceKind`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cairn.cli.options import JsonOutput
from cairn.cli.output import listing_table, print_json, stdout
from cairn.cli.server import DEFAULT_BACKEND
from cairn.cli.users import BackendStoreUri, user_store

if TYPE_CHECKING:
    from cairn.auth.permissions import PermissionStore, ResourceKind

app = typer.Typer(
    help="Manage the permissions of `cairn server --auth` users.", no_args_is_help=True
)
experiment_app = typer.Typer(
    help="Grant, revoke and list permissions on experiments.", no_args_is_help=True
)
model_app = typer.Typer(
    help="Grant, revoke and list permissions on registered models (their versions follow).",
    no_args_is_help=True,
)
app.add_typer(experiment_app, name="experiment")
app.add_typer(model_app, name="model")

Experiment = Annotated[
    str, typer.Argument(metavar="EXPERIMENT", help="The experiment's id or name.")
]
Model = Annotated[str, typer.Argument(metavar="MODEL", help="The registered model's name.")]
Username = Annotated[str, typer.Argument(metavar="USER", help="The user's name.")]
Level = Annotated[
    str, typer.Argument(metavar="LEVEL", help="READ, EDIT, MANAGE or NO_PERMISSIONS.")
]
OnlyUser = Annotated[str | None, typer.Option("--user", help="Only this user.", show_default=False)]


def permission_store(uri: str) -> PermissionStore:
    from cairn.auth.permissions import PermissionStore

    return PermissionStore(user_store(uri).engine)


def experiment_id(store: PermissionStore, experiment: str) -> int:
    """The id of `experiment`, given as an id or a name."""
    from cairn.exceptions import ResourceDoesNotExist

    if experiment.isascii() and experiment.isdigit():
        return int(experiment)
    found = store.experiment_by_name(experiment)
    if found is None:
        raise ResourceDoesNotExist(f"No experiment named {experiment!r}")
    return found


def _kind(experiment: bool) -> ResourceKind:
    from cairn.auth.permissions import EXPERIMENT, REGISTERED_MODEL

    return EXPERIMENT if experiment else REGISTERED_MODEL


def _resource(store: PermissionStore, kind: ResourceKind, given: str) -> int | str:
    """The resource as the store takes it: an experiment's id (from an id or a name), a
    model's name."""
    from cairn.auth.permissions import EXPERIMENT

    return experiment_id(store, given) if kind is EXPERIMENT else given


def _grant(kind: ResourceKind, given: str, user: str, level: str, uri: str) -> None:
    from cairn.auth.permissions import Permission, resource_label

    store = permission_store(uri)
    resource = _resource(store, kind, given)
    done = store.grant(resource, user, Permission.parse(level), kind)
    stdout().print(
        f"{user!r} has {done.permission.name} on {resource_label(kind, resource)}",
        soft_wrap=True,
    )


def _revoke(kind: ResourceKind, given: str, user: str, uri: str) -> None:
    from cairn.auth.permissions import resource_label

    store = permission_store(uri)
    resource = _resource(store, kind, given)
    store.revoke(resource, user, kind)
    stdout().print(
        f"Revoked {user!r}'s permission on {resource_label(kind, resource)}", soft_wrap=True
    )


def _list(kind: ResourceKind, given: str | None, user: str | None, uri: str, json: bool) -> None:
    store = permission_store(uri)
    resource = None if given is None else _resource(store, kind, given)
    grants = store.list(resource, user, kind)
    if json:
        print_json([g.to_dict(kind) for g in grants])
        return
    table = listing_table()
    for column in (kind.name.capitalize(), "User", "Permission"):
        table.add_column(column)
    for g in grants:
        table.add_row(g.resource_id, g.username, g.permission.name)
    stdout().print(table)


# -- experiments -------------------------------------------------------------------------------


@experiment_app.command("grant")
def grant(
    experiment: Experiment,
    user: Username,
    level: Level,
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND,
) -> None:
    """Set a user's level on an experiment (replacing the one they had)."""
    _grant(_kind(experiment=True), experiment, user, level, backend_store_uri)


@experiment_app.command("revoke")
def revoke(
    experiment: Experiment,
    user: Username,
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND,
) -> None:
    """Remove a user's permission: they fall back to CAIRN_AUTH_DEFAULT_PERMISSION."""
    _revoke(_kind(experiment=True), experiment, user, backend_store_uri)


@experiment_app.command("list")
def list_permissions(
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", help="Only this experiment (id or name).", show_default=False),
    ] = None,
    user: OnlyUser = None,
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND,
    json: JsonOutput = False,
) -> None:
    """List the permissions given (users without one have the default level)."""
    _list(_kind(experiment=True), experiment, user, backend_store_uri, json)


# -- registered models -------------------------------------------------------------------------


@model_app.command("grant")
def grant_model(
    model: Model,
    user: Username,
    level: Level,
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND,
) -> None:
    """Set a user's level on a registered model (replacing the one they had)."""
    _grant(_kind(experiment=False), model, user, level, backend_store_uri)


@model_app.command("revoke")
def revoke_model(
    model: Model,
    user: Username,
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND,
) -> None:
    """Remove a user's permission: they fall back to CAIRN_AUTH_DEFAULT_PERMISSION."""
    _revoke(_kind(experiment=False), model, user, backend_store_uri)


@model_app.command("list")
def list_model_permissions(
    model: Annotated[
        str | None,
        typer.Option("--model", help="Only this registered model.", show_default=False),
    ] = None,
    user: OnlyUser = None,
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND,
    json: JsonOutput = False,
) -> None:
    """List the permissions given (users without one have the default level)."""
    _list(_kind(experiment=False), model, user, backend_store_uri, json)
