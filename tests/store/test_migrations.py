"""Schema migrations: created on first use, checked on every start, upgraded on request."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from cairn.exceptions import CairnException
from cairn.store.sql.engine import make_engine, sqlalchemy_url
from cairn.store.sql.migrations import HEAD, current_revision, ensure_current, upgrade
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
