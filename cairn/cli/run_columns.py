"""Which metric, param and tag columns `cairn runs list` shows, and in what order.

By default: the keys named in `--order-by` first, then metrics, then params, capped so the
table stays readable. `--columns` picks them explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from cairn.cli.output import format_number

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from cairn.entities import Run

Kind = Literal["metrics", "params", "tags"]

_PREFIXES: dict[str, Kind] = {
    "metric": "metrics",
    "metrics": "metrics",
    "param": "params",
    "params": "params",
    "parameter": "params",
    "parameters": "params",
    "tag": "tags",
    "tags": "tags",
}


@dataclass(frozen=True, slots=True)
class DataColumn:
    """One metric, param or tag column of the runs table."""

    kind: Kind
    key: str

    @property
    def header(self) -> str:
        return f"{self.kind}.{self.key}"

    def value(self, run: Run) -> str:
        if self.kind == "metrics":
            metric = run.data.metrics.get(self.key)
            return "" if metric is None else format_number(metric)
        values = run.data.params if self.kind == "params" else run.data.tags
        return values.get(self.key, "")


def _unquote(key: str) -> str:
    key = key.strip()
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "`\"'":
        return key[1:-1]
    return key


def parse_column(name: str, runs: Sequence[Run]) -> DataColumn:
    """`metrics.acc`, `params.lr`, `tags.team`, or a bare key looked up in that order."""
    prefix, dot, rest = name.partition(".")
    kind = _PREFIXES.get(prefix.lower()) if dot else None
    if kind is not None:
        return DataColumn(kind, _unquote(rest))
    key = _unquote(name)
    for candidate in ("metrics", "params", "tags"):
        if any(key in _values(run, candidate) for run in runs):
            return DataColumn(candidate, key)
    return DataColumn("metrics", key)


def _values(run: Run, kind: Kind) -> Iterable[str]:
    if kind == "metrics":
        return run.data.metrics
    return run.data.params if kind == "params" else run.data.tags


def order_by_column(clause: str) -> DataColumn | None:
    """The metric/param/tag an order-by clause sorts on (`metrics.acc DESC` -> metrics.acc)."""
    words = clause.strip().rsplit(None, 1)
    if len(words) == 2 and words[1].upper() in ("ASC", "DESC"):
        clause = words[0]
    prefix, dot, rest = clause.strip().partition(".")
    kind = _PREFIXES.get(prefix.lower()) if dot else None
    return DataColumn(kind, _unquote(rest)) if kind else None


def choose_columns(
    runs: Sequence[Run],
    requested: Sequence[str] = (),
    order_by: Sequence[str] = (),
    limit: int = 6,
) -> tuple[list[DataColumn], int]:
    """The data columns to show and how many were left out by `limit` (0 means no limit)."""
    if requested:
        names = [n.strip() for item in requested for n in item.split(",") if n.strip()]
        return [parse_column(n, runs) for n in names], 0
    metrics = sorted({k for run in runs for k in run.data.metrics})
    params = sorted({k for run in runs for k in run.data.params})
    present = [DataColumn("metrics", k) for k in metrics] + [
        DataColumn("params", k) for k in params
    ]
    sorted_on = [
        c
        for c in (order_by_column(o) for o in order_by)
        if c is not None and any(c.key in _values(run, c.kind) for run in runs)
    ]
    ordered = list(dict.fromkeys([*sorted_on, *present]))
    if limit <= 0 or len(ordered) <= limit:
        return ordered, 0
    return ordered[:limit], len(ordered) - limit
