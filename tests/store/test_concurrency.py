"""Eight processes writing to one SQLite file at once: no "database is locked", nothing lost."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from cairn.store.sql.store import SqlTrackingStore

WRITERS = 8
BATCHES = 25
POINTS = 40


def _writer(db_uri: str, root: str, shared_run: str, index: int) -> str:
    from cairn.entities import Metric, Param, RunTag

    store = SqlTrackingStore(db_uri, root)
    own = store.create_run("0", user_id=f"writer-{index}").info.run_id
    for b in range(BATCHES):
        points = [Metric("loss", float(i), b, b * POINTS + i) for i in range(POINTS)]
        store.log_batch(own, metrics=points, params=[Param(f"p{b}", str(b))])
        # Everyone also writes to one shared run: same rows, so writers truly collide.
        store.log_batch(
            shared_run,
            metrics=[Metric(f"w{index}", float(b), b, b)],
            tags=[RunTag(f"w{index}.last", str(b))],
        )
    store.close()
    return own


def test_eight_processes_share_one_sqlite_file(tmp_path: Path) -> None:
    db_uri = f"sqlite:///{tmp_path / 'shared.db'}"
    root = str(tmp_path / "artifacts")
    shared = SqlTrackingStore(db_uri, root).create_run("0").info.run_id
    ctx = mp.get_context("spawn")
    with ctx.Pool(WRITERS) as pool:
        own_runs = pool.starmap(_writer, [(db_uri, root, shared, i) for i in range(WRITERS)])

    store = SqlTrackingStore(db_uri, root)
    for run_id in own_runs:
        history = store.get_metric_history(run_id, "loss")
        assert len(history) == BATCHES * POINTS
        assert len(store.get_run(run_id).data.params) == BATCHES
    data = store.get_run(shared).data
    for i in range(WRITERS):
        assert len(store.get_metric_history(shared, f"w{i}")) == BATCHES
        assert data.tags[f"w{i}.last"] == str(BATCHES - 1)
        assert data.metrics[f"w{i}"] == BATCHES - 1


def _open_fresh(db_uri: str, root: str) -> str:
    return SqlTrackingStore(db_uri, root).get_experiment("0").name


def test_many_processes_creating_a_fresh_database_at_once(tmp_path: Path) -> None:
    db_uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    ctx = mp.get_context("spawn")
    with ctx.Pool(WRITERS) as pool:
        names = pool.starmap(_open_fresh, [(db_uri, str(tmp_path))] * WRITERS)
    assert names == ["Default"] * WRITERS


def test_threads_writing_to_one_run_on_every_database(store) -> None:
    """Eight threads, one run, the same new metric names: nothing lost, no error leaks."""
    from concurrent.futures import ThreadPoolExecutor

    from cairn.entities import Metric, Param, RunTag

    run_id = store.create_run("0").info.run_id

    def write(index: int) -> None:
        for b in range(10):
            store.log_batch(
                run_id,
                metrics=[
                    Metric("shared", float(index), b, index * 100 + b),
                    Metric(f"own{index}", float(b), b, b),
                ],
                params=[Param(f"p{index}.{b}", str(b)), Param("same", "1")],
                tags=[RunTag(f"t{index}", str(b))],
            )

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(write, range(WRITERS)))

    data = store.get_run(run_id).data
    assert len(store.get_metric_history(run_id, "shared")) == WRITERS * 10
    assert data.metrics["shared"] == float(WRITERS - 1)  # greatest step wins
    for i in range(WRITERS):
        assert len(store.get_metric_history(run_id, f"own{i}")) == 10
        assert data.tags[f"t{i}"] == "9"
    assert len(data.params) == WRITERS * 10 + 1


def test_run_write_retries_a_lock_error_until_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A locked database is retried; past CAIRN_SQL_BUSY_TIMEOUT it becomes a clear error."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from cairn.exceptions import TemporarilyUnavailable
    from cairn.store.sql.engine import make_engine, run_write

    engine = make_engine(f"sqlite:///{tmp_path / 'locked.db'}")
    attempts = []

    def locked(_conn: object) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))
        return "done"

    assert run_write(engine, locked) == "done"
    assert len(attempts) == 3

    def always_locked(_conn: object) -> None:
        raise OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setenv("CAIRN_SQL_BUSY_TIMEOUT", "0.05")
    with pytest.raises(TemporarilyUnavailable, match="stayed locked"):
        run_write(engine, always_locked)
    engine.dispose()


def test_sqlite_writers_lock_up_front_and_readers_never_wait(tmp_path: Path) -> None:
    """Write transactions start with BEGIN IMMEDIATE; read transactions take no write lock."""
    import sqlite3

    from cairn.store.sql.engine import make_engine, run_read, run_write

    path = tmp_path / "locks.db"
    engine = make_engine(f"sqlite:///{path}")

    def other_writer_is_locked_out(_conn: object) -> bool:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            return "locked" in str(exc)
        finally:
            other.close()
        return False

    assert run_write(engine, other_writer_is_locked_out)
    assert not run_read(engine, other_writer_is_locked_out)
    engine.dispose()


def test_writes_in_one_process_take_turns_on_one_connection(tmp_path: Path) -> None:
    """Threads of one process share the SQLite writer: every write lands, and a failed one,
    whether refused by Cairn or by the database, leaves it usable."""
    import threading

    from sqlalchemy.exc import OperationalError

    from cairn.entities import Metric
    from cairn.exceptions import ResourceDoesNotExist
    from cairn.store.sql import engine as engine_module

    store = SqlTrackingStore(f"sqlite:///{tmp_path / 'one.db'}", str(tmp_path / "artifacts"))
    run_id = store.create_run("0").info.run_id

    def log(thread: int) -> None:
        for step in range(50):
            store.log_metric(run_id, Metric(f"t{thread}", float(step), 1, step))

    threads = [threading.Thread(target=log, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(6):
        assert len(store.get_metric_history(run_id, f"t{i}")) == 50

    with pytest.raises(ResourceDoesNotExist):
        store.log_metric("0" * 32, Metric("m", 1.0, 1, 1))
    with pytest.raises(OperationalError):
        engine_module.run_write(
            store.engine, lambda conn: engine_module.driver_execute(conn, "INSERT INTO nowhere")
        )
    store.log_metric(run_id, Metric("after", 1.0, 1, 1))
    assert store.get_run(run_id).data.metrics["after"] == 1.0

    writer = engine_module.sqlite_writer(store.engine)
    assert writer.conn is not None
    store.close()
    assert writer.conn is None  # closed with the store


def test_a_write_waits_for_the_process_s_other_write_only_so_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cairn.entities import Metric
    from cairn.exceptions import TemporarilyUnavailable
    from cairn.store.sql import engine as engine_module

    store = SqlTrackingStore(f"sqlite:///{tmp_path / 'busy.db'}", str(tmp_path / "artifacts"))
    run_id = store.create_run("0").info.run_id
    monkeypatch.setattr(engine_module, "_WRITER_WAIT_SECONDS", 0.2)
    writer = engine_module.sqlite_writer(store.engine)
    with writer.lock, pytest.raises(TemporarilyUnavailable, match="try again"):
        store.log_metric(run_id, Metric("m", 1.0, 1, 1))
    store.log_metric(run_id, Metric("m", 1.0, 1, 1))  # free again
    store.close()


def test_a_write_is_all_or_nothing_whether_its_statements_are_driver_sql_or_sqlalchemy(
    tmp_path: Path,
) -> None:
    """The SQLite writer begins and commits on the driver; a write that also runs SQLAlchemy
    statements joins that transaction, and a failure anywhere leaves nothing behind."""
    import functools

    from sqlalchemy import Connection, text

    from cairn.store.sql import engine as engine_module

    engine = engine_module.make_engine(f"sqlite:///{tmp_path / 'atomic.db'}")
    engine_module.run_write(
        engine, lambda conn: engine_module.driver_execute(conn, "CREATE TABLE t (x INTEGER)")
    )

    def insert(value: int, sqlalchemy: bool, fail: bool, conn: Connection) -> None:
        engine_module.driver_execute(conn, f"INSERT INTO t VALUES ({value})")
        if sqlalchemy:
            conn.execute(text(f"INSERT INTO t VALUES ({value + 1})"))
        if fail:
            raise RuntimeError("the write fails half-way")

    for sqlalchemy in (False, True):
        with pytest.raises(RuntimeError):
            engine_module.run_write(engine, functools.partial(insert, 10, sqlalchemy, True))
        engine_module.run_write(engine, functools.partial(insert, 20, sqlalchemy, False))

    rows = engine_module.run_read(
        engine, lambda conn: engine_module.driver_execute(conn, "SELECT x FROM t").fetchall()
    )
    assert sorted(x for (x,) in rows) == [20, 20, 21]
    writer = engine_module.sqlite_writer(engine)
    assert writer.conn is not None and not writer.conn.in_transaction()
    engine_module.dispose(engine)


def test_the_write_ahead_log_is_checkpointed_off_the_writes_path(tmp_path: Path) -> None:
    """The writer leaves checkpoints to a thread of its own (SQLite would otherwise copy the
    log into the database during whichever commit takes it past 1,000 pages); every write is
    still there, read by another connection, after that thread has run."""
    import sqlite3
    import time

    from cairn.entities import Metric
    from cairn.store.sql import engine as engine_module

    path = tmp_path / "wal.db"
    store = SqlTrackingStore(f"sqlite:///{path}", str(tmp_path / "artifacts"))
    run_id = store.create_run("0").info.run_id
    writer = engine_module.sqlite_writer(store.engine)
    assert writer.checkpointer is not None
    for step in range(3 * engine_module.Checkpointer.EVERY):
        store.log_metric(run_id, Metric("m", float(step), 1, step))
    deadline = time.monotonic() + 10
    while writer.checkpointer.done < 2:
        assert time.monotonic() < deadline, "no checkpoint ran"
        time.sleep(0.01)
    assert writer.conn is not None
    assert engine_module.driver_execute(writer.conn, "PRAGMA wal_autocheckpoint").fetchone() == (
        engine_module.Checkpointer.BACKSTOP_PAGES,
    )
    other = sqlite3.connect(path)
    try:
        (count,) = other.execute("SELECT count(*) FROM metrics").fetchone()
    finally:
        other.close()
    assert count == 3 * engine_module.Checkpointer.EVERY
    store.close()
    assert not writer.checkpointer._thread.is_alive()  # stopped with the store


def test_an_in_memory_database_has_no_checkpointer() -> None:
    from cairn.store.sql import engine as engine_module

    engine = engine_module.make_engine("sqlite://")
    assert engine_module.sqlite_writer(engine).checkpointer is None
    engine_module.dispose(engine)
