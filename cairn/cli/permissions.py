"""`cairn permissions`: who may read, edit or manage what on `cairn server --auth`.

Like `cairn users`, these commands work on the server's database directly
(`--backend-store-uri`): whoever can reach the database is trusted as an admin. Over HTTP,
the same operations are MLflow's `experiments/permissions/*` routes (docs/security.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cairn.cli.options import JsonOutput
from cairn.cli.output import listing_table, print_json, stdout
from cairn.cli.server import DEFAULT_BACKEND
from cairn.cli.users import BackendStoreUri, user_store

if TYPE_CHECKING:
    from cairn.auth.permissions import PermissionStore

app = typer.Typer(
    help="Manage the permissions of `cairn server --auth` users.", no_args_is_help=True
)
experiment_app = typer.Typer(
    help="Grant, revoke and list permissions on experiments.", no_args_is_help=True
)
app.add_typer(experiment_app, name="experiment")

Experiment = Annotated[
    str, typer.Argument(metavar="EXPERIMENT", help="The experiment's id or name.")
]
Username = Annotated[str, typer.Argument(metavar="USER", help="The user's name.")]


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


@experiment_app.command("grant")
def grant(
    experiment: Experiment,
    user: Username,
    level: Annotated[
        str,
        typer.Argument(metavar="LEVEL", help="READ, EDIT, MANAGE or NO_PERMISSIONS."),
    ],
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND,
) -> None:
    """Set a user's level on an experiment (replacing the one they had)."""
    from cairn.auth.permissions import Permission

    store = permission_store(backend_store_uri)
    done = store.grant(experiment_id(store, experiment), user, Permission.parse(level))
    stdout().print(
        f"{user!r} has {done.permission.name} on experiment {done.resource_id}", soft_wrap=True
    )


@experiment_app.command("revoke")
def revoke(
    experiment: Experiment,
    user: Username,
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND,
) -> None:
    """Remove a user's permission: they fall back to CAIRN_AUTH_DEFAULT_PERMISSION."""
    store = permission_store(backend_store_uri)
    eid = experiment_id(store, experiment)
    store.revoke(eid, user)
    stdout().print(f"Revoked {user!r}'s permission on experiment {eid}", soft_wrap=True)


@experiment_app.command("list")
def list_permissions(
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", help="Only this experiment (id or name).", show_default=False),
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Only this user.", show_default=False)
    ] = None,
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND,
    json: JsonOutput = False,
) -> None:
    """List the permissions given (users without one have the default level)."""
    store = permission_store(backend_store_uri)
    eid = None if experiment is None else experiment_id(store, experiment)
    grants = store.list(eid, user)
    if json:
        print_json([g.to_dict() for g in grants])
        return
    table = listing_table()
    for column in ("Experiment", "User", "Permission"):
        table.add_column(column)
    for g in grants:
        table.add_row(g.resource_id, g.username, g.permission.name)
    stdout().print(table)
