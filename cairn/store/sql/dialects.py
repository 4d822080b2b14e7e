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
def _points_template(dialect: Dialect) -> str:
    from cairn.store.sql.schema import metrics

    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(c.name) for c in metrics.columns)
    mark = "?" if dialect.name == "sqlite" else "%s"
    values = ", ".join(["{run_pk}"] + [mark] * (len(metrics.columns) - 1))
    if dialect.name == "sqlite":
        return f"INSERT OR IGNORE INTO metrics ({columns}) VALUES ({values})"
    if dialect.name == "postgresql":
        return f"INSERT INTO metrics ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING"
    return f"INSERT IGNORE INTO metrics ({columns}) VALUES ({values})"


def insert_points_sql(dialect: Dialect, run_pk: int) -> str:
    """INSERT-ignore text for one run's metric points, for the DBAPI's own executemany.

    Metric points arrive by the hundred thousand: SQLAlchemy's per-row parameter processing
    would cost more than the insert itself, so rows go straight to the driver as tuples of
    (key_id, step, timestamp, value, is_nan); the run's integer key is part of the text.
    """
    return _points_template(dialect).format(run_pk=int(run_pk))


@cache
def upsert_sql(
    table: Table, dialect: Dialect, key: tuple[str, ...], update: tuple[str, ...]
) -> tuple[str, tuple[str, ...] | None]:
    """`upsert(...)` compiled once to driver SQL: (text, parameter order or None for named).

    For statements on the per-batch hot path, where SQLAlchemy's execution machinery costs
    more than the statement. Positional drivers (SQLite) take tuples in the returned order;
    named ones (psycopg, PyMySQL) take dicts.
    """
    compiled = upsert(table, dialect.name, key, update).compile(dialect=dialect)
    order = compiled.positiontup
    return str(compiled), tuple(order) if order else None
