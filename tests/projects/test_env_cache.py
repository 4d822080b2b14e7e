"""The environment cache: one build per key, atomic publication, no half-built environments."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from cairn.projects import env_cache


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("CAIRN_ENV_CACHE_DIR", str(root))
    return root


def _builder(calls: list[Path]) -> Any:
    def build(env_dir: Path) -> dict[str, Any]:
        calls.append(env_dir)
        env_dir.mkdir()
        (env_dir / "marker").write_text("built")
        return {"what": "test"}

    return build


def test_default_cache_root_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CAIRN_ENV_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert env_cache.cache_root() == tmp_path / "cairn" / "envs"


def test_built_once_then_reused(cache: Path) -> None:
    calls: list[Path] = []
    first, built = env_cache.get_or_build("k1", _builder(calls), "test")
    assert built and (first / "marker").read_text() == "built"
    again, built_again = env_cache.get_or_build("k1", _builder(calls), "test")
    assert (again, built_again) == (first, False)
    assert len(calls) == 1
    assert (cache / "k1").is_symlink()
    assert first == calls[0]  # used from where it was built (environments are not relocatable)


def test_concurrent_builders_of_one_key_build_once(cache: Path) -> None:
    calls: list[Path] = []
    started = threading.Barrier(4)
    results: list[Path] = []

    def build_one() -> None:
        started.wait()
        results.append(env_cache.get_or_build("k2", _builder(calls), "test")[0])

    threads = [threading.Thread(target=build_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(set(results)) == 1


def test_a_failed_build_leaves_nothing_behind(cache: Path) -> None:
    def failing(env_dir: Path) -> dict[str, Any]:
        env_dir.mkdir()
        raise RuntimeError("pip said no")

    with pytest.raises(RuntimeError, match="pip said no"):
        env_cache.get_or_build("k3", failing, "test")
    assert env_cache.lookup("k3") is None
    assert sorted(p.name for p in cache.iterdir()) == ["k3.lock"]


def test_an_interrupted_build_is_never_used_and_is_cleared_by_the_next(cache: Path) -> None:
    # What a killed builder leaves: a build directory that was never published.
    cache.mkdir()
    leftover = cache / "k4.abandoned"
    (leftover / "env").mkdir(parents=True)
    assert env_cache.lookup("k4") is None
    calls: list[Path] = []
    env_dir, built = env_cache.get_or_build("k4", _builder(calls), "test")
    assert built and not leftover.exists()
    assert os.readlink(cache / "k4") == env_dir.parent.name
