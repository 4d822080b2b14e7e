"""`SqlTrackingStore.data_version`: equal readings mean nothing was committed in between, by
this process or any other; databases that cannot tell cheaply say None."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cairn.entities import RunTag
from cairn.store.sql.store import SqlTrackingStore


def test_reading_changes_nothing(sqlite_store: SqlTrackingStore) -> None:
    first = sqlite_store.data_version()
    assert isinstance(first, int)
    sqlite_store.search_runs(["0"])
    assert sqlite_store.data_version() == first


def test_a_commit_by_the_store_changes_it(sqlite_store: SqlTrackingStore) -> None:
    run = sqlite_store.create_run("0", start_time=1)
    before = sqlite_store.data_version()
    sqlite_store.set_tag(run.info.run_id, RunTag("k", "v"))
    assert sqlite_store.data_version() != before


def test_another_connections_commit_changes_it_not_its_open_transaction(
    sqlite_store: SqlTrackingStore, tmp_path: Path
) -> None:
    before = sqlite_store.data_version()
    other = sqlite3.connect(tmp_path / "cairn.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE experiments SET last_update_time = 2")
    assert sqlite_store.data_version() == before
    other.execute("COMMIT")
    other.close()
    assert sqlite_store.data_version() != before


def test_databases_that_cannot_tell_say_none(store: SqlTrackingStore, artifact_root: Path) -> None:
    if store.dialect == "sqlite":
        memory = SqlTrackingStore("sqlite://", str(artifact_root))
        assert memory.data_version() is None
        memory.close()
    else:
        assert store.data_version() is None
