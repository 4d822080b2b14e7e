"""`/compare?runs=<id>,<id>,…`: runs side by side, with a diff table and charts.

The state of the page is its query string (see `compare_view`). The runs are read in two
queries however many there are (at most `MAX_RUNS`); the charts are drawn in the browser:
the parallel-coordinates and scatter plots from the values in the page, the overlaid
histories from the runs' downsampled chart data, one request per chart:

    GET /compare/metric-history?runs=<id>,<id>,…&key=<metric>&points=<max per run>
        {"key", "runs": [{"run_id", "total", "points": [[step, value], …]}, …]}

Each run's points are those `/runs/<id>/metric-history` answers (the same `chart_points`),
without the timestamps (the overlay's x axis is the step): asking for all runs at once
keeps 50 runs' charts to a handful of requests instead of 200, which the browser would
queue six at a time, and half the bytes. The page asks for `history_points(n)` per run, and
names the requests in `<link rel="preload">` so the browser sends them while it still
parses the page and ECharts.

Unknown run ids answer a 404 page naming them; fewer than two runs, or more than
`MAX_RUNS`, a 400 page. With authentication on, a run the caller may not read counts as
unknown, on the page and in the chart data: the comparison is refused rather than drawn
without it, so a shared link never shows a different comparison to different people and
nothing is silently left out (the 404 names only the ids the caller sent).
"""

from __future__ import annotations

from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.gc_pause import paused_gc
from cairn.store.sql.store import SqlTrackingStore
from cairn.ui.access import Access, missing_run
from cairn.ui.chart_data import chart_points_many
from cairn.ui.compare_view import (
    CompareRun,
    CompareView,
    chart_value,
    diff_rows,
    parse_run_ids,
)
from cairn.ui.pages import Ui
from cairn.ui.queries import experiments_of_runs, runs_by_id

HISTORY_POINTS = 500
"""Points per run and chart when comparing few runs."""
CHART_POINTS = 10_000
"""Points per chart across its runs: 50 runs get 200 each, still smooth lines that wide."""
MAX_HISTORY_POINTS = 2000


def history_points(runs: int) -> int:
    """Points asked per run for a chart overlaying `runs` runs."""
    return max(100, min(HISTORY_POINTS, CHART_POINTS // max(runs, 1)))


def many_histories(
    store: SqlTrackingStore, run_ids: list[str], key: str, max_points: int
) -> list[dict[str, object]]:
    """Each run's chart data for `key` as [step, value] pairs, in order; an unknown run id
    is ResourceDoesNotExist."""
    for run_id in run_ids:
        if not run_id.isalnum() or len(run_id) > 64:
            raise ResourceDoesNotExist(f"No run with id {run_id!r}")
    with paused_gc():
        found = chart_points_many(store, run_ids, key, max_points)
        return [
            {"run_id": run_id, "total": total, "points": [(s, v) for s, _, v in points]}
            for run_id, (total, points) in zip(run_ids, found, strict=True)
        ]


class ComparePages:
    def __init__(self, ui: Ui) -> None:
        self.ui = ui

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/compare", self.ui.page(self.show), methods=["GET"]),
            Route("/compare/metric-history", self.ui.page(self.histories), methods=["GET"]),
        ]

    async def histories(self, request: Request) -> Response:
        ids = parse_run_ids(request.query_params.multi_items())
        key = request.query_params.get("key", "")
        if not key:
            raise InvalidParameterValue("Give the metric's key: ?key=<metric>")
        raw = request.query_params.get("points", str(HISTORY_POINTS))
        if not raw.isdigit() or not 4 <= int(raw) <= MAX_HISTORY_POINTS:
            raise InvalidParameterValue(f"points must be 4 to {MAX_HISTORY_POINTS}, got {raw!r}")
        access = Access.of(request)
        if access.checked:
            of = await self.ui.call(experiments_of_runs, self.ui.store, ids)
            readable = await self.ui.call(access.readable_runs, of)
            for run_id in ids:
                if run_id not in readable:
                    raise missing_run(run_id)
        found = await self.ui.call(many_histories, self.ui.store, ids, key, int(raw))
        return Response(orjson.dumps({"key": key, "runs": found}), media_type="application/json")

    async def show(self, request: Request) -> Response:
        view, errors = CompareView.from_query(request.query_params.multi_items())
        valid = [r for r in view.run_ids if r.isalnum() and len(r) <= 64]
        found = await self.ui.call(runs_by_id, self.ui.store, valid) if valid else {}
        access = Access.of(request)
        if access.checked:  # an unreadable run is a missing one
            of = {r: str(run["info"]["experiment_id"]) for r, run in found.items()}
            readable = await self.ui.call(access.readable_runs, of)
            found = {r: run for r, run in found.items() if r in readable}
        missing = [r for r in view.run_ids if r not in found]
        if missing:
            shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
            raise ResourceDoesNotExist(
                f"No run with id {shown} ({len(missing)} of the {len(view.run_ids)} runs asked for)"
            )
        runs = [CompareRun.from_dict(found[r]) for r in view.run_ids]
        params, metrics = diff_rows(runs, "params"), diff_rows(runs, "metrics")
        view = view.with_defaults(params, metrics)
        points = history_points(len(runs))
        ids = ",".join(view.run_ids)
        history_urls = {
            key: "/compare/metric-history?" + urlencode({"runs": ids, "key": key, "points": points})
            for key in view.histories
        }
        payload = {
            "runs": [
                {
                    "id": run.run_id,
                    "name": run.name,
                    "params": run.params,
                    "metrics": {k: chart_value(v) for k, v in run.metrics.items()},
                }
                for run in runs
            ],
            "parallel": list(view.parallel),
            "x": view.x,
            "y": view.y,
            "histories": list(view.histories),
        }
        return self.ui.render(
            request,
            "compare.html",
            status=400 if errors else 200,
            view=view,
            runs=runs,
            params=params,
            metrics=metrics,
            refs=[r.ref for r in params] + [r.ref for r in metrics],
            payload=payload,
            history_urls=history_urls,
            errors=errors,
        )
