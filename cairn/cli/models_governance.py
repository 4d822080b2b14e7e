"""`cairn models` governance commands: history, policy, request/approve/reject/requests, and
the `cairn models webhooks` group. Registered on the `models` app by `cairn.cli.models`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cairn.cli.options import JsonOutput, TrackingUri, get_client
from cairn.cli.output import format_time, listing_table, print_json, stdout

if TYPE_CHECKING:
    from cairn.entities import AuditEntry

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="Registered model name.")]
VersionArgument = Annotated[str, typer.Argument(metavar="VERSION", help="Version number.")]
Comment = Annotated[
    str | None, typer.Option("--comment", "-m", metavar="TEXT", help="Comment for the audit trail.")
]
RequestId = Annotated[str, typer.Argument(metavar="REQUEST_ID", help="Transition request id.")]
WebhookId = Annotated[str, typer.Argument(metavar="WEBHOOK_ID", help="Webhook id.")]

_AUDIT_PAGE = 1000


def history(
    name: NameArgument,
    limit: Annotated[
        int | None,
        typer.Option("--limit", "-n", metavar="N", help="Show only the last N entries."),
    ] = None,
    as_json: JsonOutput = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Show a model's audit trail: who changed what, when, from what to what (oldest first)."""
    client = get_client(tracking_uri)
    entries: list[AuditEntry] = []
    token: str | None = None
    while True:
        page = client.get_registry_audit(name, _AUDIT_PAGE, token)
        entries.extend(page)
        token = page.token
        if not token:
            break
    if limit is not None:
        entries = entries[-limit:] if limit > 0 else []
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    console = stdout()
    if not entries:
        console.print(f"No audit entries for model {name!r}.", style="dim")
        return
    # Users are empty until authentication exists; long values (descriptions, policies,
    # sources) are cut here and shown whole by --json.
    with_user = any(e.user for e in entries)
    table = listing_table()
    table.add_column("Time", no_wrap=True)
    if with_user:
        table.add_column("User")
    table.add_column("Action", no_wrap=True)
    table.add_column("Version", justify="right")
    for column in ("Key", "From", "To", "Comment"):
        table.add_column(column, overflow="fold", min_width=6)
    for e in entries:
        table.add_row(
            format_time(e.timestamp),
            *([e.user] if with_user else []),
            e.action,
            e.version,
            e.key,
            _short(e.from_value, 24),
            _short(e.to_value, 24),
            _short(e.comment, 80),
        )
    console.print(table)


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def policy(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help='Registered model name, or "*" for server-wide.')
    ],
    set_file: Annotated[
        Path | None,
        typer.Option(
            "--set",
            metavar="FILE",
            exists=True,
            dir_okay=False,
            help="Set the policy from a JSON or YAML file.",
        ),
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the policy.")] = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Show, set (--set FILE) or remove (--delete) a promotion policy (printed as JSON)."""
    if set_file is not None and delete:
        raise typer.BadParameter("give --set or --delete, not both", param_hint="--set")
    client = get_client(tracking_uri)
    if delete:
        client.delete_registry_policy(name)
        stdout().print(f"Removed the policy of {_policy_owner(name)}")
        return
    if set_file is not None:
        import yaml

        document = yaml.safe_load(set_file.read_text())
        print_json(client.set_registry_policy(name, json.dumps(document)))
        return
    print_json(client.get_registry_policy(name))


def _policy_owner(name: str) -> str:
    return "the server" if name == "*" else f"model {name!r}"


def request(
    name: NameArgument,
    version: VersionArgument,
    stage: Annotated[str, typer.Argument(metavar="STAGE", help="Stage requiring approval.")],
    comment: Comment = None,
    archive_existing: Annotated[
        bool,
        typer.Option("--archive-existing", help="On approval, archive the versions in STAGE."),
    ] = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Request a stage transition that needs approval."""
    found = get_client(tracking_uri).request_model_version_transition(
        name, version, stage, comment, archive_existing
    )
    stdout().print(
        f"Transition request {found.id}: model {name!r} version {found.version} to {found.stage} "
        "(pending approval)"
    )


def approve(
    request_id: RequestId, comment: Comment = None, tracking_uri: TrackingUri = None
) -> None:
    """Approve a pending transition request: the transition is carried out."""
    moved = get_client(tracking_uri).approve_transition_request(request_id, comment)
    stdout().print(
        f"Approved request {request_id}: model {moved.name!r} version {moved.version} is now in "
        f"stage {moved.current_stage}"
    )


def reject(
    request_id: RequestId, comment: Comment = None, tracking_uri: TrackingUri = None
) -> None:
    """Reject a pending transition request."""
    found = get_client(tracking_uri).reject_transition_request(request_id, comment)
    stdout().print(f"Rejected request {found.id} (model {found.name!r} version {found.version})")


def requests(
    name: Annotated[
        str | None, typer.Argument(metavar="[NAME]", help="Only this model's requests.")
    ] = None,
    status: Annotated[
        str,
        typer.Option("--status", metavar="STATUS", help="PENDING, APPROVED, REJECTED or ALL."),
    ] = "PENDING",
    as_json: JsonOutput = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """List transition requests (pending ones by default)."""
    found = get_client(tracking_uri).list_transition_requests(name, status)
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    console = stdout()
    if not found:
        console.print("No transition requests.", style="dim")
        return
    table = listing_table()
    for column in ("Id", "Model", "Version", "Stage", "Status", "Requested", "Comment", "Review"):
        table.add_column(column, overflow="fold")
    for r in found:
        table.add_row(
            str(r.id),
            r.name,
            r.version,
            r.stage,
            r.status,
            format_time(r.creation_timestamp),
            r.comment,
            r.resolution_comment,
        )
    console.print(table)


webhooks_app = typer.Typer(
    help="Webhooks: URLs that receive signed registry events.", no_args_is_help=True
)


@webhooks_app.command("add")
def add_webhook(
    url: Annotated[str, typer.Argument(metavar="URL", help="http(s) URL to POST events to.")],
    events: Annotated[
        list[str],
        typer.Option(
            "--event",
            "-e",
            metavar="EVENT",
            help="version_created, stage_transitioned, alias_set, alias_deleted, "
            "model_deleted or transition_requested; repeatable.",
        ),
    ],
    secret: Annotated[
        str,
        typer.Option(
            "--secret",
            metavar="SECRET",
            envvar="CAIRN_WEBHOOK_SECRET",
            help="Signing key (8-256 characters); also read from $CAIRN_WEBHOOK_SECRET.",
        ),
    ],
    model: Annotated[
        str, typer.Option("--model", metavar="NAME", help="Only this model's events.")
    ] = "",
    description: Annotated[
        str, typer.Option("--description", metavar="TEXT", help="What the webhook is for.")
    ] = "",
    as_json: JsonOutput = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Register a webhook; deliveries carry X-Cairn-Signature (HMAC-SHA256 with SECRET)."""
    found = get_client(tracking_uri).create_webhook(url, events, secret, model, description)
    if as_json:
        print_json(found.to_dict())
        return
    stdout().print(f"Webhook {found.id}: {found.url} for {', '.join(found.events)}")


@webhooks_app.command("list")
def list_webhooks(as_json: JsonOutput = False, tracking_uri: TrackingUri = None) -> None:
    """List webhooks (their secrets are never shown)."""
    found = get_client(tracking_uri).list_webhooks()
    if as_json:
        print_json([w.to_dict() for w in found])
        return
    console = stdout()
    if not found:
        console.print("No webhooks.", style="dim")
        return
    table = listing_table()
    for column in ("Id", "URL", "Events", "Model", "Created"):
        table.add_column(column, overflow="fold")
    for w in found:
        table.add_row(
            str(w.id), w.url, ", ".join(w.events), w.model or "*", format_time(w.creation_timestamp)
        )
    console.print(table)


@webhooks_app.command("delete")
def delete_webhook(webhook_id: WebhookId, tracking_uri: TrackingUri = None) -> None:
    """Delete a webhook and its delivery log."""
    get_client(tracking_uri).delete_webhook(webhook_id)
    stdout().print(f"Deleted webhook {webhook_id}")


@webhooks_app.command("test")
def test_webhook(webhook_id: WebhookId, tracking_uri: TrackingUri = None) -> None:
    """Queue a `ping` delivery to a webhook (follow it with `deliveries`)."""
    found = get_client(tracking_uri).test_webhook(webhook_id)
    stdout().print(f"Queued delivery {found.id} (event id {found.event_id})")


@webhooks_app.command("deliveries")
def deliveries(
    webhook_id: Annotated[
        str | None, typer.Option("--webhook", metavar="WEBHOOK_ID", help="Only this webhook.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", metavar="STATUS", help="PENDING, DELIVERED or FAILED."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", metavar="N", help="Show at most N (1-1000).")
    ] = 100,
    as_json: JsonOutput = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """The delivery log, newest first: status, attempts, last answer or error."""
    found = get_client(tracking_uri).list_webhook_deliveries(webhook_id, status, limit)
    if as_json:
        print_json([d.to_dict() for d in found])
        return
    console = stdout()
    if not found:
        console.print("No deliveries.", style="dim")
        return
    table = listing_table()
    for column in ("Id", "Webhook", "Event", "Status", "Attempts", "Last", "Next", "Error"):
        table.add_column(column, overflow="fold")
    for d in found:
        table.add_row(
            str(d.id),
            str(d.webhook_id),
            d.event,
            d.status,
            str(d.attempts),
            str(d.last_status_code or ""),
            format_time(d.next_attempt_timestamp) if d.next_attempt_timestamp else "",
            d.last_error,
        )
    console.print(table)


@webhooks_app.command("delivery")
def delivery(
    delivery_id: Annotated[str, typer.Argument(metavar="DELIVERY_ID", help="Delivery id.")],
    as_json: JsonOutput = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Show one delivery: its body and every attempt (status code or error, duration)."""
    found = get_client(tracking_uri).get_webhook_delivery(delivery_id)
    if as_json:
        print_json(found.to_dict())
        return
    console = stdout()
    console.print(f"Delivery {found.id} to webhook {found.webhook_id}: {found.event}")
    console.print(f"  event id  {found.event_id}")
    console.print(f"  status    {found.status} after {found.attempts} attempt(s)")
    if found.next_attempt_timestamp:
        console.print(f"  next      {format_time(found.next_attempt_timestamp)}")
    console.print(f"  body      {found.payload}", soft_wrap=True)
    if not found.attempt_log:
        return
    table = listing_table()
    for column in ("Time", "Status", "Took (ms)", "Error"):
        table.add_column(column, overflow="fold")
    for a in found.attempt_log:
        table.add_row(
            format_time(a.timestamp), str(a.status_code or ""), str(a.duration_ms), a.error
        )
    console.print(table)


@webhooks_app.command("redeliver")
def redeliver(
    delivery_id: Annotated[str, typer.Argument(metavar="DELIVERY_ID", help="Delivery id.")],
    tracking_uri: TrackingUri = None,
) -> None:
    """Queue a delivery again (same event id and body, fresh attempts)."""
    found = get_client(tracking_uri).redeliver_webhook_delivery(delivery_id)
    stdout().print(f"Delivery {found.id} queued again")
