"""HttpArtifactRepository: artifacts kept by a tracking server, reached through its proxy.

Serves URLs of the form `http(s)://host:port[/prefix]/api/2.0/mlflow-artifacts/artifacts/<p>`
(what `proxy_uri.proxy_url` makes of an `mlflow-artifacts:` URI), where `<p>` is the root's
path under the server's artifact destination. The routes, as MLflow's server has them:

    PUT    …/artifacts/<p>/<file>         upload one file (streamed)
    GET    …/artifacts/<p>/<file>         download one file (streamed)
    GET    …/artifacts?path=<p>/<dir>     direct children of a directory, by base name
    DELETE …/artifacts/<p>/<path>         delete a file or a tree

Directories are walked on this side: uploads send one request per file, downloads list and
fetch file by file. httpx is imported only when a repository is first built.
"""

from __future__ import annotations

import contextlib
import mimetypes
import posixpath
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from cairn.artifacts.base import LocalPath, ProgressCallback
from cairn.artifacts.paths import join_artifact_path, validate_artifact_path
from cairn.artifacts.proxy_uri import PROXY_ROUTE
from cairn.artifacts.tree import check_local_file, iter_local_files, stat_artifact, walk_directory
from cairn.entities import FileInfo
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist

if TYPE_CHECKING:
    from cairn.transport import HttpTransport


class HttpArtifactRepository:
    """An ArtifactRepository on a tracking server's artifact proxy.

    `transport` defaults to the process's shared transport for that server (one connection
    pool, the tracking credentials and retry settings).
    """

    def __init__(self, artifact_uri: str, transport: HttpTransport | None = None) -> None:
        self.artifact_uri = artifact_uri
        server, self.root = split_proxy_url(artifact_uri)
        if transport is None:
            from cairn.transport import shared_transport

            transport = shared_transport(server)
        self.transport = transport

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.artifact_uri!r})"

    def _route(self, relative: str) -> str:
        """The URL path of a stored path (relative to this root), percent-encoded."""
        stored = join_artifact_path(self.root, relative)
        return f"{PROXY_ROUTE}/{quote(stored, safe='/')}"

    # -- writing ------------------------------------------------------------------------------
    def log_artifact(
        self,
        local_file: LocalPath,
        artifact_path: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Upload one local file as `<artifact_path>/<its base name>`."""
        source = check_local_file(local_file)
        self._upload(source, join_artifact_path(artifact_path, source.name), progress)

    def log_artifacts(
        self,
        local_dir: LocalPath,
        artifact_path: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Upload every file under `local_dir`, keeping relative paths, one request each."""
        base = validate_artifact_path(artifact_path)
        for source, relative in iter_local_files(local_dir):
            self._upload(source, join_artifact_path(base, relative), progress)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Delete a file or a tree on the server; a missing path is a no-op."""
        relative = validate_artifact_path(artifact_path)
        with contextlib.suppress(ResourceDoesNotExist):
            self.transport.request("DELETE", self._route(relative), idempotent=True)

    def _upload(self, source: Path, relative: str, progress: ProgressCallback | None) -> None:
        content_type = mimetypes.guess_type(source.name)[0]
        self.transport.upload(
            self._route(relative), source, content_type=content_type, progress=progress
        )

    # -- reading ------------------------------------------------------------------------------
    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of `path`, sorted; `[]` when it is missing or names a file."""
        relative = validate_artifact_path(path)
        stored = join_artifact_path(self.root, relative)
        found = self.transport.call("GET", PROXY_ROUTE, {"path": stored or None}, idempotent=True)
        infos = []
        for item in found.get("files", []):
            # The proxy answers base names; take the last segment should a server send more.
            name = posixpath.basename(str(item.get("path", "")).rstrip("/"))
            if not name:
                continue
            is_dir = bool(item.get("is_dir", False))
            size = None if is_dir else int(item.get("file_size") or 0)
            infos.append(FileInfo(join_artifact_path(relative, name), is_dir, size))
        return sorted(infos, key=lambda info: info.path)

    def download_artifacts(
        self,
        artifact_path: str = "",
        dst_path: LocalPath | None = None,
        progress: ProgressCallback | None = None,
    ) -> str:
        """Copy a file or a tree to `dst_path/<artifact_path>` (a new temp dir when None)."""
        relative = validate_artifact_path(artifact_path)
        info = stat_artifact(self, relative)
        if info is None:
            raise ResourceDoesNotExist(f"No artifact at path {relative!r} in {self.artifact_uri}")
        if dst_path is None:
            destination = Path(tempfile.mkdtemp(prefix="cairn-artifacts-"))
        else:
            destination = Path(dst_path)
        local = destination / relative if relative else destination
        if not info.is_dir:
            self._download(relative, local, progress)
            return str(local)
        local.mkdir(parents=True, exist_ok=True)
        for item in walk_directory(self, relative):
            self._download(item.path, destination / item.path, progress)
        return str(local)

    def open(self, artifact_path: str) -> BinaryIO:
        """The file's bytes (fetched whole, spooled to disk when large); the caller closes it."""
        relative = validate_artifact_path(artifact_path)
        if not relative:
            raise InvalidParameterValue("The artifact root is a directory, not a file")
        return cast(BinaryIO, self.transport.read(self._route(relative)))

    def _download(self, relative: str, local: Path, progress: ProgressCallback | None) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        self.transport.download(self._route(relative), local, progress=progress)


def split_proxy_url(url: str) -> tuple[str, str]:
    """(server base URL, root path under the artifact destination) of an artifact proxy URL.

    The server part keeps any path prefix before `/api/2.0/mlflow-artifacts/artifacts`; the
    root is percent-decoded and checked like any artifact path.
    """
    parts = urlsplit(url)
    prefix, route, rest = parts.path.partition(PROXY_ROUTE)
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.netloc
        or not route
        or (rest and not rest.startswith("/"))
        or parts.query
        or parts.fragment
    ):
        raise InvalidParameterValue(
            f"Unsupported http(s) artifact URI {url!r}: expected the artifact proxy of a "
            f"tracking server, http(s)://host:port[/prefix]{PROXY_ROUTE}/<path>"
        )
    server = urlunsplit((parts.scheme, parts.netloc, prefix.rstrip("/"), "", ""))
    return server, validate_artifact_path(unquote(rest).lstrip("/"))
