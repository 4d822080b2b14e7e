"""`cairn audit`: read and verify the server's hash-chained audit log."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from cairn.cli.output import format_time, listing_table, print_error, stdout
from cairn.cli.server import DEFAULT_BACKEND
from cairn.cli.users import BackendStoreUri

if TYPE_CHECKING:
    from cairn.auth.audit import AuditLog

app = typer.Typer(help="Read and verify the server's audit log.", no_args_is_help=True)


def _audit_log(uri: str) -> AuditLog:
    from cairn.auth.audit import AuditLog
    from cairn.cli.users import user_store

    return AuditLog(user_store(uri).engine)


def parse_since(text: str) -> int:
    """Milliseconds since the epoch for `2026-11-24`, `2026-11-24T10:00` or `7d`/`12h`/`30m`."""
    from cairn.auth.tokens import parse_duration
    from cairn.exceptions import InvalidParameterValue

    if text[-1:] in ("d", "h", "m"):
        try:
            seconds = parse_duration(text)
        except InvalidParameterValue as exc:
            raise typer.BadParameter(exc.message, param_hint="--since") from None
        return int((datetime.now() - timedelta(seconds=seconds)).timestamp() * 1000)
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    except ValueError:
        raise typer.BadParameter(
            f"expected a date (2026-11-24[T10:00]) or an age (7d, 12h, 30m), got {text!r}",
            param_hint="--since",
        ) from None


@app.command("list")
def list_entries(
    since: Annotated[
        str | None,
        typer.Option("--since", help="Entries from this date/time or age on (2026-11-24, 7d)."),
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's entries.")] = None,
    resource: Annotated[
        str | None,
        typer.Option(
            "--resource",
            help="Only entries on this resource (run:ID, experiment:ID, registered_model:NAME); "
            "a trailing * matches a prefix.",
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N entries.")] = None,
    json: Annotated[
        bool, typer.Option("--json", help="Print JSON lines (one entry per line), for export.")
    ] = False,
    backend_store_uri: BackendStoreUri = DEFAULT_BACKEND,
) -> None:
    """List audit entries, oldest first."""
    entries = _audit_log(backend_store_uri).entries(
        since=parse_since(since) if since else None, username=user, resource=resource, limit=limit
    )
    if json:
        import orjson

        for entry in entries:
            sys.stdout.write(orjson.dumps(entry.to_dict()).decode() + "\n")
        return
    table = listing_table()
    for column in ("Id", "Time", "User", "Action", "Resource", "Status", "Client"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            str(e.id),
            format_time(e.timestamp),
            e.username,
            e.action,
            e.resource,
            str(e.status),
            e.client,
        )
    stdout().print(table)


@app.command("verify")
def verify(backend_store_uri: BackendStoreUri = DEFAULT_BACKEND) -> None:
    """Recompute the hash chain; exit 1 naming the first entry that was edited or deleted."""
    report = _audit_log(backend_store_uri).verify()
    if not report.ok:
        where = f"entry {report.first_bad_id}: " if report.first_bad_id is not None else ""
        print_error(f"The audit log is broken at {where}{report.reason}")
        raise typer.Exit(1)
    stdout().print(
        f"The audit log is intact: {report.checked} entries, head {report.head_id} "
        f"hash {report.head_hash}",
        soft_wrap=True,
    )
