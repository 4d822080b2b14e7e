"""Schema migrations: created on first use, checked on every start, upgraded on request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from cairn.exceptions import CairnException
from cairn.store.sql.engine import make_engine, sqlalchemy_url
from cairn.store.sql.migrations import (
    HEAD,
    current_revision,
    ensure_current,
    sqlite_snapshot,
    upgrade,
)
from cairn.store.sql.store import SqlTrackingStore


def test_a_fresh_database_is_created_on_first_use(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'new.db'}"
    store = SqlTrackingStore(uri, str(tmp_path))
    assert current_revision(store.engine) == HEAD
    assert store.get_experiment("0").name == "Default"


def test_upgrade_is_idempotent_and_reports_the_revision(db_uri: str) -> None:
    assert upgrade(db_uri) == HEAD
    assert upgrade(db_uri) == HEAD


def test_an_outdated_schema_is_refused_with_the_command_to_run(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(uri)
    engine = make_engine(uri)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(CairnException, match="cairn db upgrade"):
        ensure_current(engine)


def test_a_database_with_foreign_tables_is_not_touched(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'foreign.db'}"
    foreign = create_engine(sqlalchemy_url(uri))
    with foreign.begin() as conn:
        conn.execute(text("CREATE TABLE experiments (id INTEGER PRIMARY KEY, note TEXT)"))
    foreign.dispose()
    with pytest.raises(CairnException, match="did not create"):
        SqlTrackingStore(uri, str(tmp_path))


def test_unknown_uri_schemes_are_rejected() -> None:
    from cairn.exceptions import InvalidParameterValue

    with pytest.raises(InvalidParameterValue, match="Unsupported"):
        sqlalchemy_url("oracle://host/db")
    with pytest.raises(InvalidParameterValue):
        sqlalchemy_url("not a uri")


@pytest.mark.parametrize(
    "uri, url",
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("mysql://u@h/db", "mysql+pymysql://u@h/db?charset=utf8mb4"),
        ("mysql+pymysql://u@h/db?charset=latin1", "mysql+pymysql://u@h/db?charset=latin1"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_uri_schemes_map_to_the_chosen_drivers(uri: str, url: str) -> None:
    assert sqlalchemy_url(uri) == url


def test_an_unreachable_database_is_a_clear_error() -> None:
    from cairn.exceptions import TemporarilyUnavailable

    with pytest.raises(TemporarilyUnavailable, match="Cannot connect to the database"):
        SqlTrackingStore("postgresql://postgres@127.0.0.1:1/nowhere", "/tmp")


def _schema(uri: str) -> list[tuple[object, ...]]:
    engine = create_engine(sqlalchemy_url(uri))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")
            ).all()
            version = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    return [tuple(r) for r in rows] + [tuple(v) for v in version]


def test_a_new_sqlite_database_from_the_snapshot_has_the_migrations_schema(
    tmp_path: Path,
) -> None:
    """If this fails after adding a migration, run
    `python -m cairn.store.sql.migrations.sqlite_snapshot` and commit sqlite_head.sql."""
    migrated = f"sqlite:///{tmp_path / 'migrated.db'}"
    upgrade(migrated)  # Alembic, always
    assert sqlite_snapshot.read_snapshot()[0] == HEAD
    from_snapshot = f"sqlite:///{tmp_path / 'snapshot.db'}"
    engine = make_engine(from_snapshot)
    try:
        assert sqlite_snapshot.create_from_snapshot(engine, HEAD)
        ensure_current(engine)
    finally:
        engine.dispose()
    assert _schema(from_snapshot) == _schema(migrated)


def test_a_snapshot_at_another_revision_is_not_used(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'new.db'}"
    engine = make_engine(uri)
    try:
        assert not sqlite_snapshot.create_from_snapshot(engine, "9999")
        assert current_revision(engine) is None  # nothing was created
    finally:
        engine.dispose()


def test_processes_opening_one_new_sqlite_file_at_once_all_get_the_schema(
    tmp_path: Path,
) -> None:
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    script = (
        "import sys\n"
        "from cairn.store.sql.store import SqlTrackingStore\n"
        "store = SqlTrackingStore(sys.argv[1], sys.argv[2])\n"
        "print(store.get_experiment('0').name)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, uri, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outputs
    assert all(out.strip() == "Default" for out, _ in outputs)
    store = SqlTrackingStore(uri, str(tmp_path))
    assert current_revision(store.engine) == HEAD
    assert [e.name for e in store.search_experiments()] == ["Default"]


def test_the_registry_revision_upgrades_a_tracking_database_in_place(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'v1.db'}"
    assert upgrade(uri, "0001") == "0001"
    engine = make_engine(uri)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO experiments (experiment_id, name, artifact_location, "
                "lifecycle_stage, creation_time, last_update_time) "
                "VALUES (7, 'kept', '/a', 'active', 1, 1)"
            )
        )
    engine.dispose()
    assert upgrade(uri) == HEAD == "0008"
    store = SqlTrackingStore(uri, str(tmp_path))
    assert store.get_experiment("7").name == "kept"
    from cairn.store.sql.registry import SqlRegistryStore

    assert SqlRegistryStore(store).create_registered_model("m").name == "m"


def test_the_governance_revision_upgrades_a_registry_database_in_place(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'v2.db'}"
    assert upgrade(uri, "0002") == "0002"
    engine = make_engine(uri)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO registered_models (model_pk, name, name_key, creation_timestamp, "
                "last_updated_timestamp, description, user_id, next_version) "
                "VALUES (1, 'kept', 'kept', 1, 1, '', '', 1)"
            )
        )
    engine.dispose()
    assert upgrade(uri) == HEAD == "0008"
    from cairn.store.sql.registry import SqlRegistryStore

    registry = SqlRegistryStore(SqlTrackingStore(uri, str(tmp_path)))
    registry.set_registered_model_tag("kept", "k", "v")
    assert [e.action for e in registry.list_audit_entries("kept")] == ["SET_TAG"]
