"""`/runs/<id>`: one run's overview, params, metrics with charts, tags and description.

    GET  /runs/<id>
    GET  /runs/<id>/metric-history?key=<metric>&points=<max, default 2000>   chart data, JSON
    POST /runs/<id>/tags            key, value      set (or overwrite) a tag
    POST /runs/<id>/tags/delete     key
    POST /runs/<id>/description     description     the `mlflow.note.content` tag

Chart data is the metric's whole history downsampled on the server (`chart_data`), as
`{"key", "total", "points": [[step, timestamp_ms, value], …]}` with NaN and ±∞ as null.

With authentication on (see `access`), a run inherits its experiment's permissions: the page
and its chart data need READ (a run the caller may not read answers as a missing one), tags
and the description EDIT; the forms show only to callers who may use them.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from cairn.entities import Run, RunTag
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.ui.access import EDIT, Access, missing_run
from cairn.ui.chart_data import chart_points
from cairn.ui.downsample import MAX_POINTS
from cairn.ui.pages import Ui
from cairn.ui.runs import PARENT_TAG, SOURCE_TAG, USER_TAG

NOTE_TAG = "mlflow.note.content"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
SYSTEM_PREFIX = "mlflow."
MAX_CHART_POINTS = 10_000


def run_id(request: Request) -> str:
    raw: str = request.path_params["run_id"]
    if not raw or len(raw) > 64 or not raw.isalnum():
        raise ResourceDoesNotExist(f"No run with id {raw!r}")
    return raw


class RunPages:
    def __init__(self, ui: Ui) -> None:
        self.ui = ui

    def routes(self) -> list[BaseRoute]:
        page = self.ui.page
        return [
            Route("/runs/{run_id}", page(self.show), methods=["GET"]),
            Route("/runs/{run_id}/metric-history", page(self.history), methods=["GET"]),
            Route("/runs/{run_id}/tags", page(self.set_tag), methods=["POST"]),
            Route("/runs/{run_id}/tags/delete", page(self.delete_tag), methods=["POST"]),
            Route("/runs/{run_id}/description", page(self.describe), methods=["POST"]),
        ]

    async def _run(self, request: Request) -> Run:
        return await self.ui.call(self.ui.store.get_run, run_id(request))

    async def show(self, request: Request) -> Response:
        run = await self._run(request)
        try:
            rights = await Access.of(request).require(run.info.experiment_id)
        except ResourceDoesNotExist:
            raise missing_run(run.info.run_id) from None
        experiment = await self.ui.call(self.ui.store.get_experiment, run.info.experiment_id)
        tags = run.data.tags
        user_tags = {k: v for k, v in sorted(tags.items()) if not k.startswith(SYSTEM_PREFIX)}
        system_tags = {k: v for k, v in sorted(tags.items()) if k.startswith(SYSTEM_PREFIX)}
        return self.ui.render(
            request,
            "run.html",
            run=run,
            info=run.info,
            experiment=experiment,
            params=sorted(run.data.params.items()),
            metrics=sorted(run.data.latest_metrics, key=lambda m: m.key),
            user_tags=user_tags,
            system_tags=system_tags,
            description=tags.get(NOTE_TAG, ""),
            parent_id=tags.get(PARENT_TAG),
            source=tags.get(SOURCE_TAG, ""),
            git_commit=tags.get(GIT_COMMIT_TAG, ""),
            user=run.info.user_id or tags.get(USER_TAG, ""),
            datasets=run.inputs.dataset_inputs,
            error=request.query_params.get("error", ""),
            may=rights,
        )

    async def history(self, request: Request) -> Response:
        rid = run_id(request)
        key = request.query_params.get("key", "")
        if not key:
            raise InvalidParameterValue("Give the metric's key: ?key=<metric>")
        raw = request.query_params.get("points", str(MAX_POINTS))
        if not raw.isdigit() or not 4 <= int(raw) <= MAX_CHART_POINTS:
            raise InvalidParameterValue(f"points must be 4 to {MAX_CHART_POINTS}, got {raw!r}")
        await Access.of(request).require_run(rid)
        total, points = await self.ui.call(chart_points, self.ui.store, rid, key, int(raw))
        body = orjson.dumps({"key": key, "total": total, "points": points})
        return Response(body, media_type="application/json")

    async def set_tag(self, request: Request) -> Response:
        rid = run_id(request)
        fields = await self.ui.form(request)
        await Access.of(request).require_run(rid, EDIT)
        key = fields.get("key", "").strip()
        await self.ui.call(self.ui.store.set_tag, rid, RunTag(key, fields.get("value", "")))
        return RedirectResponse(f"/runs/{rid}#tags", status_code=303)

    async def delete_tag(self, request: Request) -> Response:
        rid = run_id(request)
        fields = await self.ui.form(request)
        await Access.of(request).require_run(rid, EDIT)
        await self.ui.call(self.ui.store.delete_tag, rid, fields.get("key", ""))
        return RedirectResponse(f"/runs/{rid}#tags", status_code=303)

    async def describe(self, request: Request) -> Response:
        rid = run_id(request)
        fields = await self.ui.form(request)
        await Access.of(request).require_run(rid, EDIT)
        text = fields.get("description", "").replace("\r\n", "\n")
        await self.ui.call(self.ui.store.set_tag, rid, RunTag(NOTE_TAG, text))
        return RedirectResponse(f"/runs/{rid}", status_code=303)
