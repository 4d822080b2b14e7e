"""Fitting the runs table to the terminal, and the describe report."""

from __future__ import annotations

import io

from rich.console import Console

from cairn.cli.run_columns import DataColumn
from cairn.cli.run_views import fit_columns, run_report, runs_table
from cairn.entities import Run, RunData, RunInfo, RunStatus

RUN = Run(
    RunInfo("a" * 32, "0", "baseline", "me", RunStatus.FAILED, 0, 61_000, "/tmp/a"),
    RunData(metrics={"acc": 0.5, "loss": 2.0}, params={"lr": "0.1"}),
)
COLUMNS = [DataColumn("metrics", "acc"), DataColumn("metrics", "loss"), DataColumn("params", "lr")]


def _render(renderable: object, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_wide_terminals_fit_every_column() -> None:
    assert fit_columns([RUN], COLUMNS, width=200) == (COLUMNS, 0)


def test_narrow_terminals_keep_the_leading_columns() -> None:
    kept, dropped = fit_columns([RUN], COLUMNS, width=95)
    assert kept == COLUMNS[:1] and dropped == 2
    assert fit_columns([RUN], COLUMNS, width=40) == ([], 3)


def test_a_fitted_table_is_not_squeezed() -> None:
    for width in (80, 95, 120):
        kept, _ = fit_columns([RUN], COLUMNS, width)
        lines = _render(runs_table([RUN], kept), width).splitlines()
        assert max(len(line.rstrip()) for line in lines) <= width
        assert "a" * 32 in lines[2] and "FAILED" in lines[2] and "…" not in lines[2]


def test_report_lists_every_section() -> None:
    text = _render(run_report(RUN), 120)
    for part in ("Run ID", "baseline", "FAILED", "1m 1s", "Params", "Metrics", "Tags", "lr"):
        assert part in text
    assert "Inputs" not in text  # only when the run has dataset inputs
