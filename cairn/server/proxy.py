"""The artifact proxy: clients read and write the server's artifact destination over HTTP.

    PUT    /api/2.0/mlflow-artifacts/artifacts/<path>   store the body as <path>     -> {}
    GET    /api/2.0/mlflow-artifacts/artifacts/<path>   the file's bytes, as an attachment
    DELETE /api/2.0/mlflow-artifacts/artifacts/<path>   remove a file or a tree      -> {}
    GET    /api/2.0/mlflow-artifacts/artifacts?path=<d> direct children of <d>, base names

each mirrored under `/ajax-api`. This is what `mlflow-artifacts:/<path>` URIs resolve to on the
client side, so clients need no storage credentials of their own. Paths are checked by
`storage.checked_path` (every percent-decoding of them, too) and must stay under the
destination after symbolic links; bodies stream through `transfer`. With `--no-serve-artifacts`
each route answers 503 in plain text, as MLflow's does.
"""

from __future__ import annotations

import contextlib
import errno
import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from cairn.artifacts.local import prepare_target
from cairn.exceptions import InvalidParameterValue
from cairn.server import wire
from cairn.server.context import ServerContext
from cairn.server.storage import PROXY_PATH, ServerStorage, checked_path
from cairn.server.transfer import FileDownload, open_regular_file, receive_file

log = logging.getLogger("cairn.server")

Handler = Callable[[Request], Awaitable[Response]]

DISABLED_MESSAGE = (
    "The artifact proxy is disabled: this server was started with --no-serve-artifacts. "
    "Use an artifact location the client can reach directly."
)
# Failures that say something about the name a client chose, not about the server.
_NAME_ERRNOS = {errno.ENAMETOOLONG, errno.ELOOP, errno.EILSEQ, errno.EINVAL}


def routes(ctx: ServerContext) -> list[BaseRoute]:
    """The proxy's routes under both prefixes (503 stand-ins when the proxy is off).

    One route per path, whatever its methods, so a 405 lists every method the path allows.
    """
    proxy = ArtifactProxy(ctx.storage)
    table: dict[str, dict[str, Handler]] = {
        "": {"GET": proxy.list_files},
        "/{path:path}": {"GET": proxy.download, "PUT": proxy.upload, "DELETE": proxy.delete},
    }
    found: list[BaseRoute] = []
    for prefix in ("/api", "/ajax-api"):
        for suffix, handlers in table.items():
            path = PROXY_PATH.replace("/api", prefix, 1) + suffix
            endpoint = by_method(handlers) if ctx.config.serve_artifacts else disabled
            found.append(Route(path, endpoint, methods=list(handlers)))
    return found


def by_method(handlers: dict[str, Handler]) -> Handler:
    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    dispatch.__name__ = "_or_".join(h.__name__ for h in handlers.values())
    return dispatch


async def disabled(request: Request) -> Response:
    return PlainTextResponse(DISABLED_MESSAGE, status_code=503)


class ArtifactProxy:
    """The route handlers, over the destination of one server."""

    def __init__(self, storage: ServerStorage) -> None:
        self.storage = storage
        self.repository = storage.proxy_repository

    async def list_files(self, request: Request) -> Response:
        relative = checked_path(request.query_params.get("path") or "")
        with _name_errors(relative):
            files = await run_in_threadpool(self.repository.list_artifacts, relative)
        out: dict[str, Any] = {}
        if files:
            # The proxy lists base names; run-level listings give run-relative paths instead.
            out["files"] = [{**info.to_dict(), "path": _basename(info.path)} for info in files]
        return _json(out)

    async def download(self, request: Request) -> Response:
        relative, location = await self._locate(request)
        if not relative:
            raise InvalidParameterValue(
                f"Give the path of a file to download; to list the root use GET {PROXY_PATH}?path="
            )
        with _name_errors(relative):
            file, size = await run_in_threadpool(open_regular_file, location, relative)
        return FileDownload(file, size, _basename(relative))

    async def upload(self, request: Request) -> Response:
        relative, location = await self._locate(request)
        self.storage.check_writable(location)
        with _name_errors(relative):
            if not relative:
                raise InvalidParameterValue("Give the path of the file to upload, not the root")
            await run_in_threadpool(prepare_target, location, relative)
            try:
                await receive_file(request, location)
            except ClientDisconnect:
                log.info("Client went away during the upload of %r; nothing was stored", relative)
                return Response(status_code=400)  # nobody is listening any more
        return _json({})

    async def delete(self, request: Request) -> Response:
        relative, location = await self._locate(request)
        if not relative:
            raise InvalidParameterValue(
                "Refusing to delete the whole artifact destination; give a path below it"
            )
        self.storage.check_writable(location)
        with _name_errors(relative):
            await run_in_threadpool(self.repository.delete_artifacts, relative)
        return _json({})

    async def _locate(self, request: Request) -> tuple[str, Path]:
        """The canonical path named in the URL and where it lives on disk."""
        relative = checked_path(request.path_params["path"])
        with _name_errors(relative):
            location = await run_in_threadpool(self.storage.destination_path, relative)
        return relative, location


@contextlib.contextmanager
def _name_errors(relative: str) -> Iterator[None]:
    """Turn filesystem errors caused by the chosen name (too long, …) into 400s."""
    try:
        yield
    except OSError as e:
        if e.errno in _NAME_ERRNOS:
            raise InvalidParameterValue(
                f"Invalid artifact path {relative!r}: {e.strerror or 'refused by the filesystem'}"
            ) from None
        raise


def _basename(path: str) -> str:
    return PurePosixPath(path).name


def _json(body: dict[str, Any]) -> Response:
    return Response(wire.dumps(body), media_type="application/json")


def openapi_paths() -> dict[str, Any]:
    """OpenAPI 3.1 path items for the proxy routes (the `/api` forms)."""
    from cairn.server.openapi import ERROR_RESPONSES

    empty = {
        "description": "Done",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    unavailable = {
        "description": "The server runs with --no-serve-artifacts",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    errors = {**ERROR_RESPONSES, "503": unavailable}
    file_info = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "base name"},
            "is_dir": {"type": "boolean"},
            "file_size": {"type": "integer", "format": "int64"},
        },
    }
    path_parameter = {
        "name": "path",
        "in": "path",
        "required": True,
        "description": "artifact path below the destination, '/'-separated",
        "schema": {"type": "string"},
    }
    return {
        PROXY_PATH: {
            "get": {
                "summary": "List the direct children of a directory of the artifact destination",
                "operationId": "list_proxied_artifacts",
                "parameters": [
                    {
                        "name": "path",
                        "in": "query",
                        "required": False,
                        "description": "directory to list; the root when absent",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "Direct children; {} for a missing path or a file",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"files": {"type": "array", "items": file_info}},
                                }
                            }
                        },
                    },
                    **errors,
                },
            }
        },
        f"{PROXY_PATH}/{{path}}": {
            "parameters": [path_parameter],
            "get": {
                "summary": "Download a proxied artifact",
                "operationId": "download_proxied_artifact",
                "responses": {
                    "200": {
                        "description": "The file, as an attachment with a guessed Content-Type",
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **errors,
                },
            },
            "put": {
                "summary": "Upload (or replace) a proxied artifact; the body is streamed to disk",
                "operationId": "upload_proxied_artifact",
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                },
                "responses": {"200": empty, **errors},
            },
            "delete": {
                "summary": "Delete a proxied artifact file or directory tree",
                "operationId": "delete_proxied_artifact",
                "responses": {"200": empty, **errors},
            },
        },
    }
