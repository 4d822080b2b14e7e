"""LocalArtifactRepository: artifacts as plain files under a directory of this machine.

Serves `file:///abs/path` URIs and plain paths (absolute, or relative to the working
directory at construction). Every write goes to a temporary file beside its target and is
moved into place with `os.replace`, so a crash leaves either the old file or the new one,
never half of one; an interrupted write may leave a `.cairn-tmp-*` file, which listings and
downloads ignore.

Symbolic links are never created by Cairn. Ones placed in the store by hand are followed only
while they stay under the root: a named path that leaves it is rejected, and listings skip
such links, links to directories (which could form cycles) and dangling links.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from cairn.artifacts.base import LocalPath, ProgressCallback
from cairn.artifacts.paths import (
    is_inside,
    join_artifact_path,
    resolve_under_root,
    validate_artifact_path,
)
from cairn.artifacts.tree import check_local_file, iter_local_files, walk_directory
from cairn.entities import FileInfo
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist

CHUNK_SIZE = 1024 * 1024
"""Bytes copied per read/write, and so the granularity of progress callbacks."""

TEMP_PREFIX = ".cairn-tmp-"
"""Names of in-flight writes; hidden from listings so readers never see a partial file."""

_WINDOWS_DRIVE_IN_URI = re.compile(r"^/[A-Za-z]:")


class LocalArtifactRepository:
    """An ArtifactRepository over a local directory (created on the first write)."""

    def __init__(self, artifact_uri: str) -> None:
        self.artifact_uri = artifact_uri
        self.root = local_root_from_uri(artifact_uri)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.artifact_uri!r})"

    # -- writing ------------------------------------------------------------------------------
    def log_artifact(
        self,
        local_file: LocalPath,
        artifact_path: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Store one local file as `<artifact_path>/<its base name>` (root when None)."""
        source = check_local_file(local_file)
        self._write(source, join_artifact_path(artifact_path, source.name), progress)

    def log_artifacts(
        self,
        local_dir: LocalPath,
        artifact_path: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Store every file under `local_dir`, keeping relative paths, under `artifact_path`."""
        base = validate_artifact_path(artifact_path)
        for source, relative in iter_local_files(local_dir):
            self._write(source, join_artifact_path(base, relative), progress)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Delete a file or a tree (a link, not its target); a missing path is a no-op."""
        target = resolve_under_root(self.root, artifact_path)
        if target == self.root:
            # Empty the root rather than remove it: the root may itself be a link.
            if self.root.is_dir():
                for child in self.root.iterdir():
                    _remove(child)
            return
        _remove(target)

    # -- reading ------------------------------------------------------------------------------
    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of `path`, sorted by path; `[]` when it is missing or a file."""
        relative = validate_artifact_path(path)
        directory = resolve_under_root(self.root, relative)
        if not directory.is_dir():
            return []
        with os.scandir(directory) as entries:
            infos = [info for entry in entries if (info := self._describe(entry, relative))]
        return sorted(infos, key=lambda info: info.path)

    def download_artifacts(
        self,
        artifact_path: str = "",
        dst_path: LocalPath | None = None,
        progress: ProgressCallback | None = None,
    ) -> str:
        """Copy a file or a tree to `dst_path/<artifact_path>` (a new temp dir when None)."""
        relative = validate_artifact_path(artifact_path)
        source = resolve_under_root(self.root, relative)
        if relative and not source.exists():
            raise ResourceDoesNotExist(f"No artifact at path {relative!r} in {self.artifact_uri}")
        if dst_path is None:
            destination = Path(tempfile.mkdtemp(prefix="cairn-artifacts-"))
        else:
            destination = Path(dst_path)
        local = destination / relative if relative else destination
        if source.is_file():
            local.parent.mkdir(parents=True, exist_ok=True)
            copy_atomically(source, local, progress)
            return str(local)
        local.mkdir(parents=True, exist_ok=True)
        for info in walk_directory(self, relative):
            target = destination / info.path
            target.parent.mkdir(parents=True, exist_ok=True)
            copy_atomically(resolve_under_root(self.root, info.path), target, progress)
        return str(local)

    def open(self, artifact_path: str) -> BinaryIO:
        """A binary stream over one stored file; the caller closes it."""
        target = resolve_under_root(self.root, artifact_path)
        if target.is_dir():
            raise InvalidParameterValue(
                f"Artifact path {artifact_path!r} is a directory, not a file"
            )
        try:
            return target.open("rb")
        except FileNotFoundError:
            raise ResourceDoesNotExist(
                f"No artifact at path {artifact_path!r} in {self.artifact_uri}"
            ) from None

    # -- helpers ------------------------------------------------------------------------------
    def _write(self, source: Path, relative: str, progress: ProgressCallback | None) -> None:
        target = resolve_under_root(self.root, relative)
        prepare_target(target, relative)
        copy_atomically(source, target, progress)

    def _describe(self, entry: os.DirEntry[str], parent: str) -> FileInfo | None:
        """The FileInfo of a directory entry, or None when listings must not show it."""
        # A backslash would be read back as a separator, so such a name is unreachable.
        if entry.name.startswith(TEMP_PREFIX) or "\\" in entry.name:
            return None
        path = f"{parent}/{entry.name}" if parent else entry.name
        try:
            if entry.is_symlink() and (entry.is_dir() or not is_inside(self.root, entry.path)):
                return None
            if entry.is_dir():
                return FileInfo(path=path, is_dir=True)
            if entry.is_file():
                return FileInfo(path=path, is_dir=False, file_size=entry.stat().st_size)
        except OSError:  # removed while we looked
            return None
        return None


def local_root_from_uri(uri: str) -> Path:
    """The absolute directory a `file:` URI or a plain path names."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidParameterValue(
                f"Unsupported file URI {uri!r}: host {parts.netloc!r} is not this machine; "
                "use file:///absolute/path"
            )
        if parts.query or parts.fragment:
            raise InvalidParameterValue(
                f"Unsupported file URI {uri!r}: percent-encode '?' and '#' (%3F, %23)"
            )
        location = unquote(parts.path)
        if os.name == "nt" and _WINDOWS_DRIVE_IN_URI.match(location):
            location = location[1:]
    elif len(scheme) <= 1:  # no scheme, or a Windows drive letter
        location = uri
    else:
        raise InvalidParameterValue(f"Not a local path or file: URI: {uri!r}")
    if not location or "\x00" in location:
        raise InvalidParameterValue(f"Invalid local artifact location {uri!r}")
    return Path(location).absolute()


def prepare_target(target: Path, relative: str) -> None:
    """Create the parent directories of a file about to be written; never replace a directory."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InvalidParameterValue(
            f"Cannot write artifact {relative!r}: a parent path is an existing file"
        ) from None
    if target.is_dir() and not target.is_symlink():
        raise InvalidParameterValue(
            f"Cannot write artifact {relative!r}: a directory of that name exists"
        )


class AtomicFile:
    """A temporary sibling of `target` that becomes `target` only when complete.

    Readers see the old file or the new one, never a part: data goes to a `.cairn-tmp-*`
    sibling (hidden from listings), which is fsynced and renamed over `target`, and the
    directory is fsynced so the rename survives power loss too. Blocking I/O.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        self.temp = target.with_name(f"{TEMP_PREFIX}{secrets.token_hex(8)}")
        # 0o666 lets the umask decide permissions, as for any new file (mkstemp forces 0o600).
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(self.temp, flags, 0o666)
        self.file = os.fdopen(fd, "wb", buffering=CHUNK_SIZE)

    def write(self, chunks: list[bytes]) -> None:
        self.file.writelines(chunks)

    def commit(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.temp, self.target)
        fsync_directory(self.target.parent)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            os.unlink(self.temp)


def copy_atomically(source: Path, target: Path, progress: ProgressCallback | None = None) -> None:
    """Copy `source` to `target` so that `target` is never seen half written."""
    partial = AtomicFile(target)
    try:
        with source.open("rb") as src:
            while chunk := src.read(CHUNK_SIZE):
                partial.write([chunk])
                if progress is not None:
                    progress(len(chunk))
        partial.commit()
    except BaseException:
        partial.discard()
        raise


def fsync_directory(directory: Path) -> None:
    """Make the rename itself durable: a written artifact survives a power loss too."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    """Remove a file, a link or a tree; a missing path is fine."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path)
