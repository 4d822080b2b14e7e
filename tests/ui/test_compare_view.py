"""The comparison's URL state and diff, as pure functions."""

from __future__ import annotations

import math

import pytest

from cairn.exceptions import InvalidParameterValue
from cairn.ui.compare_view import (
    CompareRun,
    CompareView,
    chart_value,
    diff_rows,
    parse_run_ids,
)


def run(rid: str, params: dict[str, str], metrics: dict[str, float]) -> CompareRun:
    return CompareRun(rid, rid, "1", "FINISHED", params, metrics)


def test_run_ids_from_both_forms_without_duplicates() -> None:
    assert parse_run_ids([("runs", "a, b,,a"), ("run", "c"), ("x", "d")]) == ["a", "b", "c"]
    with pytest.raises(InvalidParameterValue, match="at least 2"):
        parse_run_ids([("runs", "a,a")])
    with pytest.raises(InvalidParameterValue, match="At most 100"):
        parse_run_ids([("runs", ",".join(str(i) for i in range(101)))])
    assert len(parse_run_ids([("runs", ",".join(str(i) for i in range(100)))])) == 100


def test_diff_rows_mark_differences_missing_values_and_nan() -> None:
    runs = [
        run("a", {"lr": "0.1", "opt": "adam"}, {"acc": 0.5, "nan": math.nan}),
        run("b", {"lr": "0.2", "opt": "adam"}, {"acc": 0.5, "nan": math.nan, "extra": 1.0}),
    ]
    params = diff_rows(runs, "params")
    assert [(r.key, r.values, r.differs) for r in params] == [
        ("lr", ["0.1", "0.2"], True),
        ("opt", ["adam", "adam"], False),
    ]
    metrics = {r.key: r for r in diff_rows(runs, "metrics")}
    assert not metrics["acc"].differs and not metrics["nan"].differs
    assert metrics["extra"].differs and metrics["extra"].values == [None, 1.0]
    assert metrics["extra"].ref == "metrics.extra"


def test_defaults_and_query_round_trip() -> None:
    runs = [run("a", {"lr": "1", "same": "x"}, {"acc": 1.0, "loss": 2.0}),
            run("b", {"lr": "2", "same": "x"}, {"acc": 3.0, "loss": 1.0})]  # fmt: skip
    view, errors = CompareView.from_query([("runs", "a,b")])
    assert errors == []
    filled = view.with_defaults(diff_rows(runs, "params"), diff_rows(runs, "metrics"))
    assert filled.parallel == ("params.lr", "metrics.acc")
    assert (filled.x, filled.y) == ("params.lr", "metrics.acc")
    assert filled.histories == ("acc", "loss")
    again, _ = CompareView.from_query(
        [(k, v) for k, v in _pairs(filled.query(only_diff=True, explicit=True))]
    )
    assert again == CompareView(("a", "b"), True, filled.parallel, "params.lr", "metrics.acc",
                                ("acc", "loss"), True)  # fmt: skip


def test_bad_axes_are_reported_and_dropped() -> None:
    view, errors = CompareView.from_query(
        [("runs", "a,b"), ("par", "tags.x"), ("par", "params.lr"), ("x", "nope"), ("y", "")]
    )
    assert view.parallel == ("params.lr",) and view.x == "" and len(errors) == 2


def test_chart_values_are_json_safe() -> None:
    assert chart_value(math.nan) is None and chart_value(math.inf) is None
    assert chart_value(1.5) == 1.5 and chart_value("a") == "a"


def _pairs(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query.lstrip("?"), keep_blank_values=True)


def test_points_per_run_shrink_as_runs_grow() -> None:
    from cairn.ui.compare import history_points

    assert history_points(2) == 500 and history_points(20) == 500
    assert history_points(50) == 200 and history_points(100) == 100
