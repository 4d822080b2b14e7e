"""Choosing the metric/param columns of `cairn runs list`."""

from __future__ import annotations

from cairn.cli.run_columns import DataColumn, choose_columns, order_by_column, parse_column
from cairn.entities import Run, RunData, RunInfo, RunStatus


def _run(
    metrics: dict[str, float], params: dict[str, str], tags: dict[str, str] | None = None
) -> Run:
    info = RunInfo("r", "0", "n", "u", RunStatus.FINISHED, 0, 1, "/tmp/a")
    return Run(info, RunData(metrics=metrics, params=params, tags=tags or {}))


RUNS = [
    _run({"acc": 0.9, "loss": 0.1}, {"lr": "0.1"}),
    _run({"f1": 0.5}, {"depth": "3"}, {"team": "x"}),
]


def test_metrics_then_params_sorted() -> None:
    columns, hidden = choose_columns(RUNS)
    assert [c.header for c in columns] == [
        "metrics.acc",
        "metrics.f1",
        "metrics.loss",
        "params.depth",
        "params.lr",
    ]
    assert hidden == 0


def test_sort_keys_come_first_and_the_cap_hides_the_rest() -> None:
    columns, hidden = choose_columns(RUNS, order_by=["params.lr DESC", "tags.team"], limit=3)
    assert [c.header for c in columns] == ["params.lr", "tags.team", "metrics.acc"]
    assert hidden == 3


def test_no_limit() -> None:
    assert choose_columns(RUNS, limit=0)[1] == 0


def test_requested_columns_win() -> None:
    columns, hidden = choose_columns(RUNS, requested=["metrics.f1, params.lr", "team"], limit=1)
    assert [c.header for c in columns] == ["metrics.f1", "params.lr", "tags.team"]
    assert hidden == 0


def test_parse_column_prefixes_and_quotes() -> None:
    assert parse_column("metric.`f1 score`", RUNS) == DataColumn("metrics", "f1 score")
    assert parse_column("param.lr", RUNS) == DataColumn("params", "lr")
    assert parse_column("depth", RUNS) == DataColumn("params", "depth")
    assert parse_column("unknown", RUNS) == DataColumn("metrics", "unknown")


def test_order_by_column() -> None:
    assert order_by_column("metrics.`val acc` DESC") == DataColumn("metrics", "val acc")
    assert order_by_column('params."lr"') == DataColumn("params", "lr")
    assert order_by_column("start_time DESC") is None
    assert order_by_column("attributes.run_name") is None


def test_values() -> None:
    run = RUNS[0]
    assert DataColumn("metrics", "acc").value(run) == "0.9"
    assert DataColumn("params", "lr").value(run) == "0.1"
    assert DataColumn("metrics", "missing").value(run) == ""
