"""`cairn db`: database maintenance (schema migrations)."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from cairn.cli.options import TrackingUri
from cairn.cli.output import stdout

app = typer.Typer(help="Manage the tracking database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    uri: Annotated[
        str | None,
        typer.Argument(
            metavar="URI",
            show_default=False,
            help="Database URI to migrate (default: --tracking-uri or its default).",
        ),
    ] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Migrate a database to the newest schema (creating it when new); prints the revision."""
    from cairn.store.sql import migrations
    from cairn.tracking.tracking_uri import resolve_tracking_uri

    target = resolve_tracking_uri(uri or tracking_uri)
    revision = migrations.upgrade(target)
    stdout().print(f"Database {_redact(target)} is at revision {revision}", soft_wrap=True)


def _redact(uri: str) -> str:
    """The URI with any password hidden (`scheme://user:***@host/db`)."""
    return re.sub(r"(://[^/:@]*):[^/@]*@", r"\1:***@", uri)
