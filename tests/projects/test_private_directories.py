"""Security corpus §9: temporary and cache directories Cairn creates are private (0700),
whatever the umask, so another local user can neither plant code in a cached environment
nor read what a run downloaded."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cairn.artifacts import LocalArtifactRepository
from cairn.projects import env_cache
from cairn.projects.execution import _storage


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: whatever stays private is private by Cairn's choice."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_the_environment_cache_is_private(
    open_umask: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAIRN_ENV_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def build(env_dir: Path) -> dict[str, Any]:
        env_dir.mkdir(mode=0o700)
        return {}

    env_dir, built = env_cache.get_or_build("k", build, "test")
    assert built
    root = tmp_path / "xdg" / "cairn" / "envs"
    for directory in (tmp_path / "xdg", tmp_path / "xdg" / "cairn", root, env_dir.parent):
        assert mode(directory) == 0o700, directory
    # Files inside follow the umask, but no other user can reach them: every directory on
    # the way is private.
    for path in root.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            assert mode(path) == 0o700, path


def test_an_existing_cache_root_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A configured root may be shared on purpose; Cairn does not change its mode."""
    root = tmp_path / "shared"
    root.mkdir()
    root.chmod(0o750)
    monkeypatch.setenv("CAIRN_ENV_CACHE_DIR", str(root))
    env_cache.get_or_build("k", lambda env_dir: env_dir.mkdir() or {}, "test")
    assert mode(root) == 0o750


def test_temporary_directories_are_private(open_umask: None, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / "a.txt").write_text("x")
    downloaded = Path(LocalArtifactRepository(str(store)).download_artifacts())
    try:
        assert mode(downloaded) == 0o700
    finally:
        (downloaded / "a.txt").unlink()
        downloaded.rmdir()
    created: list[Path] = []
    params = _storage(None, created)
    try:
        assert mode(params) == 0o700
    finally:
        params.rmdir()
