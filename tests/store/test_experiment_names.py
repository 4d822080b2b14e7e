"""Experiment names (security corpus §4): no surrounding whitespace or invisible characters,
and no look-alike of an existing name — the registered models' rules, on every backend, and
revision 0008 on databases that already hold look-alikes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text

from cairn.exceptions import InvalidParameterValue, ResourceAlreadyExists
from cairn.store.sql.engine import sqlalchemy_url
from cairn.store.sql.migrations import HEAD, upgrade
from cairn.store.sql.store import SqlTrackingStore
from cairn.store.validation import experiment_name_key
from tests.conftest import BACKENDS, MYSQL_URI, POSTGRES_URI, _recreate, _require

LOOK_ALIKES = [
    "team alpha",
    "TEAM ALPHA",
    "Team Alpha".replace("a", "\u0430"),  # Cyrillic small a
    "\uff34eam Alpha",  # fullwidth T
    "Team \u0391lpha",  # Greek capital alpha
    "\u0422eam Alpha",  # Cyrillic capital te
    "Te\u0430m Alph\u03b1",
]


@pytest.mark.parametrize("name", [" x", "x ", "x\t", "\u00a0x", "a\u200bb", "a\x00b", "a\nb"])
def test_invisible_differences_are_refused(store: Any, name: str) -> None:
    with pytest.raises(InvalidParameterValue, match="experiment name"):
        store.create_experiment(name)
    experiment_id = store.create_experiment("plain")
    with pytest.raises(InvalidParameterValue, match="experiment name"):
        store.rename_experiment(experiment_id, name)
    assert store.get_experiment(experiment_id).name == "plain"


def test_look_alikes_of_an_existing_name_are_refused(store: Any) -> None:
    store.create_experiment("Team Alpha")
    for name in LOOK_ALIKES:
        with pytest.raises(ResourceAlreadyExists, match="too similar to the existing experiment"):
            store.create_experiment(name)
    with pytest.raises(ResourceAlreadyExists, match="already exists"):
        store.create_experiment("Team Alpha")
    for name in ("default", "DEFAULT", "\uff24efault", "D\u0435fault"):  # Cyrillic e
        with pytest.raises(ResourceAlreadyExists, match="'Default'"):
            store.create_experiment(name)
    names = sorted(e.name for e in store.search_experiments())
    assert names == ["Default", "Team Alpha"]


def test_renames_follow_the_same_rule(store: Any) -> None:
    store.create_experiment("Team Alpha")
    other = store.create_experiment("Team Beta")
    for name in LOOK_ALIKES:
        with pytest.raises(ResourceAlreadyExists, match="too similar"):
            store.rename_experiment(other, name)
    # An experiment may change the case of its own name.
    store.rename_experiment(other, "TEAM BETA")
    assert store.get_experiment(other).name == "TEAM BETA"
    # After a rename the old name is free again, under any spelling.
    store.rename_experiment(other, "Team Gamma")
    again = store.create_experiment("team beta".replace("e", "\u0435", 1))
    assert store.get_experiment(again).name == "t\u0435am beta"


def test_deleted_experiments_keep_their_names(store: Any) -> None:
    gone = store.create_experiment("Archived")
    store.delete_experiment(gone)
    with pytest.raises(ResourceAlreadyExists, match="too similar"):
        store.create_experiment("ARCHIVED")


def test_names_are_data_not_paths(store: Any) -> None:
    for name in ("/Shared/team/x", "/Shared/team/x/../y", "a%2Fb", "100%", "C:\\x"):
        experiment_id = store.create_experiment(name)
        assert store.get_experiment_by_name(name).experiment_id == experiment_id
    with pytest.raises(ResourceAlreadyExists):
        store.create_experiment("/shared/TEAM/x")


# -- revision 0008 on existing data -------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own at revision 0007 (the shared test databases are at HEAD)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    base = POSTGRES_URI if request.param == "postgresql" else MYSQL_URI
    _require(base, request.param)
    name = f"cairn_names_{os.getpid()}"
    _recreate(base, name)
    try:
        yield urlsplit(base)._replace(path=f"/{name}").geturl()
    finally:
        for cached in SqlTrackingStore._cache.values():
            cached.close()
        SqlTrackingStore._cache.clear()
        _recreate(base, name, create=False)


def test_the_migration_keeps_existing_look_alikes(old_database: str, tmp_path: Path) -> None:
    assert upgrade(old_database, "0007") == "0007"
    engine = create_engine(sqlalchemy_url(old_database))
    rows = [(2, "Default"), (3, "other"), (5, "default"), (7, "\uff24efault"), (9, "DEFAULT")]
    with engine.begin() as conn:
        for experiment_id, name in rows:
            conn.execute(
                text(
                    "INSERT INTO experiments (experiment_id, name, artifact_location, "
                    "lifecycle_stage, creation_time, last_update_time) "
                    "VALUES (:id, :name, '/a', 'active', 1, 1)"
                ),
                {"id": experiment_id, "name": name},
            )
        # Registered models keyed as revision 0002 folded them: a Greek capital nu became a
        # small nu, then "v", so this look-alike of "Name" was let in.
        for model_pk, name, key in ((1, "\u039dame", "vame"), (2, "Name", "name"), (3, "x", "x")):
            conn.execute(
                text(
                    "INSERT INTO registered_models (model_pk, name, name_key, "
                    "creation_timestamp, last_updated_timestamp, description, user_id, "
                    "next_version) VALUES (:pk, :name, :key, 1, 1, '', '', 1)"
                ),
                {"pk": model_pk, "name": name, "key": key},
            )
    assert upgrade(old_database) == HEAD == "0008"
    with engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT experiment_id, name_key FROM experiments")).all())
        model_keys = dict(conn.execute(text("SELECT name, name_key FROM registered_models")).all())
    assert model_keys == {"\u039dame": "name", "Name": "name\x1f2", "x": "x"}
    engine.dispose()
    default_key = experiment_name_key("Default")
    assert keys == {
        2: default_key,
        3: experiment_name_key("other"),
        5: f"{default_key}\x1f5",
        7: f"{default_key}\x1f7",
        9: f"{default_key}\x1f9",
    }

    store = SqlTrackingStore(old_database, str(tmp_path))
    try:
        assert {e.name for e in store.search_experiments()} == {name for _, name in rows}
        assert store.get_experiment_by_name("default").experiment_id == "5"
        # The group's oldest member holds the key: new look-alikes are refused...
        with pytest.raises(ResourceAlreadyExists, match="'Default'"):
            store.create_experiment("dEfault")
        # ...and a later member may leave the group but not come back.
        store.rename_experiment("5", "default-old")
        with pytest.raises(ResourceAlreadyExists, match="'Default'"):
            store.rename_experiment("5", "default")
        store.rename_experiment("9", "DEFAULT 2")
        assert store.get_experiment("9").name == "DEFAULT 2"
        from cairn.store.sql.registry import SqlRegistryStore

        registry = SqlRegistryStore(store)
        assert registry.get_registered_model("Name").name == "Name"
        with pytest.raises(ResourceAlreadyExists, match="too similar"):
            registry.create_registered_model("NAME")
    finally:
        store.close()
