"""Checksums of a model directory, written when the model is saved and checked before it loads.

The manifest, `cairn_checksums.json` at the directory's root:

    {
      "format_version": 1,
      "algorithm": "sha256",
      "files": {"MLmodel": "9f86d0...", "data/model.pkl": "2c26b4...", ...}
    }

lists every file under the directory but itself, by relative POSIX path in sorted order.
Verification recomputes the checksums from the files found on disk and compares the two sets;
the paths in the manifest are only compared, never opened, so an edited manifest cannot point
the check elsewhere. A directory without a manifest is reported as such (`verify_manifest`
returns False) and the caller decides whether an unverified model may load.

Files are read in fixed-size chunks. A symlink to a file inside the directory is checksummed
by its target's content; symlinks leading outside, symlinked directories, and anything that is
not a regular file (a pipe, a device) are refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path

from cairn.exceptions import ModelIntegrityError

MANIFEST_FILE = "cairn_checksums.json"
FORMAT_VERSION = 1
ALGORITHM = "sha256"

_HEX = re.compile(r"[0-9a-f]{64}")
_MAX_MANIFEST_BYTES = 64 * 1024 * 1024  # ~500,000 entries; a larger one is not ours
_LISTED = 10  # names shown per kind of difference in an error message


def compute_checksums(model_dir: str | os.PathLike[str]) -> dict[str, str]:
    """The SHA-256 of every file under `model_dir` (the manifest excepted), by relative POSIX
    path, sorted. Raises `ModelIntegrityError` for what cannot be checksummed safely."""
    root = os.path.realpath(model_dir)
    if not os.path.isdir(root):
        raise ModelIntegrityError(f"Not a model directory: {str(model_dir)!r}")

    def fail(exc: OSError) -> None:
        # An unreadable subdirectory must not quietly drop out of the manifest.
        raise ModelIntegrityError(f"Cannot read {exc.filename!r}: {exc.strerror}") from exc

    sums: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, onerror=fail):
        for name in dirnames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                _refuse_link(root, full, directory=True)
        for name in filenames:
            full = os.path.join(dirpath, name)
            rel = Path(os.path.relpath(full, root)).as_posix()
            if rel == MANIFEST_FILE:
                continue
            sums[rel] = _file_sha256(root, full, rel)
    return dict(sorted(sums.items()))


def write_manifest(model_dir: str | os.PathLike[str]) -> Path:
    """Checksum every file under `model_dir` and write the manifest there (replacing any
    earlier one); returns the manifest's path."""
    body = {
        "format_version": FORMAT_VERSION,
        "algorithm": ALGORITHM,
        "files": compute_checksums(model_dir),
    }
    path = Path(model_dir) / MANIFEST_FILE
    if path.is_symlink():
        raise ModelIntegrityError(f"{MANIFEST_FILE} in {str(model_dir)!r} is a symlink")
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return path


def verify_manifest(model_dir: str | os.PathLike[str]) -> bool:
    """Check `model_dir` against its manifest.

    Returns True when every file matches, False when the directory has no manifest (nothing to
    check against: the caller decides). Raises `ModelIntegrityError` naming every changed,
    missing and added file, or saying why the manifest cannot be read.
    """
    path = Path(model_dir) / MANIFEST_FILE
    if path.is_symlink():
        raise ModelIntegrityError(f"{MANIFEST_FILE} in {str(model_dir)!r} is a symlink")
    if not path.exists():
        return False
    expected = _read_manifest(path)
    actual = compute_checksums(model_dir)
    changed = tuple(sorted(p for p in expected.keys() & actual.keys() if expected[p] != actual[p]))
    missing = tuple(sorted(expected.keys() - actual.keys()))
    added = tuple(sorted(actual.keys() - expected.keys()))
    if changed or missing or added:
        parts = [
            f"{kind}: {_names(paths)}"
            for kind, paths in (("changed", changed), ("missing", missing), ("added", added))
            if paths
        ]
        raise ModelIntegrityError(
            f"Model directory {str(model_dir)!r} does not match {MANIFEST_FILE}: "
            + "; ".join(parts),
            changed=changed,
            missing=missing,
            added=added,
        )
    return True


def _read_manifest(path: Path) -> dict[str, str]:
    def bad(why: str) -> ModelIntegrityError:
        return ModelIntegrityError(f"Cannot read checksums manifest {str(path)!r}: {why}")

    if path.stat().st_size > _MAX_MANIFEST_BYTES:
        raise bad("too large")
    try:
        body = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad(f"not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise bad("not a JSON object")
    if body.get("format_version") != FORMAT_VERSION:
        raise bad(f"format_version {body.get('format_version')!r}, expected {FORMAT_VERSION}")
    if body.get("algorithm") != ALGORITHM:
        raise bad(f"algorithm {body.get('algorithm')!r}, expected {ALGORITHM!r}")
    files = body.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(v, str) and _HEX.fullmatch(v) for v in files.values()
    ):
        raise bad("'files' should map paths to SHA-256 hex digests")
    return files


def _refuse_link(root: str, full: str, *, directory: bool) -> None:
    target = os.path.realpath(full)
    rel = Path(os.path.relpath(full, root)).as_posix()
    if os.path.commonpath([root, target]) != root:
        raise ModelIntegrityError(f"{rel!r} is a symlink leading outside the model directory")
    if directory:
        # Following it could loop, or checksum the same files under two names.
        raise ModelIntegrityError(f"{rel!r} is a symlinked directory; not supported")


def _file_sha256(root: str, full: str, rel: str) -> str:
    if os.path.islink(full):
        _refuse_link(root, full, directory=False)
        full = os.path.realpath(full)
    # O_NOFOLLOW: a file swapped for a symlink after the check is not followed; O_NONBLOCK:
    # opening a named pipe does not hang (it is refused below).
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(full, flags | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise ModelIntegrityError(f"Cannot read {rel!r}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ModelIntegrityError(f"{rel!r} is not a regular file")
        # file_digest reads through one fixed buffer: memory stays flat for any file size.
        return hashlib.file_digest(f, ALGORITHM).hexdigest()


def _names(paths: tuple[str, ...]) -> str:
    shown = ", ".join(repr(p) for p in paths[:_LISTED])
    more = len(paths) - _LISTED
    return shown + (f" and {more} more" if more > 0 else "")
