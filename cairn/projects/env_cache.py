"""The cache of built environments: built once per key, published atomically, reused after.

Layout under the cache root (CAIRN_ENV_CACHE_DIR, default ~/.cache/cairn/envs):

    <key>            symlink to the finished build, created in one step (the publish)
    <key>.<random>/  a build: env/ (the environment) and cairn-env.json (written last)
    <key>.lock       serialises builders of the same key

Directories the cache creates (the root and its missing parents, each build) are mode 0700.

Environments are not relocatable (scripts' shebangs name their absolute path), so a build
happens in the directory it will be used from and is published by creating the symlink
atomically. A build that is interrupted never gets a symlink and is removed by the next
builder of that key (which holds the lock, so no build is in progress). Readers never lock:
they follow a published symlink, which always points at a complete environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cairn import settings

READY_FILE = "cairn-env.json"
ENV_DIR = "env"


def cache_root() -> Path:
    configured = settings.ENV_CACHE_DIR.get()
    if configured:
        return Path(configured).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return (base / "cairn" / "envs").resolve()


def lookup(key: str) -> Path | None:
    """The environment directory published under `key`, if there is a complete one."""
    published = cache_root() / key
    if (published / READY_FILE).is_file() and (published / ENV_DIR).is_dir():
        return published.resolve() / ENV_DIR
    return None


def get_or_build(
    key: str, build: Callable[[Path], dict[str, Any]], describe: str
) -> tuple[Path, bool]:
    """The environment for `key` and whether it was built now.

    `build(env_dir)` creates the environment at `env_dir` (which does not exist yet) and
    returns facts to record in cairn-env.json. It runs at most once per key at a time.
    """
    found = lookup(key)
    if found is not None:
        print(f"cairn: using cached environment {describe}", file=sys.stderr, flush=True)
        return found, False
    root = cache_root()
    private_directory(root)
    with _locked(root / f"{key}.lock"):
        found = lookup(key)
        if found is not None:  # another process built it while we waited
            print(f"cairn: using cached environment {describe}", file=sys.stderr, flush=True)
            return found, False
        _remove_unfinished(root, key)
        print(f"cairn: building environment {describe} in {root}", file=sys.stderr, flush=True)
        started = time.monotonic()
        build_dir = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=root))
        try:
            facts = build(build_dir / ENV_DIR)
            record = {**facts, "key": key, "built_at": time.time()}
            (build_dir / READY_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
            _publish(root, key, build_dir)
        except BaseException:
            shutil.rmtree(build_dir, ignore_errors=True)
            raise
        print(
            f"cairn: environment built in {time.monotonic() - started:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return build_dir.resolve() / ENV_DIR, True


def private_directory(path: Path) -> None:
    """Create `path` and its missing parents with mode 0700, whatever the umask.

    The cache holds interpreters and packages that runs execute: another user who could
    write there (or read a token from a build log) could run code as the owner. Directories
    that already exist are left as they are: the configured root may be shared on purpose.
    """
    missing = []
    for directory in (path, *path.parents):
        if directory.exists():
            break
        missing.append(directory)
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another builder made it meanwhile
            directory.mkdir(mode=0o700)
            os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
    if not path.is_dir():
        raise NotADirectoryError(path)


def _publish(root: Path, key: str, build_dir: Path) -> None:
    published = root / key
    if published.is_dir() and not published.is_symlink():
        shutil.rmtree(published)  # not ours: a cache left by something else
    link = root / f".{key}.link-{uuid.uuid4().hex}"
    os.symlink(build_dir.name, link)  # relative: the cache root may be moved whole
    os.replace(link, published)


def _remove_unfinished(root: Path, key: str) -> None:
    """Builds of `key` that never got published (interrupted, or superseded)."""
    published = root / key
    current = published.resolve() if published.is_symlink() else None
    for candidate in root.glob(f"{key}.*"):
        if candidate.is_dir() and not candidate.is_symlink() and candidate != current:
            shutil.rmtree(candidate, ignore_errors=True)
    for link in root.glob(f".{key}.link-*"):
        with contextlib.suppress(OSError):
            link.unlink()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: builds of one key may race; the last publish wins
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
