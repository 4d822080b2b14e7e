"""Engines for the three supported databases, and the transaction discipline around them.

SQLite is the embedded default and must stay safe with many writer processes on one file:
WAL mode (readers never block writers), `BEGIN IMMEDIATE` for every write transaction (a
writer takes the lock up front instead of failing when it upgrades from reading), a busy
timeout, short transactions, and a retry loop in `run_write` for the rare lock error that gets
through anyway. PostgreSQL and MySQL retry on deadlocks and serialization failures the same way.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool

from cairn import settings
from cairn.exceptions import InvalidParameterValue, TemporarilyUnavailable

T = TypeVar("T")

# Per-connection busy wait; the outer retry loop covers the rest of the budget.
_SQLITE_BUSY_MS = 5000
_READ_ONLY = "cairn_read_only"
# How long a write waits for the process's other writes to SQLite (see `SqliteWriter`).
_WRITER_WAIT_SECONDS = 60.0


def sqlalchemy_url(uri: str) -> str:
    """Map a user-facing URI to the SQLAlchemy URL with Cairn's chosen driver."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise InvalidParameterValue(f"Not a database URI: {uri!r}")
    base = scheme.split("+", 1)[0].lower()
    if base == "sqlite":
        return uri
    if base in ("postgresql", "postgres"):
        driver = scheme if "+" in scheme else "postgresql+psycopg"
        return f"{driver.replace('postgres+', 'postgresql+')}://{rest}"
    if base in ("mysql", "mariadb"):
        driver = scheme if "+" in scheme else "mysql+pymysql"
        url = f"{driver.replace('mariadb+', 'mysql+')}://{rest}"
        if "charset=" not in url:
            url += ("&" if "?" in url else "?") + "charset=utf8mb4"
        return url
    raise InvalidParameterValue(
        f"Unsupported database URI {uri!r}: use sqlite:///path, postgresql://… or mysql://…"
    )


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite URI, or None for an in-memory database."""
    path = uri.split("://", 1)[1].split("?", 1)[0]
    path = path[1:] if path.startswith("/") else path
    if path in ("", ":memory:"):
        return None
    return Path(path)


def make_engine(uri: str) -> Engine:
    url = sqlalchemy_url(uri)
    if url.startswith("sqlite"):
        return _sqlite_engine(uri, url)
    pool_size = settings.SQL_POOL_SIZE.get_int(minimum=1)
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True)


def _sqlite_engine(uri: str, url: str) -> Engine:
    path = sqlite_path(uri)
    if path is None:
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": _SQLITE_BUSY_MS / 1000, "check_same_thread": False}
        )

    synchronous = sqlite_synchronous()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite: we issue BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_MS}")
        if path is not None:
            cur.execute("PRAGMA journal_mode = WAL")
        cur.execute(f"PRAGMA synchronous = {synchronous}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA case_sensitive_like = ON")  # LIKE is case-sensitive everywhere
        cur.close()

    def _begin(dbapi_conn: Any) -> None:
        read_only = dbapi_conn.info.pop(_READ_ONLY, False)  # set by read_transaction
        driver = dbapi_conn.driver_connection
        if driver.in_transaction:  # begun by SqliteWriter itself: SQLAlchemy joins it
            return
        driver.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")

    # The dialect's own do_begin does nothing. Replacing it (rather than listening for the
    # "begin" event) keeps the engine free of Connection events, whose dispatch SQLAlchemy
    # otherwise pays on every connect, begin and commit: ~18 µs a transaction.
    engine.dialect.do_begin = _begin  # type: ignore[method-assign, assignment]
    return engine


class DataVersion:
    """SQLite's `PRAGMA data_version`, read on a connection of its own.

    The number changes whenever another connection commits to the file (this process's or
    any other's; a checkpoint changes it too). The connection never writes, so two equal
    readings mean nothing was committed in between: a result read after the first reading
    is still what the database holds at the second (see `cairn.server.readahead`).
    """

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(
            path, timeout=_SQLITE_BUSY_MS / 1000, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _is_retryable(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    if "database is locked" in text or "database is busy" in text:
        return True
    code = getattr(exc.orig, "sqlstate", None) or ""
    if code in ("40001", "40P01"):  # PostgreSQL serialization failure, deadlock
        return True
    args: tuple[Any, ...] = tuple(getattr(exc.orig, "args", ()))
    return bool(args) and args[0] in (1213, 1205)  # MySQL deadlock, lock wait timeout


def sqlite_synchronous() -> str:
    """SQLite's `synchronous` level: NORMAL (default) or FULL, from CAIRN_SQLITE_SYNCHRONOUS.

    In WAL mode both keep every acknowledged commit through a crash or kill of any process;
    FULL also survives power loss, at the price of an fsync (~1 ms) per commit.
    """
    value = (settings.SQLITE_SYNCHRONOUS.get() or "NORMAL").strip().upper()
    if value not in ("NORMAL", "FULL"):
        raise InvalidParameterValue(
            f"CAIRN_SQLITE_SYNCHRONOUS must be NORMAL or FULL, not {value!r}"
        )
    return value


def driver_execute(conn: Connection, sql: str, params: Any = (), *, many: bool = False) -> Any:
    """Run `sql` (in the driver's paramstyle) on the DBAPI cursor of `conn`; return the cursor.

    For the few statements every metric write runs: SQLAlchemy's per-statement machinery costs
    ~25 µs, ten times what SQLite takes to execute them. Driver errors are wrapped exactly as
    SQLAlchemy wraps them, so `run_write` still retries locks and deadlocks.
    """
    dbapi = conn.dialect.loaded_dbapi
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, params, exc, dbapi.Error) from exc
    return cursor


class Checkpointer:
    """Copies an SQLite file's write-ahead log into the database in a thread of its own.

    SQLite does this itself on the commit that takes the log past 1,000 pages, and that commit
    then waits for the copy and an fsync (3,000 pages took 13-17 ms here), once every few
    hundred `log_metric`s. `SqliteWriter` turns that off on its connection (leaving a far
    limit as a backstop) and wakes this thread every `EVERY` commits instead; a PASSIVE
    checkpoint neither waits for nor blocks readers and writers, and the driver releases the
    interpreter's lock meanwhile.
    """

    EVERY = 100  # commits between checkpoints: a few hundred pages of log at most
    BACKSTOP_PAGES = 20_000  # the writer's own limit, should this thread fall behind

    def __init__(self, path: Path) -> None:
        self._path = path
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.done = 0  # checkpoints run, for tests and curiosity

    def wake(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="cairn-sqlite-checkpoint", daemon=True
            )
            self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        conn = sqlite3.connect(
            self._path,
            timeout=_SQLITE_BUSY_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.done += 1
                except sqlite3.Error:  # busy or gone: the next wake tries again
                    continue
        finally:
            conn.close()


class SqliteWriter:
    """One long-lived connection that all of a process's writes to an SQLite file go through.

    SQLite admits one writer at a time, so writers in one process lose nothing by taking turns
    on a lock here instead of on the database's own lock, and each write skips the pool's
    checkout and return and a new `Connection` (~20 µs of a ~90 µs `log_metric`). Other
    processes still wait on the database's lock and busy timeout. Reads keep using the pool.
    The write-ahead log is checkpointed by a `Checkpointer`, off the writes' path.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.lock = threading.Lock()
        self.conn: Connection | None = None
        self.checkpointer = None if path is None else Checkpointer(path)
        self._commits = 0

    @contextmanager
    def transaction(self, engine: Engine, wait: float) -> Iterator[Connection]:
        if not self.lock.acquire(timeout=wait):
            raise TemporarilyUnavailable(
                f"Another write held the database for {wait:.0f} s; try again later."
            )
        try:
            conn = self.conn
            if conn is None or conn.closed or conn.invalidated:
                conn = self.conn = engine.connect()
                if self.checkpointer is not None:
                    pages = Checkpointer.BACKSTOP_PAGES
                    driver_execute(conn, f"PRAGMA wal_autocheckpoint = {pages}")
            try:
                # BEGIN and COMMIT on the driver: SQLAlchemy's transaction object cost ~6 µs
                # of a ~58 µs log_metric. If `work` runs SQLAlchemy statements, SQLAlchemy
                # begins its own transaction on the first one, which joins this (`_begin`),
                # and its commit or rollback ends both.
                driver_execute(conn, "BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    self._roll_back(conn)
                    raise
                if conn.in_transaction():
                    conn.commit()
                else:
                    driver_execute(conn, "COMMIT")
                self._committed()
            except (OperationalError, DBAPIError):
                self.close()  # whatever state the driver is in, the next write starts afresh
                raise
        finally:
            self.lock.release()

    def _committed(self) -> None:
        self._commits += 1
        if self._commits >= Checkpointer.EVERY and self.checkpointer is not None:
            self._commits = 0
            self.checkpointer.wake()

    def _roll_back(self, conn: Connection) -> None:
        """End the transaction a write failed in, whoever began it; if even that fails, drop
        the connection (closing it rolls back)."""
        try:
            if conn.in_transaction():
                conn.rollback()
            elif conn.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
                driver_execute(conn, "ROLLBACK")
        except Exception:
            self.close()

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


_writers: weakref.WeakKeyDictionary[Engine, SqliteWriter] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def sqlite_writer(engine: Engine) -> SqliteWriter:
    writer = _writers.get(engine)
    if writer is None:
        with _writers_lock:
            writer = _writers.get(engine)
            if writer is None:
                database = engine.url.database or ":memory:"
                plain = database != ":memory:" and not database.startswith("file:")
                path = Path(database) if plain else None  # URI filenames: no checkpointer
                writer = _writers[engine] = SqliteWriter(path)
    return writer


def dispose(engine: Engine) -> None:
    """Close the engine's connections, its SQLite writer's included."""
    writer = _writers.pop(engine, None)
    if writer is not None:
        with writer.lock:
            writer.close()
        if writer.checkpointer is not None:
            writer.checkpointer.stop()
    engine.dispose()


def run_write(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run `work` in one write transaction, retrying it whole on lock and deadlock errors.

    `work` must be safe to re-run: it sees a fresh transaction each time.
    """
    start = time.monotonic()
    delay = 0.005
    writer = sqlite_writer(engine) if engine.dialect.name == "sqlite" else None
    while True:
        try:
            if writer is not None:
                with writer.transaction(engine, _WRITER_WAIT_SECONDS) as conn:
                    return work(conn)
            with engine.begin() as conn:
                return work(conn)
        except (OperationalError, DBAPIError) as exc:
            if not _is_retryable(exc):
                raise
            # Read here, not per call: the environment lookup costs ~2 µs of every write.
            budget = settings.SQL_BUSY_TIMEOUT.get_float()
            if time.monotonic() - start >= budget:
                raise TemporarilyUnavailable(
                    f"The database stayed locked for {budget:.0f} s; try again later."
                ) from exc
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.5)


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a read transaction (a deferred one on SQLite: it takes no write lock)."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.connection.info[_READ_ONLY] = True  # for _sqlite_engine's BEGIN
        with conn.begin():
            yield conn


def run_read(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run `work` in a read transaction."""
    with read_transaction(engine) as conn:
        return work(conn)
