"""Shared fixtures: real databases for every store test.

`store` runs a test against SQLite, PostgreSQL and MariaDB/MySQL, each with a fresh, empty
database. The servers are the real ones on this machine (see DEVELOPERS.md); where one is not
running the test is skipped with the reason, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

POSTGRES_URI = os.environ.get(
    "CAIRN_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test"
)
MYSQL_URI = os.environ.get("CAIRN_TEST_MYSQL_URI", "mysql://root@127.0.0.1:3306/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ("sqlite", "postgresql", "mysql")


def _reachable(uri: str) -> bool:
    parts = urlsplit(uri)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), 1):
            return True
    except OSError:
        return False


def _require(uri: str, name: str) -> None:
    if _reachable(uri):
        return
    message = f"{name} is not running at {uri}; start it to run the {name} store tests"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: these tests must run, not skip)")
    pytest.skip(message)


_created: set[str] = set()


def _recreate(base_uri: str, name: str, *, create: bool = True) -> None:
    from sqlalchemy import create_engine, text

    from cairn.store.sql.engine import sqlalchemy_url

    admin = create_engine(sqlalchemy_url(base_uri), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if urlsplit(base_uri).scheme.startswith("postgres"):
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            if create:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        else:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            if create:
                conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    admin.dispose()


_migrated: dict[str, object] = {}


def _empty_all_tables(uri: str) -> None:
    """Delete every row but keep the schema: far cheaper than a new database per test."""
    from sqlalchemy import text

    from cairn.store.sql.schema import ALL_TABLES

    engine = _migrated[uri]
    with engine.begin() as conn:  # type: ignore[attr-defined]
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL lock_timeout = '20s'"))
            names = ", ".join(t.name for t in ALL_TABLES)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
            for table in reversed(ALL_TABLES):
                conn.execute(text(f"DELETE FROM `{table.name}`"))
            conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))


def _fresh_server_database(base_uri: str) -> str:
    """An empty Cairn database for one test.

    Each test process has its own database (named after its pid, so parallel workers and
    parallel pytest sessions on the same servers never share one), created and migrated on
    first use, emptied before every later test, and dropped when the session ends.
    """
    from sqlalchemy import create_engine

    from cairn.store.sql.engine import sqlalchemy_url
    from cairn.store.sql.migrations import upgrade
    from cairn.store.sql.store import SqlTrackingStore

    # Stores cache metric-name ids; a store kept from an earlier test would now be wrong.
    for cached in SqlTrackingStore._cache.values():
        cached.close()
    SqlTrackingStore._cache.clear()
    name = f"cairn_test_{os.getpid()}"
    uri = urlsplit(base_uri)._replace(path=f"/{name}").geturl()
    if uri in _migrated:
        _empty_all_tables(uri)
    else:
        _recreate(base_uri, name)
        upgrade(uri)
        _migrated[uri] = create_engine(sqlalchemy_url(uri))
        _created.add(base_uri)
    return uri


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases() -> Iterator[None]:
    yield
    for base_uri in _created:
        from cairn.store.sql.store import SqlTrackingStore

        for store in SqlTrackingStore._cache.values():
            store.close()
        for engine in _migrated.values():
            engine.dispose()  # type: ignore[attr-defined]
        _recreate(base_uri, f"cairn_test_{os.getpid()}", create=False)


def database_uri(backend: str, tmp_path: Path) -> str:
    """A fresh database URI for `backend` (skips or fails when its server is down)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'cairn.db'}"
    if backend == "postgresql":
        _require(POSTGRES_URI, "PostgreSQL")
        return _fresh_server_database(POSTGRES_URI)
    _require(MYSQL_URI, "MariaDB/MySQL")
    return _fresh_server_database(MYSQL_URI)


@pytest.fixture(params=BACKENDS)
def db_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_uri(request.param, tmp_path)


@pytest.fixture
def artifact_root(tmp_path: Path) -> Path:
    root = tmp_path / "artifacts"
    root.mkdir()
    return root


@pytest.fixture
def store(db_uri: str, artifact_root: Path) -> Iterator:
    from cairn.store.sql.store import SqlTrackingStore

    store = SqlTrackingStore(db_uri, str(artifact_root))
    yield store
    store.close()
    SqlTrackingStore._cache.clear()


@pytest.fixture
def sqlite_store(tmp_path: Path, artifact_root: Path) -> Iterator:
    from cairn.store.sql.store import SqlTrackingStore

    store = SqlTrackingStore(f"sqlite:///{tmp_path / 'cairn.db'}", str(artifact_root))
    yield store
    store.close()


@pytest.fixture
def tracking_uri(tmp_path: Path, artifact_root: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite tracking URI, also set as the environment default for the fluent API."""
    uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    monkeypatch.setenv("CAIRN_TRACKING_URI", uri)
    monkeypatch.setenv("CAIRN_ARTIFACT_ROOT", str(artifact_root))
    return uri


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """One real `cairn server` subprocess (SQLite + local artifacts) per test process.

    Tests share it, so each should create its own experiments (unique names) rather than
    assume an empty server.
    """
    from tests.server_process import start_server

    server = start_server(tmp_path_factory.mktemp("live-server"))
    yield server
    server.stop()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator:
    """Start servers with custom options: `server_factory("--no-serve-artifacts")`."""
    from tests.server_process import ServerProcess, start_server

    started: list[ServerProcess] = []

    def start(*args: str, backend_uri: str | None = None, **kw: object) -> ServerProcess:
        workdir = tmp_path / f"server-{len(started)}"
        server = start_server(workdir, *args, backend_uri=backend_uri, **kw)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
