"""The model registry's pages and the stage and alias forms.

    GET  /models                                   ?q=<name part>&page_token=…
    GET  /models/<name>                            versions, stages, aliases, tags
    GET  /models/<name>/versions/<n>               source run, signature, audit trail
    POST /models/<name>/versions/<n>/stage         stage, archive_existing_versions, comment
    POST /models/<name>/versions/<n>/alias         alias, comment       (set: point it here)
    POST /models/<name>/versions/<n>/alias/delete  alias, comment

Names are percent-encoded in paths (`urlpart`); a registered model name never holds `/`, so
each is one path segment. The forms call the same `SqlRegistryStore` methods as the REST
API, so promotion policies, the audit trail and webhooks apply alike: a refused change
(`PolicyRefused`, 403; an invalid stage or alias, 400) shows the version page again with the
message next to the forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from cairn.entities import AuditEntry, ModelVersion, ModelVersionStage
from cairn.exceptions import CairnException, ResourceDoesNotExist
from cairn.store.sql.registry import SqlRegistryStore
from cairn.ui.experiments import name_filter
from cairn.ui.pages import Ui
from cairn.ui.signature import read_signature
from cairn.ui.templating import urlpart

PAGE_SIZE = 100
MAX_VERSIONS = 1000
"""Versions listed on a model's page, newest first."""
AUDIT_PAGES = 10
"""Pages of 1,000 audit entries read for a version's trail (a model's whole history)."""
STAGES = [s.value for s in ModelVersionStage]


def version_filter(name: str) -> str:
    """A model-version search filter matching model `name` exactly."""
    return "name = '" + name.replace("'", "''") + "'"


def version_number(request: Request) -> str:
    raw: str = request.path_params["version"]
    if not raw.isdigit() or len(raw) > 18:
        raise ResourceDoesNotExist(f"No version {raw!r} of model {request.path_params['name']!r}")
    return str(int(raw))


@dataclass(frozen=True, slots=True)
class VersionPage:
    version: ModelVersion
    aliases: dict[str, str]  # every alias of the model -> version
    audit: list[AuditEntry]  # this version's entries, newest first
    run_exists: bool


def version_audit(registry: SqlRegistryStore, name: str, version: str) -> list[AuditEntry]:
    """The audit entries of one version of `name`, newest first."""
    found: list[AuditEntry] = []
    token = None
    for _ in range(AUDIT_PAGES):
        page = registry.list_audit_entries(name, max_results=1000, page_token=token)
        found.extend(e for e in page if e.version == version)
        token = page.token
        if not token:
            break
    return found[::-1]


class RegistryPages:
    def __init__(self, ui: Ui) -> None:
        self.ui = ui
        self.registry: SqlRegistryStore = ui.ctx.registry

    def routes(self) -> list[BaseRoute]:
        page = self.ui.page
        version = "/models/{name}/versions/{version}"
        return [
            Route("/models", page(self.index), methods=["GET"]),
            Route("/models/{name}", page(self.model), methods=["GET"]),
            Route(version, page(self.version), methods=["GET"]),
            Route(f"{version}/stage", page(self.transition), methods=["POST"]),
            Route(f"{version}/alias", page(self.set_alias), methods=["POST"]),
            Route(f"{version}/alias/delete", page(self.delete_alias), methods=["POST"]),
        ]

    async def index(self, request: Request) -> Response:
        q = request.query_params.get("q", "").strip()
        token = request.query_params.get("page_token") or None
        error, status = "", 200
        search = self.registry.search_registered_models
        try:
            found = await self.ui.call(search, name_filter(q), PAGE_SIZE, ["name ASC"], token)
        except CairnException as exc:  # a stale or forged page token
            error, status = exc.message, exc.http_status
            found = await self.ui.call(search, name_filter(q), PAGE_SIZE, ["name ASC"])
        return self.ui.render(
            request,
            "models.html",
            status=status,
            models=list(found),
            q=q,
            next_token=found.token,
            error=error,
        )

    async def model(self, request: Request) -> Response:
        name = request.path_params["name"]
        model = await self.ui.call(self.registry.get_registered_model, name)
        versions = await self.ui.call(
            self.registry.search_model_versions,
            version_filter(name),
            MAX_VERSIONS,
            ["version_number DESC"],
        )
        return self.ui.render(
            request,
            "model.html",
            model=model,
            versions=list(versions),
            more_versions=versions.token is not None,
            by_version=_aliases_by_version(model.aliases),
        )

    def _version_page(self, name: str, number: str) -> VersionPage:
        version = self.registry.get_model_version(name, number)
        model = self.registry.get_registered_model(name)
        run_exists = False
        if version.run_id:
            try:
                self.registry.tracking.get_run(version.run_id)
                run_exists = True
            except ResourceDoesNotExist:
                pass
        audit = version_audit(self.registry, name, number)
        return VersionPage(version, dict(model.aliases), audit, run_exists)

    async def version(
        self, request: Request, error: str = "", status: int = 200, form: Any = None
    ) -> Response:
        name = request.path_params["name"]
        number = version_number(request)
        page = await self.ui.call(self._version_page, name, number)
        signature = await self.ui.call(
            read_signature, self.registry.access, page.version.download_uri
        )
        return self.ui.render(
            request,
            "model_version.html",
            status=status,
            mv=page.version,
            aliases=page.aliases,
            audit=page.audit,
            run_exists=page.run_exists,
            signature=signature,
            stages=STAGES,
            error=error,
            form=form or {},
            here=f"/models/{urlpart(name)}/versions/{number}",
        )

    async def _change(self, request: Request, action: Any) -> Response:
        """Run `action(name, number, fields)`; 303 back to the version, or the version page
        with the refusal's message and status."""
        name = request.path_params["name"]
        number = version_number(request)
        fields = await self.ui.form(request)
        try:
            await self.ui.call(action, name, number, fields)
        except ResourceDoesNotExist:
            raise
        except CairnException as exc:
            return await self.version(
                request, error=exc.message, status=exc.http_status, form=fields
            )
        return RedirectResponse(f"/models/{urlpart(name)}/versions/{number}", status_code=303)

    async def transition(self, request: Request) -> Response:
        def act(name: str, number: str, fields: dict[str, str]) -> None:
            self.registry.transition_model_version_stage(
                name,
                number,
                fields.get("stage", ""),
                archive_existing_versions=fields.get("archive_existing_versions") == "true",
                comment=fields.get("comment", "").strip() or None,
            )

        return await self._change(request, act)

    async def set_alias(self, request: Request) -> Response:
        def act(name: str, number: str, fields: dict[str, str]) -> None:
            self.registry.set_registered_model_alias(
                name,
                fields.get("alias", "").strip(),
                number,
                comment=fields.get("comment", "").strip() or None,
            )

        return await self._change(request, act)

    async def delete_alias(self, request: Request) -> Response:
        def act(name: str, number: str, fields: dict[str, str]) -> None:
            self.registry.delete_registered_model_alias(
                name, fields.get("alias", ""), comment=fields.get("comment", "").strip() or None
            )

        return await self._change(request, act)


def _aliases_by_version(aliases: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for alias, version in sorted(aliases.items()):
        found.setdefault(str(version), []).append(alias)
    return found
