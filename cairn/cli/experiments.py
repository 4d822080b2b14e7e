"""`cairn experiments`: create, list, rename, delete and restore experiments."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from cairn.cli.options import JsonOutput, NameFilter, TrackingUri, View, ViewOption, get_client
from cairn.cli.output import format_time, listing_table, print_json, stdout

if TYPE_CHECKING:
    from cairn.entities import Experiment, ViewType
    from cairn.tracking.client import CairnClient

app = typer.Typer(
    help="Create, list, rename, delete and restore experiments.", no_args_is_help=True
)

_PAGE_SIZE = 1000


def iter_experiments(
    client: CairnClient,
    view_type: ViewType,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> Iterator[Experiment]:
    """Every experiment the search matches, following page tokens."""
    token: str | None = None
    while True:
        page = client.search_experiments(
            view_type=view_type,
            max_results=_PAGE_SIZE,
            filter_string=filter_string,
            order_by=order_by,
            page_token=token,
        )
        yield from page
        token = page.token
        if not token:
            return


def _parse_tags(pairs: list[str] | None) -> dict[str, str]:
    tags: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--tag")
        tags[key] = value
    return tags


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Name of the new experiment.")],
    artifact_location: Annotated[
        str | None,
        typer.Option(
            "--artifact-location",
            "-l",
            metavar="URI",
            help="Where the experiment's runs store artifacts (default: under the artifact root).",
        ),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", "-t", metavar="KEY=VALUE", help="Tag to set; repeatable."),
    ] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Create an experiment and print its id."""
    tags = _parse_tags(tag)
    client = get_client(tracking_uri)
    experiment_id = client.create_experiment(
        name, artifact_location=artifact_location, tags=tags or None
    )
    stdout().print(f"Created experiment {name!r} with id {experiment_id}")


@app.command("list")
def list_experiments(
    view: ViewOption = View.active,
    filter_string: NameFilter = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option(
            "--order-by",
            metavar="CLAUSE",
            help="Sort clause such as 'name ASC' or 'creation_time DESC'; repeatable.",
        ),
    ] = None,
    as_json: JsonOutput = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """List experiments."""
    client = get_client(tracking_uri)
    found = list(iter_experiments(client, view.to_view_type(), filter_string, order_by))
    if as_json:
        print_json([e.to_dict() for e in found])
        return
    _print_table(found, show_stage=view is not View.active)


def _print_table(experiments: list[Experiment], show_stage: bool) -> None:
    table = listing_table()
    table.add_column("ID", no_wrap=True)
    table.add_column("Name", style="cyan")
    if show_stage:
        table.add_column("Stage")
    table.add_column("Created", no_wrap=True)
    table.add_column("Artifact location", overflow="fold")
    table.add_column("Tags", overflow="ellipsis", max_width=40)
    for e in experiments:
        tags = ", ".join(f"{k}={v}" for k, v in sorted(e.tags.items()))
        stage = [str(e.lifecycle_stage)] if show_stage else []
        table.add_row(
            e.experiment_id, e.name, *stage, format_time(e.creation_time), e.artifact_location, tags
        )
    console = stdout()
    if experiments:
        console.print(table)
    else:
        console.print("No experiments found.", style="dim")


@app.command("rename")
def rename(
    experiment_id: Annotated[str, typer.Argument(metavar="ID", help="Experiment id.")],
    new_name: Annotated[str, typer.Argument(metavar="NEW_NAME", help="The new name.")],
    tracking_uri: TrackingUri = None,
) -> None:
    """Rename an experiment."""
    get_client(tracking_uri).rename_experiment(experiment_id, new_name)
    stdout().print(f"Renamed experiment {experiment_id} to {new_name!r}")


@app.command("delete")
def delete(
    experiment_id: Annotated[str, typer.Argument(metavar="ID", help="Experiment id.")],
    tracking_uri: TrackingUri = None,
) -> None:
    """Delete an experiment and its runs (soft delete: `restore` brings them back)."""
    get_client(tracking_uri).delete_experiment(experiment_id)
    stdout().print(f"Deleted experiment {experiment_id}")


@app.command("restore")
def restore(
    experiment_id: Annotated[str, typer.Argument(metavar="ID", help="Experiment id.")],
    tracking_uri: TrackingUri = None,
) -> None:
    """Restore a deleted experiment and its runs."""
    get_client(tracking_uri).restore_experiment(experiment_id)
    stdout().print(f"Restored experiment {experiment_id}")
