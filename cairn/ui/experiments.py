"""`/`: the experiments list, and the forms that create, rename, delete and restore.

    GET  /                              ?q=<name part>&view=active|deleted|all&page_token=…
    POST /experiments/create            name
    POST /experiments/<id>/rename       name, next
    POST /experiments/<id>/delete       next
    POST /experiments/<id>/restore      next

Every POST carries the CSRF token (see `csrf`) and answers 303 to the list (or `next`);
a refused change (empty or duplicate name, …) renders the list again with the message, 400.

With authentication on (see `access`) the list holds only the experiments the caller may
read, filtered inside the search's query so pages stay full; renaming needs EDIT, deleting
and restoring MANAGE (403 otherwise, nothing written), and a creator gets MANAGE on what
they create, as through the REST API.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from cairn.entities import ViewType
from cairn.exceptions import CairnException, ResourceDoesNotExist
from cairn.ui.access import EDIT, MANAGE, Access
from cairn.ui.pages import Ui, redirect_back
from cairn.ui.queries import run_counts

PAGE_SIZE = 100
VIEWS = {"active": ViewType.ACTIVE_ONLY, "deleted": ViewType.DELETED_ONLY, "all": ViewType.ALL}


def name_filter(text: str) -> str | None:
    """A filter matching experiment names containing `text` (any case), taken literally."""
    if not text:
        return None
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "name ILIKE '%" + escaped.replace("'", "''") + "%'"


def experiment_id(request: Request) -> str:
    """The id in the path; anything but digits names no experiment."""
    raw: str = request.path_params["experiment_id"]
    if not raw.isdigit():
        raise ResourceDoesNotExist(f"No experiment with id {raw!r}")
    return raw


class ExperimentPages:
    def __init__(self, ui: Ui) -> None:
        self.ui = ui

    def routes(self) -> list[BaseRoute]:
        page = self.ui.page
        return [
            Route("/", page(self.index), methods=["GET"]),
            Route("/experiments/create", page(self.create), methods=["POST"]),
            Route("/experiments/{experiment_id}/rename", page(self.rename), methods=["POST"]),
            Route("/experiments/{experiment_id}/delete", page(self.delete), methods=["POST"]),
            Route("/experiments/{experiment_id}/restore", page(self.restore), methods=["POST"]),
        ]

    async def index(self, request: Request, error: str = "", status: int = 200) -> Response:
        params = request.query_params
        q = params.get("q", "").strip()
        view = params.get("view", "active")
        if view not in VIEWS:
            error, status, view = f"Unknown view {view!r}: active, deleted or all", 400, "active"
        store = self.ui.store
        token = params.get("page_token") or None
        access = Access.of(request)
        readable = access.readable()
        try:
            found = await self.ui.call(
                store.search_experiments,
                VIEWS[view],
                PAGE_SIZE,
                name_filter(q),
                ["last_update_time DESC"],
                token,
                readable,
            )
        except CairnException as exc:  # a stale or forged page token
            error, status = exc.message, exc.http_status
            found = await self.ui.call(
                store.search_experiments,
                VIEWS[view],
                PAGE_SIZE,
                name_filter(q),
                readable=readable,
            )
        ids = [e.experiment_id for e in found]
        counts = await self.ui.call(run_counts, store, ids)  # of readable experiments only
        rights = await access.rights_for(ids)
        return self.ui.render(
            request,
            "experiments.html",
            status=status,
            experiments=list(found),
            counts=counts,
            rights=rights,
            q=q,
            view=view,
            next_token=found.token,
            error=error,
        )

    async def create(self, request: Request) -> Response:
        fields = await self.ui.form(request)
        name = fields.get("name", "").strip()
        if not name:
            return await self.index(request, error="Give the new experiment a name", status=400)
        try:
            new_id = await self.ui.call(self.ui.store.create_experiment, name)
        except CairnException as exc:
            return await self.index(request, error=exc.message, status=exc.http_status)
        access = Access.of(request)
        if access.authenticated:
            await self.ui.call(access.creator_manages, new_id)
        return RedirectResponse(f"/experiments/{new_id}", status_code=303)

    async def rename(self, request: Request) -> Response:
        eid = experiment_id(request)
        fields = await self.ui.form(request)
        await Access.of(request).require(eid, EDIT)
        name = fields.get("name", "").strip()
        try:
            await self.ui.call(self.ui.store.rename_experiment, eid, name)
        except ResourceDoesNotExist:
            raise
        except CairnException as exc:
            return await self.index(request, error=exc.message, status=exc.http_status)
        return redirect_back(fields, "/")

    async def delete(self, request: Request) -> Response:
        return await self._set_stage(request, delete=True)

    async def restore(self, request: Request) -> Response:
        return await self._set_stage(request, delete=False)

    async def _set_stage(self, request: Request, *, delete: bool) -> Response:
        eid = experiment_id(request)
        fields = await self.ui.form(request)
        await Access.of(request).require(eid, MANAGE)
        store = self.ui.store
        action = store.delete_experiment if delete else store.restore_experiment
        try:
            await self.ui.call(action, eid)
        except ResourceDoesNotExist:
            raise
        except CairnException as exc:
            return await self.index(request, error=exc.message, status=exc.http_status)
        return redirect_back(fields, "/")
