"""`cairn runs`: list, describe, delete and restore runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cairn.cli.options import JsonOutput, TrackingUri, View, ViewOption, get_client
from cairn.cli.output import print_json, print_note, stdout
from cairn.entities import PagedList

if TYPE_CHECKING:
    from cairn.entities import Run
    from cairn.tracking.client import CairnClient

app = typer.Typer(help="List, describe, delete and restore runs.", no_args_is_help=True)

RunId = Annotated[str, typer.Argument(metavar="RUN_ID", help="The run's id.")]


def _experiment_ids(
    client: CairnClient, ids: list[str] | None, names: list[str] | None, view: View
) -> list[str]:
    """The experiments to search: those named on the command line, else all of them."""
    from cairn.exceptions import ResourceDoesNotExist

    chosen = [client.get_experiment(i).experiment_id for i in ids or []]
    for name in names or []:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise ResourceDoesNotExist(f"No experiment named {name!r}")
        chosen.append(experiment.experiment_id)
    if ids or names:
        return list(dict.fromkeys(chosen))
    from cairn.cli.experiments import iter_experiments
    from cairn.entities import ViewType

    # Deleting an experiment deletes its runs, so active runs live in active experiments.
    scope = ViewType.ACTIVE_ONLY if view is View.active else ViewType.ALL
    return [e.experiment_id for e in iter_experiments(client, scope)]


@app.command("list")
def list_runs(
    experiment_id: Annotated[
        list[str] | None,
        typer.Option(
            "--experiment-id",
            "-e",
            metavar="ID",
            help="Experiment to search; repeatable. Default: every experiment.",
        ),
    ] = None,
    experiment_name: Annotated[
        list[str] | None,
        typer.Option("--experiment-name", "-n", metavar="NAME", help="Experiment by name."),
    ] = None,
    filter_string: Annotated[
        str | None,
        typer.Option(
            "--filter",
            "-f",
            metavar="EXPR",
            help="Search filter, e.g. \"metrics.acc > 0.9 and params.model = 'cnn'\".",
        ),
    ] = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option(
            "--order-by",
            "-o",
            metavar="CLAUSE",
            help="Sort clause such as 'metrics.acc DESC'; repeatable.",
        ),
    ] = None,
    max_results: Annotated[
        int, typer.Option("--max-results", "-m", metavar="N", min=1, help="Most runs to show.")
    ] = 100,
    view: ViewOption = View.active,
    columns: Annotated[
        list[str] | None,
        typer.Option(
            "--columns",
            "-c",
            metavar="KEYS",
            help="Metric/param/tag columns to show, comma-separated or repeated, "
            "e.g. 'metrics.acc,params.lr'.",
        ),
    ] = None,
    max_columns: Annotated[
        int,
        typer.Option(
            "--max-columns",
            metavar="N",
            min=0,
            help="Cap on automatic metric/param columns (0: no cap).",
        ),
    ] = 6,
    as_json: JsonOutput = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """List runs as a table of their status, timing, metrics and params."""
    client = get_client(tracking_uri)
    ids = _experiment_ids(client, experiment_id, experiment_name, view)
    runs: PagedList[Run] = PagedList()
    if ids:
        runs = client.search_runs(
            experiment_ids=ids,
            filter_string=filter_string or "",
            run_view_type=view.to_view_type(),
            max_results=max_results,
            order_by=order_by,
        )
    if as_json:
        print_json([run.to_dict() for run in runs])
        return
    if not runs:
        stdout().print("No runs found.", style="dim")
        return
    from cairn.cli.run_columns import choose_columns
    from cairn.cli.run_views import fit_columns, runs_table

    console = stdout()
    show_experiment = len({run.info.experiment_id for run in runs}) > 1
    shown, hidden = choose_columns(runs, columns or (), order_by or (), max_columns)
    if not columns:
        shown, too_wide = fit_columns(runs, shown, console.width, show_experiment)
        hidden += too_wide
    console.print(runs_table(runs, shown, show_experiment))
    if hidden:
        print_note(
            f"{hidden} more metric/param column(s) not shown: pick them with --columns, "
            "raise --max-columns, or widen the terminal."
        )
    if runs.token:
        print_note(f"Showing the first {len(runs)} runs; raise --max-results to see more.")


@app.command("describe")
def describe(run_id: RunId, as_json: JsonOutput = False, tracking_uri: TrackingUri = None) -> None:
    """Show a run's info, params, latest metrics, tags and inputs."""
    client = get_client(tracking_uri)
    run = client.get_run(run_id)
    if as_json:
        print_json(run.to_dict())
        return
    from cairn.cli.run_views import run_report
    from cairn.exceptions import CairnException

    try:
        experiment = client.get_experiment(run.info.experiment_id)
    except CairnException:
        experiment = None
    stdout().print(run_report(run, experiment))


@app.command("delete")
def delete(run_id: RunId, tracking_uri: TrackingUri = None) -> None:
    """Delete a run (soft delete: `restore` brings it back)."""
    get_client(tracking_uri).delete_run(run_id)
    stdout().print(f"Deleted run {run_id}")


@app.command("restore")
def restore(run_id: RunId, tracking_uri: TrackingUri = None) -> None:
    """Restore a deleted run."""
    get_client(tracking_uri).restore_run(run_id)
    stdout().print(f"Restored run {run_id}")
