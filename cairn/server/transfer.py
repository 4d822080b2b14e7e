"""Moving artifact bytes between a socket and the disk without holding a file in memory.

Both directions work in `CHUNK_SIZE` pieces (1 MiB) and do every blocking file operation in a
worker thread, so a multi-gigabyte transfer costs a few MiB of memory and the event loop keeps
serving other requests meanwhile. Uvicorn stops reading a socket while the application has not
taken the previous piece of a body, so a fast client cannot fill the server's memory either.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import quote

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from cairn.artifacts.local import CHUNK_SIZE, AtomicFile
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist

FALLBACK_TYPE = "application/octet-stream"


async def receive_file(request: Request, target: Path) -> int:
    """Stream the request body into `target` atomically; return the number of bytes stored.

    Works for `Content-Length` and chunked bodies alike. If the body ends early (the client
    went away, or sent less than it declared) nothing is stored and the error propagates.
    """
    declared = request.headers.get("content-length")
    partial = await run_in_threadpool(AtomicFile, target)
    try:
        size = 0
        pending: list[bytes] = []
        pending_size = 0
        async for chunk in request.stream():
            if not chunk:
                continue
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= CHUNK_SIZE:
                await run_in_threadpool(partial.write, pending)
                size += pending_size
                pending, pending_size = [], 0
        if pending:
            await run_in_threadpool(partial.write, pending)
            size += pending_size
        if declared is not None and declared.isdigit() and int(declared) != size:
            raise InvalidParameterValue(
                f"Upload ended after {size} of the {declared} bytes announced by Content-Length"
            )
        await run_in_threadpool(partial.commit)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(partial.discard)
        raise
    return size


def open_regular_file(location: Path, shown: str) -> tuple[BinaryIO, int]:
    """An open stored file and its size; 404 when missing, 400 for a directory or oddity.

    Opened before it is examined, so what is checked is what is sent; O_NONBLOCK keeps a
    named pipe placed in the store by hand from blocking the opening thread forever.
    """
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(location, flags)
    except (FileNotFoundError, NotADirectoryError):
        raise ResourceDoesNotExist(f"No artifact at path {shown!r}") from None
    except IsADirectoryError:  # Windows cannot open directories at all
        raise InvalidParameterValue(_directory_message(shown)) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InvalidParameterValue(_directory_message(shown))
        raise InvalidParameterValue(f"Artifact path {shown!r} is not a regular file")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb", buffering=0), info.st_size


def _directory_message(shown: str) -> str:
    return (
        f"Artifact path {shown!r} is a directory; list it with "
        f"GET /api/2.0/mlflow-artifacts/artifacts?path=... and download its files one by one"
    )


class FileDownload(Response):
    """Streams one open file as an attachment, with its exact length, then closes it.

    Stops reading as soon as the client disconnects (uvicorn would otherwise accept and drop
    every remaining chunk of a multi-gigabyte file).
    """

    def __init__(self, file: BinaryIO, size: int, name: str) -> None:
        super().__init__(
            status_code=200,
            headers={
                "content-length": str(size),
                "content-type": guess_content_type(name),
                "content-disposition": content_disposition(name),
                "x-content-type-options": "nosniff",
            },
        )
        self.file = file
        self.size = size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            if scope["method"] == "HEAD":
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_cancel_on_disconnect, receive, tasks.cancel_scope)
                await self._send_body(send)
                tasks.cancel_scope.cancel()
        finally:
            self.file.close()

    async def _send_body(self, send: Send) -> None:
        remaining = self.size
        while remaining > 0:
            chunk = await run_in_threadpool(self.file.read, min(CHUNK_SIZE, remaining))
            if not chunk:
                # Truncated in place while we read it: the promised length cannot be kept,
                # and failing makes the server drop the connection instead of hanging it.
                raise RuntimeError(f"Artifact shrank by {remaining} bytes while being sent")
            remaining -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


def guess_content_type(name: str) -> str:
    """A MIME type from the file's last extension only, as a download client expects.

    Only the extension is looked at: `mimetypes` reads a name such as `data:…` as a data URL,
    and a compression suffix (`.gz`) must not turn into a Content-Encoding the client would
    undo. Unknown extensions are `application/octet-stream`.
    """
    suffix = PurePosixPath(name).suffix
    guessed, encoding = mimetypes.guess_type(f"file{suffix}") if suffix else (None, None)
    return guessed if guessed and not encoding else FALLBACK_TYPE


def content_disposition(name: str) -> str:
    """`attachment` with the file name quoted safely (RFC 6266), UTF-8 form when needed."""
    plain = "".join(c if " " <= c <= "~" and c not in '"\\%' else "_" for c in name)
    header = f'attachment; filename="{plain}"'
    if plain != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header
