"""Several processes registering versions of one model at once, on each database: the
numbers are exactly 1..N (the threaded variant is in test_registry_versions.py)."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

from cairn.store.sql.registry import SqlRegistryStore
from cairn.store.sql.store import SqlTrackingStore

PROCESSES = 3
EACH = 4


def _register(db_uri: str, root: str, source: str) -> list[str]:
    tracking = SqlTrackingStore(db_uri, root)
    registry = SqlRegistryStore(tracking)
    got = [registry.create_model_version("shared", source).version for _ in range(EACH)]
    tracking.close()
    return got


def test_processes_get_one_to_n_without_gaps_or_duplicates(
    db_uri: str, artifact_root: Path, store: Any, model_run: str
) -> None:
    registry = SqlRegistryStore(store)
    registry.create_registered_model("shared")
    source = f"runs:/{model_run}/model"
    with mp.get_context("spawn").Pool(PROCESSES) as pool:
        results = pool.starmap(_register, [(db_uri, str(artifact_root), source)] * PROCESSES)
    numbers = sorted(int(v) for got in results for v in got)
    assert numbers == list(range(1, PROCESSES * EACH + 1))
    stored = registry.search_model_versions("name = 'shared'", order_by=["version_number ASC"])
    assert [int(v.version) for v in stored] == numbers
    assert len({v.storage_location for v in stored}) == len(numbers)  # one copy each
