"""The few statements whose SQL differs between SQLite, PostgreSQL and MySQL."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sqlalchemy import Dialect, Insert, Table
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


@cache
def insert_ignore_sql(table: Table, dialect: Dialect) -> str:
    """Positional-parameter INSERT-ignore text for the DBAPI's own executemany.

    Used where rows arrive by the hundred thousand (metric points): it skips SQLAlchemy's
    per-row parameter processing, which otherwise costs more than the insert itself.
    Parameters follow the table's column order.
    """
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(c.name) for c in table.columns)
    mark = "?" if dialect.name == "sqlite" else "%s"
    values = ", ".join([mark] * len(table.columns))
    name = quote(table.name)
    if dialect.name == "sqlite":
        return f"INSERT OR IGNORE INTO {name} ({columns}) VALUES ({values})"
    if dialect.name == "postgresql":
        return f"INSERT INTO {name} ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING"
    return f"INSERT IGNORE INTO {name} ({columns}) VALUES ({values})"
