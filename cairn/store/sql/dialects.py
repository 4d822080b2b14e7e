"""The few statements whose SQL differs between SQLite, PostgreSQL and MySQL."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import mysql, postgresql, sqlite


def insert_ignore(table: Table, dialect: str) -> Insert:
    """INSERT that silently skips rows whose key already exists."""
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return mysql.insert(table).prefix_with("IGNORE")


def upsert(table: Table, dialect: str, key: Sequence[str], update: Sequence[str]) -> Insert:
    """INSERT, or UPDATE the `update` columns of the row with the same `key`."""
    if dialect == "sqlite":
        stmt = sqlite.insert(table)
        return stmt.on_conflict_do_update(
            index_elements=list(key), set_={c: stmt.excluded[c] for c in update}
        )
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        return pg.on_conflict_do_update(
            index_elements=list(key), set_={c: pg.excluded[c] for c in update}
        )
    my = mysql.insert(table)
    return my.on_duplicate_key_update({c: my.inserted[c] for c in update})
