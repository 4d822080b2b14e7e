"""Fixtures for the project tests: the sample project, a per-session environment cache, and
the fluent API's isolation (each test in its own directory with a clean environment).

Built environments are cached in one directory per test process, so each distinct
environment is built once per session however many tests run it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.tracking.client import CairnClient
from tests.projects.support import copy_sample
from tests.tracking.conftest import isolated_fluent_state

__all__ = ["isolated_fluent_state"]  # autouse: every test here gets it


@pytest.fixture(scope="session")
def session_env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("env-cache")


@pytest.fixture(autouse=True)
def env_cache(session_env_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment cache every test builds into (shared by the session)."""
    monkeypatch.setenv("CAIRN_ENV_CACHE_DIR", str(session_env_cache))
    for name in ("CAIRN_UV_EXECUTABLE", "CAIRN_CONDA_HOME", "MLFLOW_CONDA_HOME", "CONDA_EXE"):
        monkeypatch.delenv(name, raising=False)
    return session_env_cache


@pytest.fixture
def sample_project(tmp_path: Path) -> Path:
    return copy_sample(tmp_path / "sample")


@pytest.fixture
def client(tracking_uri: str) -> Iterator[CairnClient]:
    """A client on the test's SQLite database (also the default of `cairn.projects.run`)."""
    yield CairnClient(tracking_uri)
