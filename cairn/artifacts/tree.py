"""Walking trees of files, local and stored, and totalling their sizes.

Built on the `ArtifactRepository` protocol alone, so every backend gets recursive walks and
size totals (for progress bars) without writing them again, and uploads of a local directory
pick the same files whichever backend receives them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from cairn.artifacts.base import ArtifactRepository, LocalPath
from cairn.artifacts.paths import validate_artifact_path
from cairn.entities import FileInfo
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist


def check_local_file(local_file: LocalPath) -> Path:
    """`local_file` as a Path, after checking it is an existing regular file."""
    path = Path(local_file)
    if path.is_dir():
        raise InvalidParameterValue(
            f"{str(path)!r} is a directory; use log_artifacts to store a directory"
        )
    if not path.is_file():
        raise InvalidParameterValue(f"Local file {str(path)!r} does not exist")
    return path


def iter_local_files(local_dir: LocalPath) -> Iterator[tuple[Path, str]]:
    """`(file, relative posix path)` for every regular file under `local_dir`, in path order.

    Links to files are read through; links to directories are not descended (they could form
    cycles), and dangling links, sockets and pipes are skipped.
    """
    top = Path(local_dir)
    if not top.is_dir():
        raise InvalidParameterValue(f"Local directory {str(top)!r} does not exist")
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        here = Path(dirpath)
        for name in sorted(filenames):
            file = here / name
            if file.is_file():
                yield file, file.relative_to(top).as_posix()


def local_size(path: LocalPath) -> int:
    """Bytes an upload of `path` (a file, or a directory's files) will transfer."""
    if Path(path).is_dir():
        return sum(file.stat().st_size for file, _ in iter_local_files(path))
    return check_local_file(path).stat().st_size


def stat_artifact(repo: ArtifactRepository, path: str | None) -> FileInfo | None:
    """The FileInfo of one stored path (None if absent); the root is always a directory.

    Found through the parent's listing, since listing a file gives nothing.
    """
    relative = validate_artifact_path(path)
    if not relative:
        return FileInfo(path="", is_dir=True)
    parent = relative.rpartition("/")[0]
    return next((f for f in repo.list_artifacts(parent) if f.path == relative), None)


def walk_artifacts(repo: ArtifactRepository, path: str | None = None) -> Iterator[FileInfo]:
    """Every stored file at or under `path`, depth first, each directory in listing order.

    A missing `path` raises `ResourceDoesNotExist`; a missing root walks as empty.
    """
    info = stat_artifact(repo, path)
    if info is None:
        raise ResourceDoesNotExist(f"No artifact at path {path!r} in {repo.artifact_uri}")
    if not info.is_dir:
        yield info
        return
    yield from walk_directory(repo, info.path)


def walk_directory(repo: ArtifactRepository, directory: str) -> Iterator[FileInfo]:
    """Every stored file under `directory` (already known to be one), depth first."""
    for child in repo.list_artifacts(directory):
        if child.is_dir:
            yield from walk_directory(repo, child.path)
        else:
            yield child


def artifact_size(repo: ArtifactRepository, path: str | None = None) -> int:
    """Bytes a download of `path` (a file or a tree) will transfer."""
    return sum(info.file_size or 0 for info in walk_artifacts(repo, path))
