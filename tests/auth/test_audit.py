"""The audit log's hash chain on every database: appends chain, and an edited, deleted or
truncated entry is found by `verify`, which names the first broken entry."""

from __future__ import annotations

import itertools
import threading

import pytest
from sqlalchemy import delete, update

from cairn.auth.audit import GENESIS, AuditLog, AuditRecord
from cairn.store.sql.schema import audit_head, audit_log


def _record(i: int, user: str = "alice") -> AuditRecord:
    return AuditRecord(user, "POST /api/2.0/mlflow/runs/log-batch", f"run:{i}", 200, "10.0.0.1")


@pytest.fixture
def log(store: object) -> AuditLog:
    audit = AuditLog(store.engine)  # type: ignore[attr-defined]
    audit.append([_record(i, "bob" if i % 2 else "alice") for i in range(1, 6)])
    return audit


def test_entries_chain_from_genesis(log: AuditLog) -> None:
    entries = list(log.entries())
    assert [e.id for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    report = log.verify()
    assert report.ok and report.checked == 5 and report.head_hash == entries[-1].hash


def test_entries_filter_by_user_resource_and_time(log: AuditLog) -> None:
    assert [e.resource for e in log.entries(username="bob")] == ["run:1", "run:3", "run:5"]
    assert [e.id for e in log.entries(resource="run:2")] == [2]
    assert len(list(log.entries(resource="run:*"))) == 5
    assert list(log.entries(since=10**14)) == []
    assert [e.id for e in log.entries(limit=2)] == [1, 2]


def test_an_edited_entry_is_named(log: AuditLog) -> None:
    with log.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == 3).values(username="mallory"))
    report = log.verify()
    assert not report.ok and report.first_bad_id == 3 and "edited" in report.reason


def test_an_entry_edited_with_a_recomputed_hash_breaks_the_next_link(log: AuditLog) -> None:
    with log.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == 2).values(hash="f" * 64))
    report = log.verify()
    assert not report.ok and report.first_bad_id in (2, 3)


def test_a_deleted_entry_is_found(log: AuditLog) -> None:
    with log.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id == 2))
    report = log.verify()
    assert not report.ok and report.first_bad_id == 3 and "deleted" in report.reason


def test_a_deleted_last_entry_is_found_through_the_head(log: AuditLog) -> None:
    with log.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id == 5))
    report = log.verify()
    assert not report.ok and "deleted" in report.reason


def test_a_missing_head_is_rebuilt_from_the_last_entry(log: AuditLog) -> None:
    with log.engine.begin() as conn:
        conn.execute(delete(audit_head))
    assert not log.verify().ok
    log.append([_record(6)])
    report = log.verify()
    assert report.ok and report.checked == 6


def test_concurrent_appends_extend_one_chain(log: AuditLog) -> None:
    def work() -> None:
        for i in range(10):
            log.append([_record(i)])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = log.verify()
    assert report.ok and report.checked == 45
