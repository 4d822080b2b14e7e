"""Shared fixtures: a repository in a temporary directory and a secret lying outside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.artifacts import LocalArtifactRepository


def write(path: Path, content: bytes | str) -> Path:
    """Create `path` (and its parents) holding `content`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def repo(root: Path) -> LocalArtifactRepository:
    return LocalArtifactRepository(root.as_uri())


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the store holding `secret.txt`, which must never be reachable."""
    write(tmp_path / "outside" / "secret.txt", "top secret")
    return tmp_path / "outside"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A local directory tree to upload."""
    top = tmp_path / "source"
    write(top / "model.pkl", b"\x00\x01binary")
    write(top / "conf" / "params.yaml", "lr: 0.1\n")
    write(top / "conf" / "deep" / "nested.txt", "deep")
    return top
