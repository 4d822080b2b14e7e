"""Rich renderings of runs: the `runs list` table and the `runs describe` report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text

from cairn.cli.output import (
    COLUMN_GAP,
    format_duration,
    format_number,
    format_time,
    listing_table,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from rich.console import RenderableType

    from cairn.cli.run_columns import DataColumn
    from cairn.entities import Experiment, Run

STATUS_STYLES = {
    "RUNNING": "yellow",
    "SCHEDULED": "cyan",
    "FINISHED": "green",
    "FAILED": "bold red",
    "KILLED": "red",
}


def status_text(status: object) -> Text:
    name = str(status)
    return Text(name, style=STATUS_STYLES.get(name, ""))


_TEXT_CAP = 24
"""Widest a name, param or tag column grows before values are cut short with an ellipsis."""


def _fixed_cells(run: Run, show_experiment: bool) -> list[str]:
    info = run.info
    return [
        info.run_id,
        *([info.experiment_id] if show_experiment else []),
        info.run_name,
        str(info.status),
        format_time(info.start_time, seconds=False),
        format_duration(info.start_time, info.end_time),
    ]


def _fixed_headers(show_experiment: bool) -> list[str]:
    return ["Run ID", *(["Exp"] if show_experiment else []), "Name", "Status", "Start", "Duration"]


def _natural_width(header: str, values: Iterable[str], cap: int | None = None) -> int:
    width = max([cell_len(header), *(cell_len(v) for v in values)])
    return width if cap is None else min(width, cap)


def fit_columns(
    runs: Sequence[Run], columns: Sequence[DataColumn], width: int, show_experiment: bool = False
) -> tuple[list[DataColumn], int]:
    """The leading data columns that fit in `width` beside the fixed ones, and how many don't."""
    headers = _fixed_headers(show_experiment)
    cells = [_fixed_cells(run, show_experiment) for run in runs]
    used = sum(
        _natural_width(h, (row[i] for row in cells), _TEXT_CAP if h == "Name" else None)
        for i, h in enumerate(headers)
    )
    used += COLUMN_GAP * (len(headers) - 1)
    kept: list[DataColumn] = []
    for column in columns:
        cap = None if column.kind == "metrics" else _TEXT_CAP
        need = COLUMN_GAP + _natural_width(column.header, (column.value(r) for r in runs), cap)
        if used + need > width:
            break
        used += need
        kept.append(column)
    return kept, len(columns) - len(kept)


def runs_table(
    runs: Sequence[Run], columns: Sequence[DataColumn], show_experiment: bool = False
) -> Table:
    """One row per run: id, name, status, start, duration, then the chosen data columns."""
    table = listing_table()
    table.add_column("Run ID", no_wrap=True, min_width=32)
    if show_experiment:
        table.add_column("Exp", no_wrap=True)
    table.add_column("Name", style="cyan", no_wrap=True, min_width=4, max_width=_TEXT_CAP)
    table.add_column("Status", no_wrap=True)
    table.add_column("Start", no_wrap=True)
    table.add_column("Duration", no_wrap=True, justify="right")
    for column in columns:
        numeric = column.kind == "metrics"
        table.add_column(
            column.header,
            justify="right" if numeric else "left",
            no_wrap=True,
            overflow="ellipsis",
            max_width=None if numeric else _TEXT_CAP,
            style="magenta" if numeric else "",
        )
    status_at = _fixed_headers(show_experiment).index("Status")
    for run in runs:
        row: list[str | Text] = [*_fixed_cells(run, show_experiment)]
        row[status_at] = status_text(run.info.status)
        table.add_row(*row, *(column.value(run) for column in columns))
    return table


def _key_values(title: str, items: dict[str, str]) -> Table:
    table = listing_table(title)
    table.add_column("Key", style="cyan", no_wrap=True)
    table.add_column("Value", overflow="fold")
    for key in sorted(items):
        table.add_row(key, items[key])
    return table


def run_report(run: Run, experiment: Experiment | None = None) -> RenderableType:
    """Everything about one run: info, params, latest metrics, tags and dataset inputs."""
    info = run.info
    overview = Table.grid(padding=(0, 2))
    overview.add_column(style="bold")
    overview.add_column(overflow="fold")
    exp = info.experiment_id + (f" ({experiment.name})" if experiment else "")
    rows: list[tuple[str, str | Text]] = [
        ("Run ID", info.run_id),
        ("Name", info.run_name),
        ("Experiment", exp),
        ("Status", status_text(info.status)),
        ("Lifecycle", str(info.lifecycle_stage)),
        ("User", info.user_id),
        ("Start", format_time(info.start_time)),
        ("End", format_time(info.end_time)),
        ("Duration", format_duration(info.start_time, info.end_time)),
        ("Artifact URI", info.artifact_uri),
    ]
    for label, value in rows:
        overview.add_row(label, value)

    parts: list[RenderableType] = [overview, Text()]
    parts += [_key_values("Params", run.data.params), Text()]
    parts += [_metrics_table(run), Text()]
    parts += [_key_values("Tags", run.data.tags)]
    if run.inputs.dataset_inputs:
        parts += [Text(), _inputs_table(run)]
    return Group(*parts)


def _metrics_table(run: Run) -> Table:
    table = listing_table("Metrics")
    table.add_column("Key", style="cyan", no_wrap=True)
    table.add_column("Latest value", justify="right", style="magenta")
    table.add_column("Step", justify="right")
    table.add_column("Timestamp", no_wrap=True)
    for metric in sorted(run.data.latest_metrics, key=lambda m: m.key):
        table.add_row(
            metric.key, format_number(metric.value), str(metric.step), format_time(metric.timestamp)
        )
    return table


def _inputs_table(run: Run) -> Table:
    table = listing_table("Inputs")
    table.add_column("Dataset", style="cyan")
    table.add_column("Digest", no_wrap=True)
    table.add_column("Context")
    table.add_column("Source type")
    table.add_column("Source", overflow="fold")
    for item in run.inputs.dataset_inputs:
        ds = item.dataset
        table.add_row(ds.name, ds.digest, item.context or "", ds.source_type, ds.source)
    return table
