"""Alembic environment: runs migrations on the engine handed over in `config.attributes`.

Concurrent first starts (several processes opening a fresh database at once) are serialised:
SQLite by the write lock of the migration transaction, PostgreSQL by an advisory lock, MySQL
by a named lock.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

engine = context.config.attributes["engine"]
_LOCK_ID = 7_262_476  # arbitrary, constant: "cairn" migrations


def run_migrations() -> None:
    with engine.connect() as conn:
        dialect = conn.dialect.name
        if dialect == "mysql":
            conn.execute(text("SELECT GET_LOCK('cairn_migrations', 120)"))
        try:
            context.configure(connection=conn, target_metadata=None, compare_type=False)
            with context.begin_transaction():
                if dialect == "postgresql":
                    conn.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_ID})"))
                context.run_migrations()
        finally:
            if dialect == "mysql":
                conn.execute(text("SELECT RELEASE_LOCK('cairn_migrations')"))
        conn.commit()


run_migrations()
