"""The permissions panel of an experiment's and a registered model's page: who has which level
there, and the forms to change it.

    POST /experiments/<id>/permissions/create   username, permission   give a user a level
    POST /experiments/<id>/permissions/update   username, permission   change their level
    POST /experiments/<id>/permissions/delete   username               remove their row
    POST /models/<name>/permissions/…           the same, for the registered model

Shown, and accepted, only with authentication on and for callers with MANAGE on the
experiment or model (admins included); anyone else gets the resource's usual answer (404
when they may not read it, 403 when they may). The forms call the REST permission routes'
own handlers (`cairn.server.auth.routes`), so validation, the `PermissionStore` calls and
the clearing of the level cache are the API's, not a copy. The gate records each POST in
the audit log like every UI write: the caller, the route, `experiment:<id>` (or the model's
name) and the status.

A refused change (unknown user, a row that already exists, an invalid level) renders the
resource's page again with the message in the panel and the status of the refusal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from cairn.auth.permissions import EXPERIMENT, REGISTERED_MODEL, Grant, Permission, ResourceKind
from cairn.exceptions import CairnException
from cairn.server.auth import routes as rest
from cairn.ui.access import MANAGE, Access, Rights
from cairn.ui.experiments import experiment_id
from cairn.ui.pages import Ui
from cairn.ui.templating import urlpart

LEVELS = [p.name for p in sorted(Permission, key=lambda p: -p.value)]
"""The levels the forms offer, highest first (NO_PERMISSIONS shuts a user out when the
server's default would let them read)."""

Show = Callable[..., Awaitable[Response]]
RestHandler = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class PermissionsPanel:
    action: str  # the forms' path prefix: /experiments/<id>/permissions
    grants: list[Grant]
    default: Permission  # the level of every user without a row
    error: str = ""
    form: dict[str, str] = field(default_factory=dict)
    levels: list[str] = field(default_factory=lambda: LEVELS)


@dataclass(frozen=True, slots=True)
class Target:
    """One kind of resource with a panel: its routes, the REST handlers its forms call, and
    the field naming the resource in them."""

    kind: ResourceKind
    path: str  # the resource's page, a route template
    field: str  # experiment_id, name
    create: RestHandler
    update: RestHandler
    delete: RestHandler


EXPERIMENTS = Target(
    EXPERIMENT,
    "/experiments/{experiment_id}",
    "experiment_id",
    rest.create_permission,
    rest.update_permission,
    rest.delete_permission,
)
MODELS = Target(
    REGISTERED_MODEL,
    "/models/{name}",
    "name",
    rest.create_model_permission,
    rest.update_model_permission,
    rest.delete_model_permission,
)


def panel_of(
    access: Access,
    rights: Rights,
    resource: int | str,
    kind: ResourceKind = EXPERIMENT,
    error: str = "",
    form: dict[str, str] | None = None,
) -> PermissionsPanel | None:
    """The panel for a resource's page, or None when the caller may not see it (no
    authentication, or less than MANAGE): its rows, by user name."""
    if not access.authenticated or not rights.manage:
        return None
    store = access.security_for_changes().guard.store
    if kind is EXPERIMENT:
        action = f"/experiments/{resource}/permissions"
    else:
        action = f"/models/{urlpart(str(resource))}/permissions"
    grants = store.list(resource, kind=kind)
    return PermissionsPanel(action, grants, store.default, error, form or {})


class PermissionPages:
    def __init__(self, ui: Ui, show_experiment: Show, show_model: Show) -> None:
        """`show_…(request, panel_error=, status=, form=)` render the resource's page."""
        self.ui = ui
        self.shows = {EXPERIMENT.name: show_experiment, REGISTERED_MODEL.name: show_model}

    def routes(self) -> list[BaseRoute]:
        found: list[BaseRoute] = []
        for target in (EXPERIMENTS, MODELS):
            for action, handler in (
                ("create", target.create),
                ("update", target.update),
                ("delete", target.delete),
            ):
                endpoint = self.ui.page(self._endpoint(target, handler))
                path = f"{target.path}/permissions/{action}"
                found.append(Route(path, endpoint, methods=["POST"]))
        return found

    def _endpoint(self, target: Target, handler: RestHandler) -> Callable[..., Any]:
        async def change(request: Request) -> Response:
            return await self._change(request, target, handler)

        change.__name__ = f"{target.kind.name.replace(' ', '_')}_{handler.__name__}"
        return change

    async def _change(self, request: Request, target: Target, handler: RestHandler) -> Response:
        if target.kind is EXPERIMENT:
            resource = experiment_id(request)
            back = f"/experiments/{resource}#permissions"
        else:
            resource = request.path_params["name"]
            back = f"/models/{urlpart(resource)}#permissions"
        fields = await self.ui.form(request)
        access = Access.of(request)
        security = access.security_for_changes()
        if target.kind is EXPERIMENT:
            await access.require(resource, MANAGE)
        else:
            await access.require_model(resource, MANAGE)
        asked = {
            target.field: resource,
            "username": fields.get("username", "").strip(),
            "permission": fields.get("permission", ""),
        }
        try:
            await self.ui.call(handler, security, access.identity, asked)
        except CairnException as exc:
            show = self.shows[target.kind.name]
            return await show(request, panel_error=exc.message, status=exc.http_status, form=fields)
        return RedirectResponse(back, status_code=303)
