"""One metric's chart data: its history cut to at most `max_points`, read as cheaply as the
database allows.

On SQLite a long history is bucketed inside the database: the steps are split into equal
ranges and, for each range, one query returns the lowest and highest values, the range's
row count and the point holding one of the two extremes (SQLite fills the other columns of
a `MIN()`/`MAX()` query from such a row), and a second finds the first point holding the
other extreme. Each query is a range scan of the history's primary key (the second stops
at its hit), so a million points are never turned into Python objects. The result is
min/max buckets, as `downsample` makes, over equal step ranges rather than equal counts,
plus the first and last points.

The ranges are split in two halves scanned at once on two connections (SQLite releases the
GIL while it steps): with a core to spare a million points take ~100-130 ms instead of
~170 ms one after the other (and ~1.2 s read into Python); with both cores busy the halves
gain nothing. Bucketing with one `GROUP BY (step - low) / width` scan was
tried and is slower (~350 ms per extreme): SQLite sorts the groups in a temporary B-tree,
as it cannot see that the expression follows the key's order. The halves read in separate
transactions; a point logged between their starts may show in one half and not the other,
which a chart of a running run cannot tell from arriving a moment later.

Elsewhere (PostgreSQL, MySQL), on SQLite for histories of at most `READ_WHOLE_UPTO`
points, and when the steps are too few to spread over the buckets (a metric logged at step
0 every time), the history is read and handed to `downsample`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection, Engine

from cairn.exceptions import ResourceDoesNotExist
from cairn.gc_pause import paused_gc
from cairn.store.sql.engine import driver_execute, run_read
from cairn.store.sql.run_data import DBL_MAX
from cairn.store.sql.store import SqlTrackingStore
from cairn.ui.downsample import Point, downsample

_VALUE = "CASE WHEN is_nan THEN NULL ELSE value END"
_FROM = "FROM metrics WHERE run_pk = ? AND key_id = ?"
_RANGE = "AND step >= ? AND step < ?"
_EDGE = f"SELECT step, timestamp, {_VALUE} {_FROM} ORDER BY step {{0}}, timestamp {{0}} LIMIT 1"
# A NaN is stored as 0.0 with is_nan set. Comparing the stored value is ~15 % cheaper than
# the CASE; a bucket holding a NaN is asked again exactly.
_LOW_EXACT = f"SELECT step, timestamp, MIN({_VALUE}) {_FROM} {_RANGE}"
_HIGH_EXACT = f"SELECT step, timestamp, MAX({_VALUE}) {_FROM} {_RANGE}"
_COUNT_UPTO = f"SELECT COUNT(*) FROM (SELECT 1 {_FROM} LIMIT ?)"
# One scan for both extremes: with two min()/max() aggregates SQLite takes the bare columns
# from the row of one of them (which one is unspecified; the bare value tells), so only the
# other extreme is looked for, stopping at its first row. ~12 % cheaper than a MIN() scan
# and a MAX() scan: the aggregates' per-row work, not the scan, is most of the cost.
_BOTH = f"SELECT step, timestamp, value, is_nan, MIN(value), MAX(value), COUNT(*) {_FROM} {_RANGE}"
_FIND = f"SELECT step, timestamp, value {_FROM} {_RANGE} AND value = ? AND NOT is_nan LIMIT 1"
READ_WHOLE_UPTO = 20_000
"""Histories up to this long are read and downsampled in Python: below it that is cheaper
than a thousand bucket queries (a 1,000-point history: ~1 ms against ~2 ms)."""
SCANNERS = 2
"""Connections scanning one history's ranges at once (this machine has two cores)."""
_pool = ThreadPoolExecutor(max_workers=SCANNERS, thread_name_prefix="cairn-chart")


def chart_points(
    store: SqlTrackingStore, run_id: str, key: str, max_points: int
) -> tuple[int, list[Point]]:
    """(number of points in the history, at most `max_points` of them in order).

    Raises ResourceDoesNotExist for an unknown run; an unknown key has no points.
    """
    if store.dialect == "sqlite":

        def work(conn: Connection) -> tuple[int, list[Point]] | _Plan | None:
            return sqlite_plan(conn, run_id, key, max_points)

        plan = run_read(store.engine, work)
        if isinstance(plan, _Plan):
            return plan.run(store.engine)
        if plan is not None:
            return plan
    history = store.get_metric_history_points(run_id, key)
    return len(history), downsample(history, max_points)


class _Plan:
    """The ranges to scan for one history, and its first and last points."""

    def __init__(self, ids: tuple[int, int], starts: list[int], width: int, edges: set[Any]):
        self.ids, self.starts, self.width, self.edges = ids, starts, width, edges

    def run(self, engine: Engine) -> tuple[int, list[Point]]:
        half = -(-len(self.starts) // SCANNERS)
        parts = [self.starts[i : i + half] for i in range(0, len(self.starts), half)]
        futures = [_pool.submit(run_read, engine, self._scanner(part)) for part in parts[1:]]
        total, points = run_read(engine, self._scanner(parts[0]))
        for future in futures:
            count, more = future.result()
            total += count
            points |= more
        points |= self.edges
        return total, [(s, t, _float(v)) for s, t, v in sorted(points, key=_order)]

    def _scanner(self, starts: Sequence[int]) -> Any:
        def work(conn: Connection) -> tuple[int, set[tuple[Any, ...]]]:
            return scan_ranges(conn, self.ids, starts, self.width)

        return work


def sqlite_plan(
    conn: Connection, run_id: str, key: str, max_points: int
) -> tuple[int, list[Point]] | _Plan | None:
    """What to scan for the bucketed history; a result when there is nothing to bucket
    (an unknown key), or None when `downsample` should do it (see the module)."""
    row = driver_execute(conn, "SELECT run_pk FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        raise ResourceDoesNotExist(f"Run with id={run_id} not found")
    found = driver_execute(conn, "SELECT key_id FROM metric_keys WHERE key = ?", (key,))
    key_row = found.fetchone()
    if key_row is None:
        return 0, []
    ids = (row[0], key_row[0])
    limit = max(max_points, READ_WHOLE_UPTO)
    (upto,) = driver_execute(conn, _COUNT_UPTO, (*ids, limit + 1)).fetchone()
    if upto <= limit:
        return None  # short: read whole
    first = driver_execute(conn, _EDGE.format("ASC"), ids).fetchone()
    last = driver_execute(conn, _EDGE.format("DESC"), ids).fetchone()
    low, high = int(first[0]), int(last[0])
    buckets = (max_points - 2) // 2
    if high - low + 1 < buckets:
        return None
    width = -(-(high - low + 1) // buckets)
    return _Plan(ids, list(range(low, high + 1, width)), width, {tuple(first), tuple(last)})


def scan_ranges(
    conn: Connection, ids: tuple[int, int], starts: Sequence[int], width: int
) -> tuple[int, set[tuple[Any, ...]]]:
    """(points in the ranges, the lowest and highest point of each) of the step ranges
    `[start, start + width)`, values as stored (NULL for NaN, ±DBL_MAX for ±∞)."""
    total = 0
    points: set[tuple[Any, ...]] = set()
    for start in starts:
        bounds = (*ids, start, start + width)
        step, timestamp, value, is_nan, low, high, count = driver_execute(
            conn, _BOTH, bounds
        ).fetchone()
        if not count:
            continue
        total += count
        if is_nan:  # the extreme found is a NaN stored as 0.0: ask exactly (rare)
            lowest = driver_execute(conn, _LOW_EXACT, bounds).fetchone()
            points.add(tuple(lowest))
            if lowest[2] is not None:  # None: a bucket of NaN only, a gap
                points.add(tuple(driver_execute(conn, _HIGH_EXACT, bounds).fetchone()))
            continue
        points.add((step, timestamp, value))
        if low == high:
            continue
        other = low if value == high else high
        found = driver_execute(conn, _FIND, (*bounds, other)).fetchone()
        if found is None:  # only a NaN's stored 0.0 holds that extreme
            exact = _LOW_EXACT if other == low else _HIGH_EXACT
            found = driver_execute(conn, exact, bounds).fetchone()
        points.add(tuple(found))
    return total, points


def _order(point: tuple[Any, ...]) -> tuple[int, int]:
    return point[0], point[1]


def _float(value: float | None) -> float:
    """Stored values back to floats: NULL (NaN) to NaN, ±DBL_MAX to ±inf."""
    if value is None:
        return math.nan
    if abs(value) >= DBL_MAX:
        return math.copysign(math.inf, value)
    return float(value)


_MANY = (
    f"SELECT run_pk, step, timestamp, {_VALUE} FROM metrics "
    "WHERE key_id = ? AND run_pk IN ({}) ORDER BY run_pk, step, timestamp, value"
)


def chart_points_many(
    store: SqlTrackingStore, run_ids: Sequence[str], key: str, max_points: int
) -> list[tuple[int, list[Point]]]:
    """`chart_points` of each of `run_ids`, in order, for a chart overlaying them.

    On SQLite the short histories (most, when runs are compared) are read in one query and
    one transaction rather than two transactions a run; a long one is bucketed as alone.
    Raises ResourceDoesNotExist naming the first unknown run.
    """
    if store.dialect != "sqlite":
        return [chart_points(store, run_id, key, max_points) for run_id in run_ids]

    def work(conn: Connection) -> dict[str, tuple[int, list[Point]]]:
        return _short_histories(conn, run_ids, key, max_points)

    with paused_gc():
        short = run_read(store.engine, work)
        return [
            short[r] if r in short else chart_points(store, r, key, max_points) for r in run_ids
        ]


def _short_histories(
    conn: Connection, run_ids: Sequence[str], key: str, max_points: int
) -> dict[str, tuple[int, list[Point]]]:
    """The chart data of those of `run_ids` whose history is short (see `READ_WHOLE_UPTO`);
    unknown keys give empty histories."""
    marks = ",".join("?" * len(run_ids))
    found = driver_execute(
        conn, f"SELECT run_id, run_pk FROM runs WHERE run_id IN ({marks})", tuple(run_ids)
    ).fetchall()
    pks = {run_id: pk for run_id, pk in found}
    for run_id in run_ids:
        if run_id not in pks:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
    key_row = driver_execute(conn, "SELECT key_id FROM metric_keys WHERE key = ?", (key,))
    key_id = key_row.fetchone()
    if key_id is None:
        return {run_id: (0, []) for run_id in run_ids}
    limit = max(max_points, READ_WHOLE_UPTO)
    short = []
    for run_id in run_ids:
        count = driver_execute(conn, _COUNT_UPTO, (pks[run_id], key_id[0], limit + 1))
        if count.fetchone()[0] <= limit:
            short.append(run_id)
    if not short:
        return {}
    rows = driver_execute(
        conn, _MANY.format(",".join("?" * len(short))), (key_id[0], *(pks[r] for r in short))
    ).fetchall()
    by_pk: dict[int, list[Point]] = {pks[r]: [] for r in short}
    for pk, step, timestamp, value in rows:
        by_pk[pk].append((step, timestamp, _float(value)))
    return {r: (len(by_pk[pks[r]]), downsample(by_pk[pks[r]], max_points)) for r in short}
