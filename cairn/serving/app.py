"""The scoring server's ASGI application, built around one loaded model.

A plain ASGI callable rather than a FastAPI app: six fixed routes need no router, and a
1-row prediction of a small model takes well under a millisecond, so every microsecond of
framework per request shows. Parsing the body, `predict` and encoding the answer run
together in one worker thread (one hand-off per request), so a slow model never holds up
`/ping` or `/metrics`, and the event loop can answer 504 when `timeout` passes.

Errors answer as MLflow's server does, `{"error_code": ..., "message": ...}`:

    bad input (JSON, format keys, shape)       400 BAD_REQUEST
    input that does not match the signature    400 INVALID_PARAMETER_VALUE
    body over `max_body_bytes`                  413 REQUEST_LIMIT_EXCEEDED (read no further)
    other content types                         415 (plain text, as MLflow)
    the model raised                            500 INTERNAL_ERROR (the server carries on)
    no answer within `timeout` seconds          504 DEADLINE_EXCEEDED
"""

from __future__ import annotations

import asyncio
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from cairn.exceptions import CairnException, RequestTooLarge
from cairn.serving.capture import Capture
from cairn.serving.fastpath import FastPath
from cairn.serving.inputs import (
    BodyFormat,
    ModelInput,
    body_format,
    decode_json,
    format_key,
    from_payload,
    parse_body,
)
from cairn.serving.logs import RequestLog
from cairn.serving.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from cairn.serving.metrics import ScoringMetrics
from cairn.serving.outputs import dumps, predictions_json
from cairn.version import __version__

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_TIMEOUT = 60.0

_JSON = b"application/json"
_TEXT = b"text/plain; charset=utf-8"
_QUIET = frozenset(("/ping", "/health", "/metrics"))  # probes and scrapes: logged on error only


class ScoringApp:
    """Serves `model` (anything with `predict(data, params=None)`; `metadata`, a
    `cairn.models.Model`, is optional) over MLflow's scoring protocol.

    `model_uri` and `registered` (`{"name", "version"}` of a registry model) are shown by
    `/metadata`; `threads` is how many predictions may run at once (1 by default: most
    models are not faster in several Python threads, and some are not thread-safe);
    `fast_path=False` turns off the tree-ensemble shortcut (`cairn.serving.fastpath`)."""

    def __init__(
        self,
        model: Any,
        *,
        model_uri: str = "",
        registered: dict[str, str] | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        timeout: float | None = DEFAULT_TIMEOUT,
        threads: int = 1,
        capture: Capture | None = None,
        request_log: RequestLog | None = None,
        metrics: ScoringMetrics | None = None,
        fast_path: bool = True,
    ) -> None:
        self.model = model
        self.metadata = getattr(model, "metadata", None)
        self.signature = getattr(self.metadata, "signature", None)
        self.model_uuid = getattr(self.metadata, "model_uuid", None)
        self.max_body_bytes = max_body_bytes
        self.timeout = timeout if timeout and timeout > 0 else None
        self.capture = capture
        self.log = request_log or RequestLog(requests=False, events=False)
        self.metrics = metrics if metrics is not None else ScoringMetrics()
        self.metrics.set_model(model_uri, self.model_uuid, getattr(self.metadata, "run_id", None))
        self.fast = FastPath.for_model(model) if fast_path else None
        self._executor = ThreadPoolExecutor(max(1, threads), thread_name_prefix="cairn-predict")
        self._metadata_body = dumps(_describe(self.metadata, model_uri, registered))
        self._routes: dict[str, tuple[bytes, Callable[..., Awaitable[None]]]] = {
            "/invocations": (b"POST", self._invocations),
            "/ping": (b"GET", self._ping),
            "/health": (b"GET", self._ping),
            "/version": (b"GET", self._version),
            "/metadata": (b"GET", self._metadata),
            "/metrics": (b"GET", self._metrics),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        start = time.perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]
        request = _Request(scope, receive, send)
        route = self._routes.get(path)
        if route is None:
            await request.error(404, "ENDPOINT_NOT_FOUND", f"No such endpoint: {method} {path}")
        elif method.encode() != route[0] and not (method == "HEAD" and route[0] == b"GET"):
            allowed = route[0].decode()
            await request.error(
                405, "BAD_REQUEST", f"{path} answers {allowed}, not {method}", allow=allowed
            )
        else:
            try:
                await route[1](request)
            except Exception:
                if request.status:
                    raise  # the answer had started: nothing more can be said to this client
                self.log.event("server_error", path=path, traceback=traceback.format_exc())
                await request.error(500, "INTERNAL_ERROR", "Internal error of the scoring server")
        seconds = time.perf_counter() - start
        self.metrics.observe(path, request.status, seconds, request.rows)
        if request.status >= 400 or path not in _QUIET:
            self.log.request(
                request.request_id,
                method,
                path,
                request.status,
                seconds,
                rows=request.rows if path == "/invocations" else None,
                client=request.client,
                error=request.error_fields,
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def close(self) -> None:
        """Let running predictions finish, then release the threads and the capture file."""
        self._executor.shutdown(wait=True)
        if self.capture is not None:
            self.capture.close()

    # -- routes ----------------------------------------------------------------------------

    async def _ping(self, request: _Request) -> None:
        await request.respond(200, b"\n", _TEXT)

    async def _version(self, request: _Request) -> None:
        await request.respond(200, __version__.encode(), _TEXT)

    async def _metadata(self, request: _Request) -> None:
        await request.respond(200, self._metadata_body, _JSON)

    async def _metrics(self, request: _Request) -> None:
        await request.respond(200, self.metrics.exposition(), METRICS_CONTENT_TYPE.encode())

    async def _invocations(self, request: _Request) -> None:
        content_type = request.header(b"content-type")
        fmt = body_format(content_type)
        if fmt is None:
            shown = content_type or "(none)"
            message = (
                f"Unsupported content type {shown!r}: send application/json, text/csv or "
                "application/vnd.apache.parquet"
            )
            request.error_fields = {"error_code": "UNSUPPORTED_MEDIA_TYPE", "message": message}
            await request.respond(415, message.encode(), _TEXT)
            return
        try:
            body = await request.body(self.max_body_bytes)
        except RequestTooLarge as e:
            await request.error(413, e.error_code, e.message, close=True)
            return
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._executor, self._score, body, fmt)
        try:
            status, answer, parsed = await asyncio.wait_for(work, self.timeout)
        except TimeoutError:
            await request.error(
                504,
                "DEADLINE_EXCEEDED",
                f"The model did not answer within {self.timeout:g} seconds",
            )
            return
        if status != 200:
            request.error_fields = orjson.loads(answer)
            await request.respond(status, answer, _JSON)
            return
        request.rows = parsed.rows
        await request.respond(200, answer, _JSON)
        if self.capture is not None and self.capture.sampled():
            try:
                self.capture.record(
                    request.request_id,
                    self.model_uuid,
                    body if fmt is BodyFormat.JSON else None,
                    parsed.data if fmt is not BodyFormat.JSON else None,
                    answer,
                )
            except (OSError, TypeError, ValueError) as e:  # a full disk must not fail scoring
                self.log.event("capture_error", message=f"{type(e).__name__}: {e}")

    def _score(self, body: bytes, fmt: BodyFormat) -> tuple[int, bytes, Any]:
        """Parse, predict and encode, in a worker thread: (status, response body, input)."""
        try:
            if fmt is BodyFormat.JSON:
                payload = decode_json(body)
                parsed = self._fast_input(payload) or from_payload(payload, self.signature)
            else:
                parsed = parse_body(body, fmt, self.signature)
            if parsed.fast:
                predictions = self.fast.predict(parsed.data)  # type: ignore[union-attr]
            else:
                predictions = self.model.predict(parsed.data, params=parsed.params)
        except CairnException as e:
            return e.http_status, dumps(e.to_dict()), None
        except Exception as e:
            return self._internal_error(f"The model raised {type(e).__name__}: {e}")
        try:
            return 200, predictions_json(predictions), parsed
        except TypeError as e:
            return self._internal_error(f"The model's predictions cannot be written as JSON: {e}")

    def _fast_input(self, payload: dict[str, Any]) -> ModelInput | None:
        if self.fast is None or "params" in payload:
            return None
        key = format_key(payload)
        rows = self.fast.rows(key, payload[key])
        return None if rows is None else ModelInput(rows, None, len(rows), payload, fast=True)

    def _internal_error(self, message: str) -> tuple[int, bytes, None]:
        self.log.event("model_error", message=message, traceback=traceback.format_exc())
        return 500, dumps({"error_code": "INTERNAL_ERROR", "message": message}), None


class _Request:
    """One HTTP exchange: headers, the body (with its limit) and the answer sent."""

    __slots__ = (
        "_headers",
        "client",
        "error_fields",
        "receive",
        "request_id",
        "rows",
        "send",
        "status",
    )

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.receive = receive
        self.send = send
        self._headers: list[tuple[bytes, bytes]] = scope["headers"]
        client = scope.get("client")
        self.client = client[0] if client else None
        self.request_id = self.header(b"x-request-id")[:128] or uuid.uuid4().hex
        self.status = 0
        self.rows = 0
        self.error_fields: dict[str, str] | None = None

    def header(self, name: bytes) -> str:
        for key, value in self._headers:
            if key == name:
                return value.decode("latin-1")
        return ""

    async def body(self, limit: int) -> bytes:
        """The whole body; `RequestTooLarge` as soon as it is known to pass `limit` (from
        Content-Length before reading anything, else while reading)."""
        declared = self.header(b"content-length")
        if declared.isdigit() and int(declared) > limit:
            raise RequestTooLarge(_too_large(int(declared), limit))
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise RequestTooLarge(_too_large(None, limit))
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def respond(
        self,
        status: int,
        body: bytes,
        content_type: bytes,
        *,
        close: bool = False,
        allow: str | None = None,
    ) -> None:
        self.status = status
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", self.request_id.encode("latin-1")),
        ]
        if close:  # the rest of an oversized body is never read: end the connection
            headers.append((b"connection", b"close"))
        if allow:
            headers.append((b"allow", allow.encode()))
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})

    async def error(
        self,
        status: int,
        error_code: str,
        message: str,
        *,
        close: bool = False,
        allow: str | None = None,
    ) -> None:
        self.error_fields = {"error_code": error_code, "message": message}
        await self.respond(status, dumps(self.error_fields), _JSON, close=close, allow=allow)


def _too_large(declared: int | None, limit: int) -> str:
    size = f" of {declared} bytes" if declared is not None else ""
    return f"Request body{size} is over the limit of {limit} bytes (--max-body-size)"


def _describe(metadata: Any, model_uri: str, registered: dict[str, str] | None) -> dict[str, Any]:
    """The `/metadata` document: where the model came from and what it takes."""
    signature = getattr(metadata, "signature", None)
    described: dict[str, Any] = {
        "model_uri": model_uri,
        "model_uuid": getattr(metadata, "model_uuid", None),
        "model_id": getattr(metadata, "model_id", None),
        "run_id": getattr(metadata, "run_id", None),
        "artifact_path": getattr(metadata, "artifact_path", None),
        "utc_time_created": getattr(metadata, "utc_time_created", None),
        "flavors": sorted(getattr(metadata, "flavors", None) or {}),
        "registered_model": registered,
        "signature": None,
        "cairn_version": __version__,
    }
    if signature is not None:
        described["signature"] = {
            key: orjson.loads(text) if text else None for key, text in signature.to_dict().items()
        }
    return described
