"""The UI's routes, in the order they are matched, and its static files."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from cairn.server.context import ServerContext
from cairn.ui.artifacts import ArtifactPages
from cairn.ui.compare import ComparePages
from cairn.ui.experiments import ExperimentPages
from cairn.ui.pages import Ui
from cairn.ui.permissions import PermissionPages
from cairn.ui.registry import RegistryPages
from cairn.ui.run_lifecycle import RunLifecyclePages
from cairn.ui.run_page import RunPages
from cairn.ui.runs import RunsPages

STATIC = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css"}


def ui_routes(ctx: ServerContext) -> list[BaseRoute]:
    """Every UI route for a server built on `ctx`; mount them after the API's."""
    ui = Ui(ctx)
    found: list[BaseRoute] = [Route("/static/{path:path}", static, methods=["GET"])]
    found.extend(ExperimentPages(ui).routes())
    runs = RunsPages(ui)
    found.extend(runs.routes())
    found.extend(RunLifecyclePages(ui).routes())
    found.extend(RunPages(ui).routes())
    found.extend(ArtifactPages(ui).routes())
    found.extend(ComparePages(ui).routes())
    registry = RegistryPages(ui)
    found.extend(registry.routes())
    found.extend(PermissionPages(ui, runs.show, registry.model).routes())
    return found


async def static(request: Request) -> Response:
    """A packaged asset (a plain route, not a Mount: every route of the app is a Route).

    Only the scripts and stylesheets are served; vendored files carry their version in their
    name, so they may be cached for a day."""
    target = (STATIC / request.path_params["path"]).resolve()
    if not target.is_relative_to(STATIC) or target.suffix not in STATIC_TYPES:
        return PlainTextResponse("Not found", status_code=404)
    if not target.is_file():
        return PlainTextResponse("Not found", status_code=404)
    return FileResponse(
        target,
        media_type=STATIC_TYPES[target.suffix],
        headers={"cache-control": "public, max-age=86400", "x-content-type-options": "nosniff"},
    )
