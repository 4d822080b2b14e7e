"""The ASGI application: JSON endpoints, the artifact proxy, health and version.

A plain Starlette app: request fields are parsed by our own message table (`messages.py`),
which is both faster than model validation and exactly MLflow's JSON mapping, and the OpenAPI
document is built from the same table (`openapi.py`). Nothing of FastAPI was left in use but
the app class, whose import (pydantic's models of the OpenAPI schema) cost ~0.25 s of every
server start. Every JSON
route is mounted under `/api/<v>` and mirrored under `/ajax-api/<v>` (MLflow's web UI prefix).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from cairn.exceptions import CairnException, InvalidParameterValue, RequestTooLarge
from cairn.server import proxy, wire
from cairn.server.config import ServerConfig
from cairn.server.context import ServerContext
from cairn.server.endpoints import Endpoint, all_endpoints
from cairn.server.errors import (
    EXCEPTION_HANDLERS,
    SERVER_FAULT_CODE,
    SERVER_FAULT_MESSAGE,
    error_body,
    error_response,
    log_fault,
    server_fault,
)
from cairn.server.helper import ReadHelper, helper_supported
from cairn.server.messages import parse_json, parse_query
from cairn.server.readahead import ReadAhead
from cairn.server.storage import ServerStorage
from cairn.version import __version__

if TYPE_CHECKING:
    from cairn.auth.users import Identity
    from cairn.server.auth.gate import Security

JSON = "application/json"
JSON_TYPES = (JSON, "text/json")
AUDIT_FIELDS = "cairn.fields"  # = cairn.server.auth.gate.FIELDS
# scope key: set by the auth gate, called with the parsed fields before the handler; raises
# PermissionDenied, or returns a callback for the handler's result (see auth.permissions).
AUTHORIZE = "cairn.authorize"
IDENTITY = "cairn.identity"  # scope key, set by the auth gate: the request's `Identity`
GC_YOUNG_THRESHOLD = 20_000  # allocations between young-generation collections (default 700)


def server_context(config: ServerConfig) -> ServerContext:
    """The stores and storage that serve `config`, as the app and its read helper use them."""
    from cairn.store.sql.registry import SqlRegistryStore
    from cairn.store.sql.store import SqlTrackingStore

    store = SqlTrackingStore.for_uri(config.backend_store_uri, config.artifact_root)
    storage = ServerStorage(config)
    registry = SqlRegistryStore(store, access=storage)
    return ServerContext(config, store, storage, registry)


def create_app(config: ServerConfig | None = None) -> Starlette:
    """Build the app for `config` (by default the one in CAIRN_SERVER_CONFIG)."""
    config = config or ServerConfig.from_env()
    ctx = server_context(config)
    if (
        config.read_helper
        and config.workers == 1
        and helper_supported()
        and ctx.store.data_version() is not None  # an SQLite file
    ):
        ctx = dataclasses.replace(ctx, helper=ReadHelper(config))
    registry, helper = ctx.registry, ctx.helper

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The webhook outbox's sender: one thread per server process (see webhook_outbox).
        registry.start_webhook_sender()
        if helper is not None:
            helper.start()
        try:
            yield
        finally:
            registry.stop_webhook_sender()
            if helper is not None:
                helper.close()

    app = Starlette(
        lifespan=lifespan,
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.context = ctx
    from cairn.server.auth.gate import Security

    security = Security.for_engine(ctx.store.engine)
    app.state.security = security  # the gate's and the account routes' (see cairn.server.auth)
    app.router.routes.extend(routes(ctx, security))
    from cairn.server.openapi import openapi_route

    app.router.routes.insert(0, openapi_route())
    return app


def app_from_env() -> ASGIApp:
    """Factory for uvicorn workers: each rebuilds the app from the environment.

    Everything alive once the app is built (modules, the app, the engine) lives as long as
    the process, so it is moved out of the cyclic garbage collector's sight: otherwise every
    full collection walks it again, and a page of 1,000 runs creates enough objects to
    trigger several (a third of the time of a big search, measured). Requests then allocate
    thousands of short-lived objects that reference counting frees; collecting the youngest
    generation every 700 allocations (Python's default) cost ~3-5 % of a log-batch and of a
    log-metric, so it runs every `GC_YOUNG_THRESHOLD` instead.
    """
    built = create_app()
    config = built.state.context.config
    # With auth on the gate wraps the fast path's table too (runner._inline_table finds it).
    app: ASGIApp = ExactRoutes(built)
    if config.auth:
        from cairn.server.auth.gate import secure

        app = secure(app, built)
    from cairn.server.headers import HeaderGuard, HeaderRules

    # Outermost: hosts, origins and proxies are judged before authentication (the runner's
    # fast path finds these rules too).
    app = HeaderGuard(app, HeaderRules.from_config(config))
    gc.freeze()  # no gc.collect() first: it costs ~40 ms of the start, to free a few objects
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    return app


class ExactRoutes:
    """The app, with its parameterless routes (every JSON endpoint, health, version) served
    by one dictionary lookup in front of it.

    Starlette's middleware layers and route-by-route regex matching cost ~55 µs a request,
    a fifth of a whole `log-metric`. Only endpoints marked as answering every error
    themselves are called here; anything else (the artifact proxy, OpenAPI, a wrong method,
    an unknown path) goes to the app unchanged.
    """

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.exact: dict[tuple[str, str], Callable[[Request], Awaitable[Response]]] = {}
        # (method, path) -> (InlineAnswer, body limit): what the protocol may answer itself.
        self.inline: dict[tuple[bytes, bytes], tuple[InlineAnswer, int]] = {}
        for route in app.router.routes:
            if (
                isinstance(route, Route)
                and not route.param_convertors
                and route.methods
                and getattr(route.endpoint, ANSWERS_ERRORS, False)
            ):
                for method in route.methods - {"HEAD"}:
                    self.exact[(method, route.path)] = route.endpoint
                    inline = getattr(route.endpoint, INLINE_ANSWER, None)
                    if inline is not None:
                        self.inline[(method.encode(), route.path.encode())] = inline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = self.exact.get((scope["method"], scope["path"]))
            if endpoint is not None:
                response = await endpoint(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def routes(ctx: ServerContext, security: Security) -> list[BaseRoute]:
    found: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
    ]
    handlers = [(endpoint, json_handler(endpoint, ctx)) for endpoint in all_endpoints()]
    for prefix in ("/api", "/ajax-api"):
        for endpoint, handle in handlers:
            path = f"{prefix}/{endpoint.version}{endpoint.path}"
            found.append(Route(path, handle, methods=list(endpoint.methods)))
    from cairn.server.auth.routes import account_routes

    found.extend(account_routes(security))
    found.extend(proxy.routes(ctx))
    from cairn.ui import ui_routes  # after the API: its paths win

    found.extend(ui_routes(ctx))
    return found


# Set on endpoints that turn every exception into an answer, so `ExactRoutes` may call them
# without the app's exception handlers.
ANSWERS_ERRORS = "cairn_answers_errors"


def answers_errors(endpoint: Callable[[Request], Awaitable[Response]]) -> None:
    setattr(endpoint, ANSWERS_ERRORS, True)


async def health(request: Request) -> Response:
    return PlainTextResponse("OK")


async def version(request: Request) -> Response:
    return PlainTextResponse(__version__)


answers_errors(health)
answers_errors(version)


# A synchronous exchange: (method, query string, body, Content-Type[, note]) -> (status, body).
InlineAnswer = Callable[..., tuple[int, bytes]]

# Set on endpoints that can also answer as an `InlineAnswer` (see `json_handler`), with the
# body limit that applies, for the server's fast path (`runner.NoDelayHttpToolsProtocol`).
INLINE_ANSWER = "cairn_inline_answer"


def json_handler(
    endpoint: Endpoint, ctx: ServerContext
) -> Callable[[Request], Awaitable[Response]]:
    message, handler = endpoint.request, endpoint.handler
    limit = ctx.config.max_body_bytes
    inline = endpoint.bounded and ctx.embedded_db
    ahead = read_ahead(endpoint, ctx)

    async def handle(request: Request) -> Response:
        try:
            if request.method == "GET":
                fields = parse_query(message, request.query_params.multi_items())
            else:
                body = await read_limited(request, limit)
                fields = parse_json(message, decode_body(body, request.headers.get("content-type")))
            if request.path_params:  # ids in the path (MLflow 3 routes such as logged-models/{id})
                fields.update(request.path_params)
            if AUDIT_FIELDS in request.scope:  # the auth gate names the resource from them
                request.scope[AUDIT_FIELDS] = fields
            authorize = request.scope.get(AUTHORIZE)
            if inline:
                # A thread handoff costs 150-250 µs here, more than the handler's own work.
                encoded = wire.dumps(authorized(authorize, ctx, fields))
            elif ahead is not None:
                identity = request.scope.get(IDENTITY)
                encoded, then = await run_in_threadpool(
                    answer_ahead, ahead, authorize, identity, fields
                )
                if then is not None:  # once this answer is sent: see ReadAhead.answer
                    return ThenResponse(encoded, then)
            elif endpoint.read_ahead:  # answers of thousands of dicts: see `encoded_answer`
                big = await run_in_threadpool(encode_big, authorize, fields)
                return ThenResponse(big.body, big.release)
            else:
                encoded = await run_in_threadpool(encode, authorize, fields)
        except CairnException as exc:
            return error_response(exc.http_status, exc.error_code, exc.message)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read an answer
        except Exception as exc:
            # Answered here rather than by the outermost middleware, which would also drop
            # the client's keep-alive connection.
            return server_fault(request, exc)
        return Response(encoded, media_type=JSON)

    def answer(
        method: str,
        query: bytes,
        body: bytes,
        content_type: str,
        note: dict[str, Any] | None = None,
        authorize: Callable[[dict[str, Any]], Any] | None = None,
    ) -> tuple[int, bytes]:
        """`handle` for a request whose body has been read whole, without ASGI. `note`, when
        given, receives the parsed fields (under AUDIT_FIELDS) for the auth gate's audit;
        `authorize` is the gate's permission check (see AUTHORIZE)."""
        try:
            if method == "GET":
                pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
                fields = parse_query(message, pairs)
            else:
                fields = parse_json(message, decode_body(body, content_type))
            if note is not None:
                note[AUDIT_FIELDS] = fields
            return 200, wire.dumps(authorized(authorize, ctx, fields))
        except CairnException as exc:
            return exc.http_status, error_body(exc.error_code, exc.message)
        except Exception as exc:
            log_fault(method, endpoint.api_path, exc)
            return 500, error_body(SERVER_FAULT_CODE, SERVER_FAULT_MESSAGE)

    def authorized(
        authorize: Callable[[dict[str, Any]], Any] | None,
        ctx: ServerContext,
        fields: dict[str, Any],
    ) -> dict[str, Any]:
        """The handler, after the gate's permission check when authentication is on."""
        if authorize is None:
            return handler(ctx, fields)
        after = authorize(fields)
        result = handler(ctx, fields)
        if after is not None:
            after(result)
        return result

    def encode(authorize: Callable[[dict[str, Any]], Any] | None, fields: dict[str, Any]) -> bytes:
        """`authorized`, encoded, in the worker thread."""
        return wire.dumps(authorized(authorize, ctx, fields))

    def encode_big(
        authorize: Callable[[dict[str, Any]], Any] | None, fields: dict[str, Any]
    ) -> wire.Encoded:
        return wire.encoded_answer(functools.partial(authorized, authorize, ctx, fields))

    def answer_ahead(
        ahead: ReadAhead,
        authorize: Callable[[dict[str, Any]], Any] | None,
        identity: Identity | None,
        fields: dict[str, Any],
    ) -> tuple[bytes, Callable[[], None] | None]:
        """`authorized`, encoded, for an endpoint whose next pages are read ahead; and the call
        that starts reading the next page, if it should be."""
        after = None if authorize is None else authorize(fields)
        if after is not None:  # nothing that pages has one; answered without reading ahead
            checked = functools.partial(authorized, lambda _: after, ctx, fields)  # check ran
            encoded = wire.encoded_answer(checked)
            return encoded.body, encoded.release
        caller = None if identity is None else (identity.username, identity.is_admin)
        return ahead.answer(caller, fields)

    handle.__name__ = endpoint.handler.__name__
    answers_errors(handle)
    if inline:
        setattr(handle, INLINE_ANSWER, (answer, limit))
    return handle


def read_ahead(endpoint: Endpoint, ctx: ServerContext) -> ReadAhead | None:
    """The read-ahead of a search clients page through, where the database can tell that
    nothing changed since a page was read (SQLite)."""
    if not endpoint.read_ahead or ctx.store.data_version() is None:
        return None
    handler = endpoint.handler

    def compute(fields: dict[str, Any]) -> wire.Encoded:
        return wire.encoded_answer(functools.partial(handler, ctx, fields))

    return ReadAhead(compute, ctx.store.data_version, endpoint.read_ahead)


class ThenResponse(Response):
    """A JSON response that makes `then()` once it is sent, or once sending failed: the work
    that should not delay the answer (see `ReadAhead.answer`, `wire.encoded_answer`), and
    that must happen even if the client has gone."""

    def __init__(self, content: bytes, then: Callable[[], None]) -> None:
        super().__init__(content, media_type=JSON)
        self._then = then

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._then()


def decode_body(body: bytes, content_type: str | None) -> object:
    """The decoded JSON body: `{}` when empty, decoded twice when it is JSON in a string."""
    if not body.strip():
        return {}
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in JSON_TYPES:
        raise InvalidParameterValue(
            "Request body must be JSON with Content-Type: application/json"
            + (f" (got {_named_type(media_type)})" if media_type else " (no Content-Type given)")
        )
    decoded = wire.loads(body)
    if isinstance(decoded, str):  # legacy clients send the JSON document as a JSON string
        decoded = wire.loads(decoded.encode())
    return decoded


# Content types a client sends by mistake, named in the refusal. Others are not: nothing
# the client sent is repeated in an answer (security corpus §6).
_COMMON_TYPES = frozenset(
    (
        "text/plain",
        "text/html",
        "text/csv",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/octet-stream",
        "application/xml",
        "text/xml",
    )
)


def _named_type(media_type: str) -> str:
    return media_type if media_type in _COMMON_TYPES else "another type"


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes whether or not it is chunked."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"Request body of {declared} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"Request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
