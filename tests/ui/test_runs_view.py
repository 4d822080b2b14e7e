"""The runs table's URL state: parsing, defaults, complaints and links."""

from __future__ import annotations

from urllib.parse import parse_qsl

from cairn.search import RUNS, parse_order_by
from cairn.ui.runs_view import Column, RunsView, parse_column


def view_of(query: str) -> tuple[RunsView, list[str]]:
    return RunsView.from_query(parse_qsl(query.lstrip("?"), keep_blank_values=True))


def test_defaults() -> None:
    view, errors = view_of("")
    assert errors == []
    assert (view.filter, view.sort, view.descending, view.page, view.size) == (
        "", "attributes.start_time", True, 1, 100,
    )  # fmt: skip
    assert view.order_by == ["attributes.start_time DESC"]
    assert view.query() == "?"


def test_state_round_trips_through_the_query_string() -> None:
    query = (
        "?filter=metrics.acc+%3E+0.5&sort=metrics.val+loss&dir=asc"
        "&cols=1&col=metrics.val+loss&col=params.lr&page=3&size=50"
    )
    view, errors = view_of(query)
    assert errors == []
    assert view.columns == (Column("metrics", "val loss"), Column("params", "lr"))
    assert view.offset == 100
    again, _ = view_of(view.query())
    assert again == view


def test_keys_are_backticked_so_any_key_sorts() -> None:
    for key in ("acc", "val loss", "a`b", "loss/val", "x-y"):
        view, errors = view_of("?" + f"sort=metrics.{key}".replace(" ", "+"))
        assert errors == []
        (order,) = parse_order_by(view.order_by, RUNS)
        assert order.key == key and not order.ascending


def test_bad_values_fall_back_to_defaults_with_a_complaint() -> None:
    view, errors = view_of("?sort=bogus&dir=up&page=-2&size=100000&col=nonsense")
    assert view.sort == "attributes.start_time" and view.descending
    assert view.page == 1 and view.size == 100
    joined = " ".join(errors)
    for word in ("sort", "dir", "page", "size", "nonsense"):
        assert word in joined
    assert len(errors) == 5
    _, errors = view_of("?page=abc")
    assert errors == ["Bad page 'abc': expected a whole number"]


def test_header_clicks_flip_the_direction_of_the_sort_column_only() -> None:
    view, _ = view_of("?sort=metrics.acc&page=4")
    assert view.sorted_by("metrics.acc") == "?sort=metrics.acc&dir=asc"
    assert view.sorted_by("params.lr") == "?sort=params.lr"


def test_default_columns_apply_only_without_an_explicit_choice() -> None:
    keys = {"metrics": [f"m{i}" for i in range(20)], "params": ["lr"]}
    view, _ = view_of("")
    chosen = view.with_default_columns(keys).columns
    assert len(chosen) == 9 and chosen[-1] == Column("params", "lr")
    explicit, _ = view_of("?cols=1")
    assert explicit.with_default_columns(keys).columns == ()


def test_parse_column() -> None:
    assert parse_column("tags.mlflow.source.name") == Column("tags", "mlflow.source.name")
    assert parse_column("metrics.a b").identifier == "metrics.`a b`"
    assert parse_column("attributes.status").identifier == "attributes.status"
