"""The ArtifactRepository protocol: what every artifact backend provides.

A repository is a tree of files addressed by relative `/`-separated paths (see
`cairn.artifacts.paths`) under one root URI. Backends are found by URI scheme through
`cairn.artifacts.registry`; a third-party backend only has to satisfy this protocol.

Shared semantics, so callers never depend on the backend:
- Writes replace an existing file of the same path and create intermediate directories.
  Only files are stored; empty directories are not (object stores have none).
- `list_artifacts` returns direct children, with paths relative to the repository root,
  sorted by path; a missing path, or a path that names a file, lists as `[]` (as in MLflow
  and the artifact proxy's listing route).
- Reading a missing path raises `ResourceDoesNotExist`; deleting one is a no-op.
- `progress` callbacks receive the number of bytes moved by each chunk as it is moved, so
  their sum is the size of what was transferred; `cairn.artifacts.tree.local_size` and
  `artifact_size` give the total beforehand (for a progress bar).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO, Protocol, TypeAlias, runtime_checkable

from cairn.entities import FileInfo

ProgressCallback: TypeAlias = Callable[[int], None]
"""Called with the number of bytes just transferred (an increment, not a running total)."""

LocalPath: TypeAlias = str | os.PathLike[str]


@runtime_checkable
class ArtifactRepository(Protocol):
    artifact_uri: str
    """The root URI this repository reads and writes under, as it was given."""

    def log_artifact(
        self,
        local_file: LocalPath,
        artifact_path: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Store one local file as `<artifact_path>/<its base name>` (root when None)."""
        ...

    def log_artifacts(
        self,
        local_dir: LocalPath,
        artifact_path: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Store every file under `local_dir`, keeping their relative paths, under
        `artifact_path` (the contents of the directory, not the directory itself)."""
        ...

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of `path` (root when None); files carry `file_size`."""
        ...

    def download_artifacts(
        self,
        artifact_path: str = "",
        dst_path: LocalPath | None = None,
        progress: ProgressCallback | None = None,
    ) -> str:
        """Copy a file or a directory tree to `dst_path/<artifact_path>` and return that path.

        `dst_path` is created if needed; when None a new temporary directory is used and the
        caller owns it.
        """
        ...

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Delete a file or a tree; None or "" deletes everything under the root."""
        ...

    def open(self, artifact_path: str) -> BinaryIO:
        """A binary stream reading one file (for small reads and for proxying downloads).

        The caller closes it; use it as a context manager.
        """
        ...
