"""Deleting and restoring an experiment's runs from its runs table.

    GET  /experiments/<id>/runs/delete    ?run=<id>&run=<id>…&next=…   the confirmation page
    POST /experiments/<id>/runs/delete    runs (comma-separated ids), next
    POST /experiments/<id>/runs/restore   run, next

Deleting is two steps with no script: the table's "Delete…" button submits the selected runs
to the confirmation page (a GET, which changes nothing), whose form POSTs them with the CSRF
token. Every run must belong to the experiment in the path, else the whole request answers
404 and nothing changes. Runs are deleted and restored through the tracking store, as by the
REST API's `runs/delete` and `runs/restore`; deleted runs are listed by the table's
`view=deleted` (or `all`), where each has a Restore button.

With authentication on, all three need MANAGE on the experiment, like the REST routes (see
`access`): 404 when the caller may not read it, 403 when they may but not manage it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.ui.access import MANAGE, Access
from cairn.ui.experiments import experiment_id
from cairn.ui.pages import Ui, redirect_back
from cairn.ui.queries import runs_by_id
from cairn.ui.runs import row_from_dict

MAX_SELECTED = 1000
"""Runs deleted at once (a page of the table at its largest)."""


def run_ids(raw: list[str]) -> list[str]:
    """The distinct, non-empty ids of `raw` in order; InvalidParameterValue when there are
    none or too many."""
    found = list(dict.fromkeys(r.strip() for r in raw if r.strip()))
    if not found:
        raise InvalidParameterValue("Select the runs to delete first")
    if len(found) > MAX_SELECTED:
        raise InvalidParameterValue(f"At most {MAX_SELECTED} runs can be deleted at once")
    return found


class RunLifecyclePages:
    def __init__(self, ui: Ui) -> None:
        self.ui = ui

    def routes(self) -> list[BaseRoute]:
        page = self.ui.page
        base = "/experiments/{experiment_id}/runs"
        return [
            Route(f"{base}/delete", page(self.confirm), methods=["GET"]),
            Route(f"{base}/delete", page(self.delete), methods=["POST"]),
            Route(f"{base}/restore", page(self.restore), methods=["POST"]),
        ]

    def _runs_of(self, eid: str, ids: list[str]) -> list[dict[str, Any]]:
        """The runs `ids`, each of experiment `eid`, in the order given; else 404."""
        found = runs_by_id(self.ui.store, ids)
        for run_id in ids:
            run = found.get(run_id)
            if run is None or str(run["info"]["experiment_id"]) != eid:
                raise ResourceDoesNotExist(f"No run {run_id!r} in experiment {eid}")
        return [found[run_id] for run_id in ids]

    async def confirm(self, request: Request) -> Response:
        eid = experiment_id(request)
        await Access.of(request).require(eid, MANAGE)
        experiment = await self.ui.call(self.ui.store.get_experiment, eid)
        ids = run_ids(request.query_params.getlist("run"))
        chosen = await self.ui.call(self._runs_of, eid, ids)
        back = request.query_params.get("next", "")
        if not back.startswith("/") or back.startswith("//") or "\\" in back:
            back = f"/experiments/{eid}"
        return self.ui.render(
            request,
            "runs_delete.html",
            experiment=experiment,
            rows=[row_from_dict(r) for r in chosen],
            run_ids=",".join(ids),
            here=f"/experiments/{eid}",
            back=back,
        )

    async def delete(self, request: Request) -> Response:
        eid = experiment_id(request)
        fields = await self.ui.form(request)
        await Access.of(request).require(eid, MANAGE)
        ids = run_ids(fields.get("runs", "").split(","))

        def work() -> None:
            self._runs_of(eid, ids)
            for run_id in ids:
                self.ui.store.delete_run(run_id)

        await self.ui.call(work)
        return redirect_back(fields, f"/experiments/{eid}")

    async def restore(self, request: Request) -> Response:
        eid = experiment_id(request)
        fields = await self.ui.form(request)
        await Access.of(request).require(eid, MANAGE)
        ids = [fields.get("run", "").strip()]
        if not ids[0]:
            raise InvalidParameterValue("No run to restore")

        def work() -> None:
            self._runs_of(eid, ids)
            self.ui.store.restore_run(ids[0])

        await self.ui.call(work)
        return redirect_back(fields, f"/experiments/{eid}?view=deleted")
