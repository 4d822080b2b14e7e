"""A new SQLite database's schema, created from a snapshot of what the migrations build.

Importing Alembic and running the migration scripts takes ~0.2 s, a fifth of the time
`cairn server` needs to start on a new embedded database. `sqlite_head.sql` holds the
statements that the migrations leave in `sqlite_master` at `HEAD` (tables, indexes and the
`alembic_version` row), so a new SQLite file gets them in one transaction instead. Existing
databases, upgrades and the other databases always go through Alembic.

After adding a migration, regenerate the snapshot:

    python -m cairn.store.sql.migrations.sqlite_snapshot

A test checks that a database made from the snapshot has exactly the schema the migrations
make; a snapshot left at an older revision is not used.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

SNAPSHOT = Path(__file__).with_name("sqlite_head.sql")
_REVISION_PREFIX = "-- revision: "
_SEPARATOR = "\n;\n"  # a line holding only ";" ends each statement (kept byte for byte)


def schema_statements(conn: Connection) -> list[str]:
    """The statements that recreate `conn`'s schema, in the order SQLite recorded them."""
    from sqlalchemy import text

    rows = conn.execute(
        text(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
            "AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
        )
    )
    statements = [str(sql) for (sql,) in rows]
    for (version,) in conn.execute(text("SELECT version_num FROM alembic_version")):
        statements.append(f"INSERT INTO alembic_version (version_num) VALUES ('{version}')")
    return statements


def read_snapshot() -> tuple[str, list[str]]:
    """(revision, statements) of the shipped snapshot."""
    text = SNAPSHOT.read_text(encoding="utf-8")
    header, _, body = text.partition("\n")
    if not header.startswith(_REVISION_PREFIX):
        raise ValueError(f"{SNAPSHOT} does not start with '{_REVISION_PREFIX}<revision>'")
    statements = [s for s in body.split(_SEPARATOR) if s.strip()]
    return header.removeprefix(_REVISION_PREFIX).strip(), statements


def create_from_snapshot(engine: Engine, head: str) -> bool:
    """Create the schema of a new SQLite database from the snapshot; False (nothing done)
    when the snapshot is not at `head`.

    Runs in one write transaction that first looks for `alembic_version`, so when several
    processes open a new file at once, one creates the schema and the others find it there.
    A database that already holds other tables makes a CREATE fail, and nothing is changed.
    """
    from cairn.store.sql.engine import driver_execute

    revision, statements = read_snapshot()
    if revision != head:
        return False
    with engine.begin() as conn:
        found = driver_execute(
            conn, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
        if found is None:
            for statement in statements:
                driver_execute(conn, statement)
    return True


def write_snapshot() -> str:
    """Build a database with the migrations and write its schema to `SNAPSHOT`."""
    from cairn.store.sql.engine import make_engine
    from cairn.store.sql.migrations import upgrade_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'snapshot.db'}")
        try:
            revision = upgrade_engine(engine)
            with engine.connect() as conn:
                statements = schema_statements(conn)
        finally:
            engine.dispose()
    SNAPSHOT.write_text(
        f"{_REVISION_PREFIX}{revision}\n" + "".join(s + _SEPARATOR for s in statements),
        encoding="utf-8",
    )
    return str(revision)


if __name__ == "__main__":
    print(f"wrote {SNAPSHOT} at revision {write_snapshot()}", file=sys.stderr)
