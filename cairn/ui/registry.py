"""The model registry's pages and their forms.

    GET  /models                                   ?q=<name part>&page_token=…&size=…
    POST /models/create                            name, description
    GET  /models/<name>                            versions (?page_token=…&size=…), aliases, tags
    POST /models/<name>/rename                     new_name
    GET  /models/<name>/delete                     the confirmation page
    POST /models/<name>/delete                     deletes the model and all its versions
    POST /models/<name>/description                description
    POST /models/<name>/tags                       key, value
    POST /models/<name>/tags/delete                key
    GET  /models/<name>/versions/<n>               source run, signature, requests, audit trail
    POST /models/<name>/versions/<n>/stage         stage, archive_existing_versions, comment
    POST /models/<name>/versions/<n>/alias         alias, comment       (set: point it here)
    POST /models/<name>/versions/<n>/alias/delete  alias, comment
    POST /models/<name>/versions/<n>/description   description
    POST /models/<name>/versions/<n>/tags          key, value
    POST /models/<name>/versions/<n>/tags/delete   key
    POST /models/<name>/versions/<n>/requests      stage, archive_existing_versions, comment
    POST /models/<name>/versions/<n>/requests/<id>/approve   comment
    POST /models/<name>/versions/<n>/requests/<id>/reject    comment

Names are percent-encoded in paths (`urlpart`); a registered model name never holds `/`, so
each is one path segment. The forms call the same `SqlRegistryStore` methods as the REST
API, so promotion policies, the audit trail and webhooks apply alike: a refused change
(`PolicyRefused`, 403; an invalid stage, alias or tag, 400; a request already pending, 400)
shows the page again with the message next to the forms and what was typed kept. A
transition request is approved or rejected only under the version it belongs to; any other
id answers 404. Creating, renaming and deleting a model answer 303 to the new model's page,
the renamed one's, and the list; deleting is two steps (a confirmation page, a POST) and,
as through the API, removes every version for good.

With authentication on, the pages apply registered-model permissions as the API does (see
`access`): a model the caller may not read answers as a missing one on its pages and forms
and is left out of the list; descriptions, tags, stages, aliases and transition requests
need EDIT, renaming, deleting and deciding a request MANAGE (403 otherwise, nothing
written); a creator gets MANAGE on the model they create. The list is filtered after the
registry's search (the store's search takes no permission condition yet), so a page may
hold fewer than `size` models; its *Next* link still follows the store's token.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from cairn.auth.permissions import REGISTERED_MODEL
from cairn.entities import AuditEntry, ModelVersion, ModelVersionStage, TransitionRequest
from cairn.exceptions import CairnException, ResourceDoesNotExist
from cairn.store.sql.registry import SqlRegistryStore
from cairn.ui.access import EDIT, MANAGE, Access
from cairn.ui.experiments import name_filter
from cairn.ui.pages import Ui
from cairn.ui.permissions import PermissionsPanel, panel_of
from cairn.ui.signature import read_signature
from cairn.ui.templating import urlpart

PAGE_SIZE = 100
"""Models on a page of the list, and versions on a page of a model (newest first); a `size`
query parameter (1 to MAX_PAGE_SIZE) overrides it."""
MAX_PAGE_SIZE = 1000
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


def request_number(request: Request) -> int:
    raw: str = request.path_params["request_id"]
    if not raw.isdigit() or len(raw) > 9:
        raise ResourceDoesNotExist(f"Transition request {raw!r} not found")
    return int(raw)


def page_size(request: Request) -> int:
    """The `size` query parameter when it is a whole number in range, else PAGE_SIZE."""
    raw = request.query_params.get("size", "")
    if raw.isdigit() and 1 <= int(raw) <= MAX_PAGE_SIZE:
        return int(raw)
    return PAGE_SIZE


def text_field(fields: dict[str, str], name: str) -> str | None:
    """A comment-like field: stripped, None when empty."""
    return fields.get(name, "").strip() or None


@dataclass(frozen=True, slots=True)
class VersionPage:
    version: ModelVersion
    aliases: dict[str, str]  # every alias of the model -> version
    audit: list[AuditEntry]  # this version's entries, newest first
    run_exists: bool
    requests: list[TransitionRequest]  # this version's pending requests, oldest first


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
        model = "/models/{name}"
        version = "/models/{name}/versions/{version}"
        by_id = f"{version}/requests/{{request_id}}"
        posts = [
            ("/models/create", self.create_model),
            (f"{model}/rename", self.rename_model),
            (f"{model}/delete", self.delete_model),
            (f"{model}/description", self.describe_model),
            (f"{model}/tags", self.set_model_tag),
            (f"{model}/tags/delete", self.delete_model_tag),
            (f"{version}/stage", self.transition),
            (f"{version}/alias", self.set_alias),
            (f"{version}/alias/delete", self.delete_alias),
            (f"{version}/description", self.describe_version),
            (f"{version}/tags", self.set_version_tag),
            (f"{version}/tags/delete", self.delete_version_tag),
            (f"{version}/requests", self.request_transition),
            (f"{by_id}/approve", self.approve_request),
            (f"{by_id}/reject", self.reject_request),
        ]
        return [
            Route("/models", page(self.index), methods=["GET"]),
            Route(model, page(self.model), methods=["GET"]),
            Route(f"{model}/delete", page(self.confirm_delete), methods=["GET"]),
            Route(version, page(self.version), methods=["GET"]),
            *(Route(path, page(handler), methods=["POST"]) for path, handler in posts),
        ]

    async def index(
        self, request: Request, error: str = "", status: int = 200, form: Any = None
    ) -> Response:
        q = request.query_params.get("q", "").strip()
        token = request.query_params.get("page_token") or None
        size = page_size(request)
        # Unreadable models are left out inside the registry's query, so pages stay full.
        search = functools.partial(
            self.registry.search_registered_models, readable=Access.of(request).readable_models()
        )
        try:
            found = await self.ui.call(search, name_filter(q), size, ["name ASC"], token)
        except CairnException as exc:  # a stale or forged page token
            error, status, token = exc.message, exc.http_status, None
            found = await self.ui.call(search, name_filter(q), size, ["name ASC"])
        models = list(found)
        return self.ui.render(
            request,
            "models.html",
            status=status,
            models=models,
            q=q,
            next_token=found.token,
            paged=token is not None,
            size=size if size != PAGE_SIZE else None,
            error=error,
            form=form or {},
        )

    async def model(
        self,
        request: Request,
        error: str = "",
        status: int = 200,
        form: Any = None,
        panel_error: str = "",
    ) -> Response:
        """The model's page; a refused change renders it again with its message (`error`,
        or `panel_error` for the permissions panel), its `status` and what was typed."""
        name = request.path_params["name"]
        access = Access.of(request)
        rights = await access.require_model(name)
        model = await self.ui.call(self.registry.get_registered_model, name)
        panel: PermissionsPanel | None = None
        if access.authenticated and rights.manage:
            panel = await self.ui.call(
                panel_of, access, rights, name, REGISTERED_MODEL, panel_error, form or {}
            )
        token = request.query_params.get("page_token") or None
        size = page_size(request)
        search = self.registry.search_model_versions
        order = ["version_number DESC"]
        try:
            versions = await self.ui.call(search, version_filter(name), size, order, token)
        except CairnException as exc:  # a stale or forged page token
            error, status, token = error or exc.message, exc.http_status, None
            versions = await self.ui.call(search, version_filter(name), size, order)
        return self.ui.render(
            request,
            "model.html",
            status=status,
            model=model,
            versions=list(versions),
            next_token=versions.token,
            paged=token is not None,
            size=size if size != PAGE_SIZE else None,
            by_version=_aliases_by_version(model.aliases),
            error=error,
            form=form or {},
            here=f"/models/{urlpart(name)}",
            may=rights,
            panel=panel,
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
        pending = [r for r in self.registry.list_transition_requests(name) if r.version == number]
        return VersionPage(version, dict(model.aliases), audit, run_exists, pending)

    async def version(
        self, request: Request, error: str = "", status: int = 200, form: Any = None
    ) -> Response:
        name = request.path_params["name"]
        number = version_number(request)
        rights = await Access.of(request).require_model(name)
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
            requests=page.requests,
            run_exists=page.run_exists,
            signature=signature,
            stages=STAGES,
            error=error,
            form=form or {},
            here=f"/models/{urlpart(name)}/versions/{number}",
            may=rights,
        )

    async def _change(self, request: Request, action: Any, needed: str = EDIT) -> Response:
        """Run `action(name, number, fields)` if the caller has `needed` on the model; 303
        back to the version, or the version page with the refusal's message and status."""
        name = request.path_params["name"]
        number = version_number(request)
        fields = await self.ui.form(request)
        await Access.of(request).require_model(name, needed)
        try:
            await self.ui.call(action, name, number, fields)
        except ResourceDoesNotExist:
            raise
        except CairnException as exc:
            return await self.version(
                request, error=exc.message, status=exc.http_status, form=fields
            )
        return RedirectResponse(f"/models/{urlpart(name)}/versions/{number}", status_code=303)

    async def _change_model(self, request: Request, action: Any) -> Response:
        """Run `action(name, fields)` if the caller may edit the model; 303 back to the
        model, or its page with the refusal."""
        name = request.path_params["name"]
        fields = await self.ui.form(request)
        await Access.of(request).require_model(name, EDIT)
        try:
            await self.ui.call(action, name, fields)
        except ResourceDoesNotExist:
            raise
        except CairnException as exc:
            return await self.model(request, error=exc.message, status=exc.http_status, form=fields)
        return RedirectResponse(f"/models/{urlpart(name)}", status_code=303)

    async def transition(self, request: Request) -> Response:
        def act(name: str, number: str, fields: dict[str, str]) -> None:
            self.registry.transition_model_version_stage(
                name,
                number,
                fields.get("stage", ""),
                archive_existing_versions=fields.get("archive_existing_versions") == "true",
                comment=text_field(fields, "comment"),
            )

        return await self._change(request, act)

    async def set_alias(self, request: Request) -> Response:
        def act(name: str, number: str, fields: dict[str, str]) -> None:
            self.registry.set_registered_model_alias(
                name, fields.get("alias", "").strip(), number, comment=text_field(fields, "comment")
            )

        return await self._change(request, act)

    async def delete_alias(self, request: Request) -> Response:
        def act(name: str, number: str, fields: dict[str, str]) -> None:
            self.registry.delete_registered_model_alias(
                name, fields.get("alias", ""), comment=text_field(fields, "comment")
            )

        return await self._change(request, act)

    # -- creating, renaming, deleting --------------------------------------------------------

    async def create_model(self, request: Request) -> Response:
        fields = await self.ui.form(request)
        name = fields.get("name", "").strip()
        if not name:
            return await self.index(
                request, error="Give the new model a name", status=400, form=fields
            )
        description = fields.get("description", "").replace("\r\n", "\n").strip() or None
        create = self.registry.create_registered_model
        try:
            await self.ui.call(create, name, None, description)
        except CairnException as exc:
            return await self.index(request, error=exc.message, status=exc.http_status, form=fields)
        access = Access.of(request)
        if access.authenticated:
            await self.ui.call(access.creator_manages_model, name)
        return RedirectResponse(f"/models/{urlpart(name)}", status_code=303)

    async def rename_model(self, request: Request) -> Response:
        name = request.path_params["name"]
        fields = await self.ui.form(request)
        await Access.of(request).require_model(name, MANAGE)
        new_name = fields.get("new_name", "").strip()
        try:
            await self.ui.call(self.registry.rename_registered_model, name, new_name)
        except ResourceDoesNotExist:
            raise
        except CairnException as exc:
            return await self.model(request, error=exc.message, status=exc.http_status, form=fields)
        return RedirectResponse(f"/models/{urlpart(new_name)}", status_code=303)

    async def confirm_delete(self, request: Request) -> Response:
        name = request.path_params["name"]
        await Access.of(request).require_model(name, MANAGE)
        model = await self.ui.call(self.registry.get_registered_model, name)
        count = await self.ui.call(self._version_count, name)
        return self.ui.render(
            request,
            "model_delete.html",
            model=model,
            version_count=count,
            here=f"/models/{urlpart(name)}",
        )

    def _version_count(self, name: str) -> int:
        """The model's versions, counted up to MAX_PAGE_SIZE (the page says "1000 or more")."""
        found = self.registry.search_model_versions(version_filter(name), MAX_PAGE_SIZE)
        return len(found)

    async def delete_model(self, request: Request) -> Response:
        name = request.path_params["name"]
        await self.ui.form(request)
        await Access.of(request).require_model(name, MANAGE)
        await self.ui.call(self.registry.delete_registered_model, name)
        return RedirectResponse("/models", status_code=303)

    # -- descriptions and tags ---------------------------------------------------------------

    async def describe_model(self, request: Request) -> Response:
        def act(name: str, fields: dict[str, str]) -> None:
            self.registry.update_registered_model(name, fields.get("description", ""))

        return await self._change_model(request, act)

    async def set_model_tag(self, request: Request) -> Response:
        def act(name: str, fields: dict[str, str]) -> None:
            key = fields.get("key", "").strip()
            self.registry.set_registered_model_tag(name, key, fields.get("value", ""))

        return await self._change_model(request, act)

    async def delete_model_tag(self, request: Request) -> Response:
        def act(name: str, fields: dict[str, str]) -> None:
            self.registry.delete_registered_model_tag(name, fields.get("key", ""))

        return await self._change_model(request, act)

    async def describe_version(self, request: Request) -> Response:
        def act(name: str, number: str, fields: dict[str, str]) -> None:
            self.registry.update_model_version(name, number, fields.get("description", ""))

        return await self._change(request, act)

    async def set_version_tag(self, request: Request) -> Response:
        def act(name: str, number: str, fields: dict[str, str]) -> None:
            key = fields.get("key", "").strip()
            self.registry.set_model_version_tag(name, number, key, fields.get("value", ""))

        return await self._change(request, act)

    async def delete_version_tag(self, request: Request) -> Response:
        def act(name: str, number: str, fields: dict[str, str]) -> None:
            self.registry.delete_model_version_tag(name, number, fields.get("key", ""))

        return await self._change(request, act)

    # -- transition requests -----------------------------------------------------------------

    async def request_transition(self, request: Request) -> Response:
        def act(name: str, number: str, fields: dict[str, str]) -> None:
            self.registry.request_transition(
                name,
                number,
                fields.get("stage", ""),
                comment=text_field(fields, "comment"),
                archive_existing_versions=fields.get("archive_existing_versions") == "true",
            )

        return await self._change(request, act)

    def _own_request(self, name: str, number: str, request_id: int) -> TransitionRequest:
        """Request `request_id` if it belongs to version `number` of `name`, else 404."""
        self.registry.get_model_version(name, number)
        found = self.registry.get_transition_request(request_id)
        if found.name != name or found.version != number:
            raise ResourceDoesNotExist(
                f"Transition request {request_id} is not for model {name!r} version {number}"
            )
        return found

    async def approve_request(self, request: Request) -> Response:
        request_id = request_number(request)

        def act(name: str, number: str, fields: dict[str, str]) -> None:
            self._own_request(name, number, request_id)
            self.registry.approve_transition_request(
                request_id, comment=text_field(fields, "comment")
            )

        return await self._change(request, act, MANAGE)

    async def reject_request(self, request: Request) -> Response:
        request_id = request_number(request)

        def act(name: str, number: str, fields: dict[str, str]) -> None:
            self._own_request(name, number, request_id)
            self.registry.reject_transition_request(
                request_id, comment=text_field(fields, "comment")
            )

        return await self._change(request, act, MANAGE)


def _aliases_by_version(aliases: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for alias, version in sorted(aliases.items()):
        found.setdefault(str(version), []).append(alias)
    return found
