"""`cairn users`: the users and API tokens of `cairn server --auth`, on its database.

These commands work on the database directly (`--backend-store-uri`, the server's default),
so the first admin can be created before the server ever starts. Passwords are read from
standard input (`--password-stdin`) or prompted for without echo; never from an argument,
which would leave them in the shell history and the process list.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from cairn.cli.options import JsonOutput
from cairn.cli.output import format_time, listing_table, print_json, print_note, stdout
from cairn.cli.server import DEFAULT_BACKEND

if TYPE_CHECKING:
    from cairn.auth.users import UserStore

app = typer.Typer(
    help="Manage the users and API tokens of `cairn server --auth`.", no_args_is_help=True
)
token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")

BackendStoreUri = Annotated[
    str,
    typer.Option(
        "--backend-store-uri",
        envvar="CAIRN_BACKEND_STORE_URI",
        help="The server's database (sqlite:///, postgresql://, mysql://).",
    ),
]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of standard input instead of prompting.",
    ),
]
Username = Annotated[str, typer.Argument(metavar="NAME", help="The user's name.")]


def user_store(uri: str) -> UserStore:
    """The users of the database at `uri` (created or migrated like the server's)."""
    from cairn.auth.users import UserStore
    from cairn.store.sql.store import SqlTrackingStore
    from cairn.tracking.tracking_uri import resolve_tracking_uri

    resolved = resolve_tracking_uri(uri)
    if resolved.split(":", 1)[0].lower() in ("http", "https"):
        from cairn.exceptions import InvalidParameterValue

        raise InvalidParameterValue(
            "--backend-store-uri must be the server's database, not its URL"
        )
    return UserStore(SqlTrackingStore.for_uri(resolved).engine)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("create")
def create(
    name: Username,
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an admin.")] = False,
    password_stdin: PasswordStdin = False,
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND,
) -> None:
    """Create a user (passwords: at least 12 characters)."""
    store = user_store(backend_store_uri)
    user = store.create_user(name, read_password(password_stdin), is_admin=admin)
    role = "admin" if user.is_admin else "user"
    stdout().print(f"Created {role} {user.username!r}", soft_wrap=True)


@app.command("list")
def list_users(
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND, json: JsonOutput = False
) -> None:
    """List the users."""
    users = user_store(backend_store_uri).list_users()
    if json:
        print_json([u.to_dict() for u in users])
        return
    table = listing_table()
    for column in ("Name", "Admin", "Created"):
        table.add_column(column)
    for u in users:
        table.add_row(u.username, "yes" if u.is_admin else "", format_time(u.creation_time))
    stdout().print(table)


@app.command("delete")
def delete(name: Username, backend_store_uri: BackendStoreUri = DEFAULT_BACKEND) -> None:
    """Delete a user and their tokens (a running server may accept them ~30 s longer)."""
    user_store(backend_store_uri).delete_user(name)
    stdout().print(f"Deleted user {name!r}", soft_wrap=True)


@app.command("set-password")
def set_password(
    name: Username,
    password_stdin: PasswordStdin = False,
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND,
) -> None:
    """Set a user's password."""
    user_store(backend_store_uri).set_password(name, read_password(password_stdin))
    stdout().print(f"Password of {name!r} changed", soft_wrap=True)


@app.command("set-admin")
def set_admin(
    name: Username,
    admin: Annotated[
        bool, typer.Option("--admin/--no-admin", help="Grant or withdraw admin rights.")
    ] = True,
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND,
) -> None:
    """Grant (or with --no-admin withdraw) admin rights."""
    user_store(backend_store_uri).set_admin(name, admin)
    stdout().print(f"{name!r} is {'now' if admin else 'no longer'} an admin", soft_wrap=True)


@token_app.command("create")
def token_create(
    name: Username,
    token_name: Annotated[
        str, typer.Option("--name", help="What the token is for (shown in listings).")
    ] = "",
    expires_in: Annotated[
        str, typer.Option("--expires-in", help="Lifetime: days, hours or minutes (30d, 12h).")
    ] = "30d",
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND,
) -> None:
    """Create an API token for a user and print it: it is shown this once only."""
    token = user_store(backend_store_uri).create_token(name, token_name, expires_in)
    assert token.token is not None
    print_note(
        f"Token {token.token_id} for {name!r}, expires {format_time(token.expiry_time)}. "
        "Store it now: it cannot be shown again."
    )
    sys.stdout.write(token.token + "\n")


@token_app.command("list")
def token_list(
    name: Annotated[
        str | None,
        typer.Argument(metavar="NAME", help="Only this user's tokens.", show_default=False),
    ] = None,
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND,
    json: JsonOutput = False,
) -> None:
    """List API tokens (never their secrets)."""
    tokens = user_store(backend_store_uri).list_tokens(name)
    if json:
        print_json([t.to_dict() for t in tokens])
        return
    table = listing_table()
    for column in ("Id", "User", "Name", "Created", "Expires", "Revoked"):
        table.add_column(column)
    for t in tokens:
        table.add_row(
            str(t.token_id),
            t.username,
            t.name,
            format_time(t.creation_time),
            format_time(t.expiry_time),
            format_time(t.revoked_time),
        )
    stdout().print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id.")],
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND,
) -> None:
    """Revoke an API token (a running server may accept it ~30 s longer)."""
    user_store(backend_store_uri).revoke_token(token_id)
    stdout().print(f"Revoked token {token_id}", soft_wrap=True)
