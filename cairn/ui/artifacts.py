"""A run's artifact browser: listing, previews and downloads.

    GET /runs/<id>/artifacts?path=<dir>            the directory's listing (an HTML fragment)
    GET /runs/<id>/artifacts/preview?path=<file>   the file's preview (an HTML fragment)
    GET /runs/<id>/artifacts/file?path=<file>      the bytes, as an attachment
    GET /runs/<id>/artifacts/file?path=<img>&inline=1   an image, for <img src>

Files are read through the server's `ServerStorage`, so the UI reaches exactly the locations
the REST API and the artifact proxy do. Artifact bytes are user content served from the
UI's own origin: downloads are attachments, only image types are ever served inline, and
every file answer carries `nosniff` and a sandboxing Content-Security-Policy, so not even an
SVG or an HTML file opened directly can run a script here.

With authentication on, all three need READ on the run's experiment; a run the caller may
not read answers as a missing one (see `access`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from cairn.artifacts import ArtifactRepository
from cairn.artifacts.paths import validate_artifact_path
from cairn.entities import FileInfo
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.server.transfer import content_disposition, guess_content_type
from cairn.ui.access import Access, missing_run
from cairn.ui.pages import Ui
from cairn.ui.previews import IMAGE_TYPES, PREVIEW_BYTES, preview
from cairn.ui.run_page import run_id

CHUNK = 256 * 1024
FILE_POLICY = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"


class ArtifactPages:
    def __init__(self, ui: Ui) -> None:
        self.ui = ui

    def routes(self) -> list[BaseRoute]:
        page = self.ui.page
        return [
            Route("/runs/{run_id}/artifacts", page(self.listing), methods=["GET"]),
            Route("/runs/{run_id}/artifacts/preview", page(self.preview), methods=["GET"]),
            Route("/runs/{run_id}/artifacts/file", page(self.file), methods=["GET"]),
        ]

    async def repository(self, request: Request) -> tuple[str, ArtifactRepository]:
        rid = run_id(request)
        run = await self.ui.call(self.ui.store.get_run, rid)
        try:
            await Access.of(request).require(run.info.experiment_id)
        except ResourceDoesNotExist:
            raise missing_run(rid) from None
        return rid, self.ui.ctx.storage.repository(run.info.artifact_uri)

    async def listing(self, request: Request) -> Response:
        path = validate_artifact_path(request.query_params.get("path", ""))
        rid, repo = await self.repository(request)
        files = await self.ui.call(repo.list_artifacts, path or None)
        return self.ui.render(
            request,
            "_artifacts.html",
            run_id=rid,
            path=path,
            files=sorted_listing(files),
            crumbs=crumbs(path),
        )

    async def preview(self, request: Request) -> Response:
        path = file_path(request)
        rid, repo = await self.repository(request)
        head, size = await self.ui.call(read_head, repo, path)
        return self.ui.render(
            request,
            "_preview.html",
            run_id=rid,
            path=path,
            name=PurePosixPath(path).name,
            size=size,
            preview=preview(path, head, size),
        )

    async def file(self, request: Request) -> Response:
        path = file_path(request)
        _, repo = await self.repository(request)
        name = PurePosixPath(path).name
        stream = await self.ui.call(repo.open, path)
        inline = request.query_params.get("inline") == "1"
        suffix = PurePosixPath(name).suffix.lower()
        if inline and suffix in IMAGE_TYPES:
            media_type, disposition = IMAGE_TYPES[suffix], "inline"
        else:
            media_type, disposition = guess_content_type(name), content_disposition(name)

        def chunks() -> Iterator[bytes]:
            with stream:
                while chunk := stream.read(CHUNK):
                    yield chunk

        return StreamingResponse(
            chunks(),
            media_type=media_type,
            headers={
                "content-disposition": disposition,
                "x-content-type-options": "nosniff",
                "content-security-policy": FILE_POLICY,
                "cache-control": "private, max-age=60",
            },
        )


def file_path(request: Request) -> str:
    path = validate_artifact_path(request.query_params.get("path", ""))
    if not path:
        raise InvalidParameterValue("Give the path of a file: ?path=<file>")
    return path


def read_head(repo: ArtifactRepository, path: str) -> tuple[bytes, int]:
    """The first PREVIEW_BYTES of the file and its size (known once the file is read whole;
    otherwise from the listing of its directory)."""
    with repo.open(path) as stream:
        head = stream.read(PREVIEW_BYTES + 1)
    if len(head) <= PREVIEW_BYTES:
        return head, len(head)
    parent = str(PurePosixPath(path).parent)
    sizes = {f.path: f.file_size for f in repo.list_artifacts(None if parent == "." else parent)}
    size = sizes.get(path)
    return head[:PREVIEW_BYTES], size if size is not None else PREVIEW_BYTES + 1


def crumbs(path: str) -> list[tuple[str, str]]:
    """(name, path) of each directory from the root down to `path`."""
    out = [("artifacts", "")]
    parts = [p for p in path.split("/") if p]
    for i, part in enumerate(parts):
        out.append((part, "/".join(parts[: i + 1])))
    return out


def sorted_listing(files: list[FileInfo]) -> list[FileInfo]:
    """Directories first, then files, each by name."""
    return sorted(files, key=lambda f: (not f.is_dir, f.path))
