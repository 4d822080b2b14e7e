"""What every UI handler shares: rendering, forms with CSRF checks, and error pages.

Handlers are wrapped by `Ui.page`, which turns Cairn exceptions into an HTML page with the
exception's status (unknown experiment or run: 404), and anything else into a 500 page whose
traceback goes to the server log only, so the UI never answers with the API's JSON errors.
Store calls are blocking and run in a worker thread (`Ui.call`). With authentication on,
every POST is recorded in the audit log by the gate, like the API's writes; `Ui.form` hands
the gate the form's fields and path parameters, from which it names the resource.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from cairn.exceptions import CairnException, PermissionDenied, RequestTooLarge
from cairn.server.app import AUDIT_FIELDS
from cairn.server.context import ServerContext
from cairn.server.errors import SERVER_FAULT_MESSAGE, log_fault
from cairn.ui.csrf import CsrfTokens
from cairn.ui.templating import environment

P = ParamSpec("P")
T = TypeVar("T")
Handler = Callable[[Request], Awaitable[Response]]

FORM_LIMIT = 256 * 1024
"""Largest form body accepted (a run description is the biggest field)."""

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
"""No inline scripts run, so even a value that escaped escaping could not execute."""


class CsrfRejected(PermissionDenied):
    """A POST without a matching CSRF token."""


class Ui:
    """The UI's shared state for one server process."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.env = environment()
        self.csrf = CsrfTokens()

    def render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        token = self.csrf.token_for(request)
        html = self.env.get_template(template).render(request=request, csrf_token=token, **context)
        response = HTMLResponse(html, status_code=status)
        self.csrf.set_cookie(request, response, token)
        response.headers["content-security-policy"] = CONTENT_SECURITY_POLICY
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["cache-control"] = "no-store"
        return response

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await run_in_threadpool(fn, *args, **kwargs)

    async def form(self, request: Request) -> dict[str, str]:
        """The urlencoded POST body, after the CSRF check (CsrfRejected: 403)."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > FORM_LIMIT:
            raise RequestTooLarge(f"Form body exceeds {FORM_LIMIT} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > FORM_LIMIT:
                raise RequestTooLarge(f"Form body exceeds {FORM_LIMIT} bytes")
        fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if not self.csrf.check(request, fields):
            raise CsrfRejected(
                "This form's security token is missing or stale. Reload the page and try again."
            )
        if AUDIT_FIELDS in request.scope:  # the auth gate names the audited resource from them
            request.scope[AUDIT_FIELDS] = {**fields, **request.path_params}
        return fields

    def page(self, handler: Handler) -> Handler:
        """`handler` answering Cairn errors as an HTML error page with their status."""

        @functools.wraps(handler)
        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except CairnException as exc:
                return self.render(
                    request,
                    "error.html",
                    status=exc.http_status,
                    status_code=exc.http_status,
                    message=exc.message,
                )
            except Exception as exc:  # the traceback goes to the log, never to the page
                log_fault(request.method, request.url.path, exc)
                return self.render(
                    request, "error.html", status=500, status_code=500, message=SERVER_FAULT_MESSAGE
                )

        return wrapped


def redirect_back(fields: dict[str, str], default: str) -> RedirectResponse:
    """303 to the form's `next` field when it is a path of this site, else to `default`."""
    target = fields.get("next", "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = default
    return RedirectResponse(target, status_code=303)


def is_partial(request: Request, target: str) -> bool:
    """An htmx request that swaps only element `target` (not a history restore)."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-target") == target
        and request.headers.get("hx-history-restore-request") != "true"
    )
