"""Registry fixtures: a registry store over the `store` fixture's database (all three)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cairn.store.sql.registry import SqlRegistryStore


@pytest.fixture
def registry(store: Any) -> SqlRegistryStore:
    return SqlRegistryStore(store)


@pytest.fixture
def model_run(store: Any, tmp_path: Path) -> str:
    """A run whose artifacts hold a small model directory at `model/`."""
    from cairn.artifacts import get_artifact_repository

    run = store.create_run("0")
    files = tmp_path / "model-files"
    (files / "data").mkdir(parents=True)
    (files / "MLmodel").write_text("flavors: {}\n")
    (files / "data" / "weights.bin").write_bytes(b"\x00\x01weights")
    get_artifact_repository(run.info.artifact_uri).log_artifacts(files, "model")
    return str(run.info.run_id)
