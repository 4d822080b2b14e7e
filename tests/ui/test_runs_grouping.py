"""Nested runs: children follow their parent within a page."""

from __future__ import annotations

from cairn.ui.runs import Row, grouped


def row(run_id: str, parent: str | None = None) -> Row:
    return Row(run_id, run_id, "FINISHED", 0, 1, "", "", {}, {}, {}, parent)


def order(rows: list[Row]) -> list[tuple[str, int]]:
    return [(r.run_id, r.depth) for r in grouped(rows)]


def test_children_move_under_their_parent_keeping_page_order() -> None:
    rows = [row("c1", "p"), row("a"), row("p"), row("g", "c1"), row("c2", "p")]
    assert order(rows) == [("a", 0), ("p", 0), ("c1", 1), ("g", 2), ("c2", 1)]


def test_a_child_whose_parent_is_on_another_page_stays_at_the_top() -> None:
    assert order([row("x", "elsewhere"), row("y")]) == [("x", 0), ("y", 0)]


def test_cycles_and_self_parents_do_not_lose_rows() -> None:
    rows = [row("a", "b"), row("b", "a"), row("s", "s")]
    result = order(rows)
    assert sorted(r for r, _ in result) == ["a", "b", "s"]
