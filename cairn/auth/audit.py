"""The server-wide audit log: an append-only, hash-chained table of requests.

Every entry stores `hash = SHA-256(prev_hash || canonical content)`, where the content is the
entry's id, time, user, action, resource, outcome and client address as compact JSON, and
`prev_hash` is the previous entry's hash (64 zeros for the first). Ids are assigned by the
chain itself (the head's last id + 1), so they are contiguous. `audit_head` holds the last
id and hash; every append locks it (`SELECT … FOR UPDATE`; SQLite's IMMEDIATE transaction),
so concurrent writers, in one process or many, extend one line and never fork it.

`verify` recomputes the chain: an edited entry breaks its own hash, a deleted one breaks the
id sequence and the next entry's `prev_hash`, a deleted last entry disagrees with the head.
Someone with write access to the database can still rewrite the whole chain and the head
consistently; to detect that too, keep the head hash that `cairn audit verify` prints
somewhere else (a ticket, a log shipper) and compare later.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from cairn.store.sql.engine import driver_execute, run_read, run_write
from cairn.store.sql.queries import now_ms
from cairn.store.sql.schema import audit_head, audit_log

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

GENESIS = "0" * 64
_a = audit_log.c
_h = audit_head.c
_PAGE = 5000
_INSERT = (
    "INSERT INTO audit_log (id, timestamp, username, action, resource, status, client, "
    "prev_hash, hash) VALUES ({})"
)
_LIMITS = {"username": 256, "action": 300, "resource": 500, "client": 100}


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What a request contributes to the log; time and chain fields are added on append."""

    username: str
    action: str  # "POST /api/2.0/mlflow/runs/create": method and route template
    resource: str  # "run:<id>", "experiment:<id>", "model:<name>", ... or ""
    status: int
    client: str
    timestamp: int = 0  # ms; 0 = the time of the append


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    timestamp: int
    username: str
    action: str
    resource: str
    status: int
    client: str
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "timestamp": self.timestamp,
            "user": self.username,
            "action": self.action,
            "resource": self.resource,
            "status": self.status,
            "client": self.client,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    checked: int
    head_id: int
    head_hash: str
    first_bad_id: int | None = None
    reason: str = ""


def entry_hash(
    prev_hash: str,
    id: int,
    timestamp: int,
    username: str,
    action: str,
    resource: str,
    status: int,
    client: str,
) -> str:
    content = json.dumps(
        [id, timestamp, username, action, resource, status, client],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def _clip(record: AuditRecord) -> AuditRecord:
    values = {name: getattr(record, name)[:limit] for name, limit in _LIMITS.items()}
    return AuditRecord(status=record.status, timestamp=record.timestamp, **values)


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, records: Sequence[AuditRecord]) -> None:
        """Chain and insert `records` in one transaction."""
        if not records:
            return
        clipped = [_clip(r) for r in records]
        now = now_ms()

        def work(conn: Connection) -> None:
            last_id, prev = _lock_head(conn)
            rows = []
            for r in clipped:
                last_id += 1
                ts = r.timestamp or now
                digest = entry_hash(
                    prev, last_id, ts, r.username, r.action, r.resource, r.status, r.client
                )
                rows.append(
                    (
                        last_id,
                        ts,
                        r.username,
                        r.action,
                        r.resource,
                        r.status,
                        r.client,
                        prev,
                        digest,
                    )
                )
                prev = digest
            # Straight to the driver: SQLAlchemy's statement machinery cost more than the
            # inserts themselves, and every write request of an audited server pays this.
            mark = "?" if conn.dialect.name == "sqlite" else "%s"
            driver_execute(conn, _INSERT.format(", ".join([mark] * 9)), rows, many=True)
            driver_execute(
                conn,
                f"UPDATE audit_head SET last_id = {mark}, last_hash = {mark} WHERE id = 1",
                (last_id, prev),
            )

        run_write(self.engine, work)

    def entries(
        self,
        *,
        since: int | None = None,
        username: str | None = None,
        resource: str | None = None,
        limit: int | None = None,
    ) -> Iterator[AuditEntry]:
        """Entries in id order, filtered; `resource` ending in `*` matches a prefix."""
        after = 0
        remaining = limit
        while remaining is None or remaining > 0:
            page = _PAGE if remaining is None else min(_PAGE, remaining)
            query = select(audit_log).where(_a.id > after).order_by(_a.id).limit(page)
            if since is not None:
                query = query.where(_a.timestamp >= since)
            if username is not None:
                query = query.where(_a.username == username)
            if resource is not None:
                if resource.endswith("*"):
                    prefix = resource[:-1]
                    query = query.where(_a.resource.startswith(prefix, autoescape=True))
                else:
                    query = query.where(_a.resource == resource)
            rows = _read_page(self.engine, query)
            for row in rows:
                yield _entry(row)
            if len(rows) < page:
                return
            after = rows[-1].id
            if remaining is not None:
                remaining -= len(rows)

    def verify(self) -> ChainReport:
        """Recompute the chain from the first entry; the first break is named."""
        prev, last_id, checked = GENESIS, 0, 0
        for entry in self.entries():
            problem = _break(entry, last_id, prev)
            if problem:
                return ChainReport(False, checked, last_id, prev, entry.id, problem)
            prev, last_id, checked = entry.hash, entry.id, checked + 1
        head = run_read(
            self.engine,
            lambda conn: conn.execute(select(_h.last_id, _h.last_hash).where(_h.id == 1)).first(),
        )
        if head is None:
            if checked:
                return ChainReport(
                    False, checked, last_id, prev, None, "the chain's head row is missing"
                )
            return ChainReport(True, 0, 0, GENESIS)
        if head.last_id != last_id or head.last_hash != prev:
            return ChainReport(
                False,
                checked,
                last_id,
                prev,
                last_id + 1,
                f"the log ends at entry {last_id} but its head records entry {head.last_id}: "
                "entries at its end were deleted or the head was altered",
            )
        return ChainReport(True, checked, last_id, prev)


def _break(entry: AuditEntry, last_id: int, prev: str) -> str:
    """What is wrong with `entry` following entry `last_id` of hash `prev` ("" if nothing)."""
    if entry.id != last_id + 1:
        missing = entry.id - last_id - 1
        if missing > 0:
            return f"entry {entry.id} follows entry {last_id}: {missing} deleted before it"
        return f"entry {entry.id} is out of sequence after entry {last_id}"
    if entry.prev_hash != prev:
        return (
            f"entry {entry.id} does not chain to entry {last_id} "
            "(that entry was edited or replaced)"
        )
    recomputed = entry_hash(
        prev,
        entry.id,
        entry.timestamp,
        entry.username,
        entry.action,
        entry.resource,
        entry.status,
        entry.client,
    )
    if recomputed != entry.hash:
        return f"entry {entry.id} was edited (its content no longer matches its hash)"
    return ""


def _read_page(engine: Engine, query: Any) -> list[Any]:
    return run_read(engine, lambda conn: list(conn.execute(query).all()))


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        row.id,
        row.timestamp,
        row.username,
        row.action,
        row.resource,
        row.status,
        row.client,
        row.prev_hash,
        row.hash,
    )


def _lock_head(conn: Connection) -> tuple[int, str]:
    """(last id, last hash) under the head row's lock, creating the head when missing."""
    lock = "" if conn.dialect.name == "sqlite" else " FOR UPDATE"  # SQLite: BEGIN IMMEDIATE
    head_sql = f"SELECT last_id, last_hash FROM audit_head WHERE id = 1{lock}"
    found = driver_execute(conn, head_sql).fetchone()
    if found is not None:
        return int(found[0]), str(found[1])
    query = select(_h.last_id, _h.last_hash).where(_h.id == 1).with_for_update()
    # A new database (or one whose head was removed): start from the last entry, if any.
    last = conn.execute(select(_a.id, _a.hash).order_by(_a.id.desc()).limit(1)).first()
    last_id, last_hash = (int(last.id), str(last.hash)) if last else (0, GENESIS)
    values = {"id": 1, "last_id": last_id, "last_hash": last_hash}
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(audit_head).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        conn.execute(sqlite_insert(audit_head).values(values).on_conflict_do_nothing())
    else:
        conn.execute(audit_head.insert().values(values).prefix_with("IGNORE"))
    row = conn.execute(query).first()
    assert row is not None
    return int(row.last_id), str(row.last_hash)
