"""Artifact path rules: the one place that decides which relative paths are acceptable.

Every layer that takes an artifact path from a user or from the network (the repositories,
the client, the server's artifact proxy) passes it through `validate_artifact_path`, so the
rules cannot drift apart. Filesystem backends add `resolve_under_root`, which also refuses
paths that leave the root through a symbolic link.

Rules: a path is relative and uses `/` between segments. `\\` is read as a separator (so a
path written on Windows lands in the same place everywhere), empty and `.` segments are
dropped, and `..` segments, absolute paths (`/x`, `C:\\x`, `C:x`, `\\\\host\\share`) and NUL
bytes are rejected with `InvalidParameterValue`. The root itself is the empty string.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cairn.exceptions import InvalidParameterValue

_DRIVE = re.compile(r"^[A-Za-z]:")


def validate_artifact_path(path: str | None) -> str:
    """Return the canonical form of a relative artifact path, or raise.

    `None`, `""` and `"."` all mean the root and give `""`; `"a//b/"` and `"./a"` give `"a/b"`
    and `"a"`. Anything that could name a location outside the root raises
    `InvalidParameterValue` with a message that quotes the offending path.
    """
    if path is None:
        return ""
    if not isinstance(path, str):
        raise InvalidParameterValue(f"Invalid artifact path {path!r}: expected a string")
    if "\x00" in path:
        raise _invalid(path, "NUL bytes are not allowed")
    unified = path.replace("\\", "/")
    if unified.startswith("/"):
        raise _invalid(path, "absolute paths are not allowed; give a path relative to the root")
    segments = [s for s in unified.split("/") if s not in ("", ".")]
    if ".." in segments:
        raise _invalid(path, "'..' segments are not allowed")
    clean = "/".join(segments)
    # Checked after normalising: "./C:x" would otherwise come out as the drive path "C:x".
    if _DRIVE.match(clean):
        raise _invalid(path, "Windows drive paths are not allowed; give a relative path")
    return clean


def join_artifact_path(*parts: str | None) -> str:
    """Join artifact path pieces, validating each, skipping empty ones (`None` is the root)."""
    return "/".join(p for p in (validate_artifact_path(part) for part in parts) if p)


def resolve_under_root(root: str | os.PathLike[str], path: str | None) -> Path:
    """The filesystem location of artifact `path` under directory `root`, checked.

    Besides the rules of `validate_artifact_path`, the location, once every symbolic link in
    it is followed, must stay inside `root` (itself resolved), whether or not it exists yet,
    so it is safe both to read and to write. The returned path is the unresolved
    `root/path`: operating on it deletes a link rather than what it points to.
    """
    relative = validate_artifact_path(path)
    root_path = Path(root)
    target = root_path / relative if relative else root_path
    if relative and not is_inside(root_path, target):
        raise _invalid(path or "", "it resolves outside the artifact root through a symbolic link")
    return target


def is_inside(root: str | os.PathLike[str], location: str | os.PathLike[str]) -> bool:
    """Whether `location`, with every symbolic link followed, lies in or at `root`."""
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(location))
    return real == real_root or real.is_relative_to(real_root)


def _invalid(path: str, reason: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Invalid artifact path {path!r}: {reason}")
