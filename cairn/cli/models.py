"""`cairn models`: list, describe and delete registered models; versions, stages, aliases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cairn.cli import models_batch as batch
from cairn.cli import models_governance as governance
from cairn.cli import models_serving as serving
from cairn.cli.options import JsonOutput, NameFilter, TrackingUri, get_client
from cairn.cli.output import format_time, listing_table, print_json, stdout

if TYPE_CHECKING:
    from cairn.entities import ModelVersion, RegisteredModel
    from cairn.tracking.client import CairnClient

app = typer.Typer(
    help="Registered models: list, describe, versions, stage transitions, aliases, download, "
    "delete; governance: history, policies, transition requests, webhooks.",
    no_args_is_help=True,
)
app.command("history")(governance.history)
app.command("policy")(governance.policy)
app.command("request")(governance.request)
app.command("approve")(governance.approve)
app.command("reject")(governance.reject)
app.command("requests")(governance.requests)
app.add_typer(governance.webhooks_app, name="webhooks")
app.command("serve")(serving.serve)
app.command("predict")(batch.predict)
app.command("generate-dockerfile")(batch.generate_dockerfile)

_MODEL_PAGE = 1000  # the registry's largest model page
_VERSION_PAGE = 10000

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="Registered model name.")]
VersionArgument = Annotated[str, typer.Argument(metavar="VERSION", help="Version number.")]


def iter_models(
    client: CairnClient, filter_string: str | None = None, order_by: list[str] | None = None
) -> Iterator[RegisteredModel]:
    """Every registered model the search matches, following page tokens."""
    token: str | None = None
    while True:
        page = client.search_registered_models(filter_string, _MODEL_PAGE, order_by, token)
        yield from page
        token = page.token
        if not token:
            return


def iter_versions(
    client: CairnClient, filter_string: str | None = None, order_by: list[str] | None = None
) -> Iterator[ModelVersion]:
    """Every model version the search matches, following page tokens."""
    token: str | None = None
    while True:
        page = client.search_model_versions(filter_string, _VERSION_PAGE, order_by, token)
        yield from page
        token = page.token
        if not token:
            return


def _quoted(name: str) -> str:
    """`name` as a string literal of the search grammar."""
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


@app.command("list")
def list_models(
    filter_string: NameFilter = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option(
            "--order-by",
            metavar="CLAUSE",
            help="Sort clause such as 'name ASC' or 'last_updated_timestamp DESC'; repeatable.",
        ),
    ] = None,
    as_json: JsonOutput = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """List registered models with their latest version per stage and their aliases."""
    found = list(iter_models(get_client(tracking_uri), filter_string, order_by))
    if as_json:
        print_json([m.to_dict() for m in found])
        return
    table = listing_table()
    table.add_column("Name", style="cyan")
    table.add_column("Latest versions")
    table.add_column("Aliases")
    table.add_column("Updated", no_wrap=True)
    table.add_column("Tags", overflow="ellipsis", max_width=40)
    for m in found:
        latest = ", ".join(f"{v.current_stage}: {v.version}" for v in m.latest_versions)
        aliases = ", ".join(f"@{a}: {v}" for a, v in sorted(m.aliases.items()))
        tags = ", ".join(f"{k}={v}" for k, v in sorted(m.tags.items()))
        table.add_row(m.name, latest, aliases, format_time(m.last_updated_timestamp), tags)
    console = stdout()
    if found:
        console.print(table)
    else:
        console.print("No registered models found.", style="dim")


@app.command("describe")
def describe(
    name: NameArgument, as_json: JsonOutput = False, tracking_uri: TrackingUri = None
) -> None:
    """Show one registered model and all its versions."""
    client = get_client(tracking_uri)
    model = client.get_registered_model(name)
    versions = list(iter_versions(client, f"name = {_quoted(name)}"))
    if as_json:
        print_json({**model.to_dict(), "versions": [v.to_dict() for v in versions]})
        return
    console = stdout()
    console.print(f"Registered model {model.name}")
    console.print(f"  created      {format_time(model.creation_timestamp)}")
    console.print(f"  updated      {format_time(model.last_updated_timestamp)}")
    if model.description:
        console.print(f"  description  {model.description}")
    for key, value in sorted(model.tags.items()):
        console.print(f"  tag          {key}={value}")
    for alias, version in sorted(model.aliases.items()):
        console.print(f"  alias        @{alias} -> version {version}")
    console.print()
    _print_versions(versions)


def _print_versions(versions: list[ModelVersion]) -> None:
    console = stdout()
    if not versions:
        console.print("No versions.", style="dim")
        return
    table = listing_table()
    # The run id takes 32 columns; a narrow terminal leaves it to the source (runs:/<id>/…).
    with_run = console.width >= 120
    table.add_column("Version", justify="right", no_wrap=True)
    table.add_column("Stage", no_wrap=True)
    table.add_column("Aliases")
    table.add_column("Status", no_wrap=True)
    table.add_column("Created", no_wrap=True)
    if with_run:
        table.add_column("Run", no_wrap=True)
    table.add_column("Source", overflow="fold")
    for v in versions:
        aliases = ", ".join(f"@{a}" for a in v.aliases)
        cells = [
            v.version,
            str(v.current_stage),
            aliases,
            str(v.status),
            format_time(v.creation_timestamp),
            *([v.run_id] if with_run else []),
            v.source,
        ]
        table.add_row(*cells)
    console.print(table)


@app.command("versions")
def versions(
    name: NameArgument,
    filter_string: Annotated[
        str | None,
        typer.Option(
            "--filter",
            "-f",
            metavar="EXPR",
            help='More conditions, e.g. "version_number > 3" or "tags.validated = \'yes\'".',
        ),
    ] = None,
    as_json: JsonOutput = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """List a model's versions, newest first."""
    client = get_client(tracking_uri)
    client.get_registered_model(name)  # a clear error for an unknown model
    condition = f"name = {_quoted(name)}"
    if filter_string:
        condition += f" AND ({filter_string})"
    found = list(iter_versions(client, condition))
    if as_json:
        print_json([v.to_dict() for v in found])
        return
    _print_versions(found)


@app.command("transition")
def transition(
    name: NameArgument,
    version: VersionArgument,
    stage: Annotated[
        str,
        typer.Argument(metavar="STAGE", help="None, Staging, Production or Archived."),
    ],
    archive_existing: Annotated[
        bool,
        typer.Option(
            "--archive-existing",
            help="Archive the versions already in STAGE (Staging or Production only).",
        ),
    ] = False,
    comment: governance.Comment = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Move a model version to another stage (promotion policies apply)."""
    moved = get_client(tracking_uri).transition_model_version_stage(
        name, version, stage, archive_existing_versions=archive_existing, comment=comment
    )
    stdout().print(f"Model {name!r} version {moved.version} is now in stage {moved.current_stage}")


@app.command("alias")
def alias(
    name: NameArgument,
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="Alias, e.g. champion.")],
    version: Annotated[
        str | None,
        typer.Argument(metavar="[VERSION]", help="Point the alias at this version."),
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias.")] = False,
    comment: governance.Comment = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Set (with VERSION), remove (--delete) or show an alias of a model."""
    if delete and version is not None:
        raise typer.BadParameter("give VERSION or --delete, not both", param_hint="VERSION")
    client = get_client(tracking_uri)
    console = stdout()
    if delete:
        client.delete_registered_model_alias(name, alias_name, comment)
        console.print(f"Removed alias @{alias_name} of model {name!r}")
    elif version is not None:
        client.set_registered_model_alias(name, alias_name, version, comment)
        console.print(f"Alias @{alias_name} of model {name!r} now points at version {version}")
    else:
        found = client.get_model_version_by_alias(name, alias_name)
        console.print(f"models:/{name}@{alias_name} -> version {found.version}")


@app.command("delete")
def delete(
    name: NameArgument,
    version: Annotated[
        str | None,
        typer.Option("--version", "-v", metavar="VERSION", help="Delete only this version."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Delete a registered model with all its versions, or one version (no undo)."""
    what = f"version {version} of model {name!r}" if version else f"model {name!r}"
    if not yes and not typer.confirm(f"Delete {what} for good?"):
        raise typer.Exit(1)
    client = get_client(tracking_uri)
    if version:
        client.delete_model_version(name, version)
    else:
        client.delete_registered_model(name)
    stdout().print(f"Deleted {what}")


@app.command("download")
def download(
    model_uri: Annotated[
        str,
        typer.Argument(
            metavar="MODEL_URI",
            help="models:/NAME/VERSION, models:/NAME/STAGE, models:/NAME/latest or "
            "models:/NAME@ALIAS.",
        ),
    ],
    dst: Annotated[
        Path,
        typer.Option(
            "--dst",
            "-d",
            metavar="DIR",
            file_okay=False,
            help="Local directory to download into (created if missing).",
        ),
    ] = Path("."),
    tracking_uri: TrackingUri = None,
) -> None:
    """Download the files of the model version a models:/ URI names; prints the local path."""
    local_path = get_client(tracking_uri).download_model_artifacts(model_uri, dst)
    stdout().print(local_path, soft_wrap=True)
