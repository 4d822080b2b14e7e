"""SQL that differs between SQLite, PostgreSQL and MySQL, and the driver SQL of hot paths
(plain text in the driver's paramstyle, built once per dialect: SQLAlchemy's per-statement
machinery costs more than the database's work on these)."""

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


def param_mark(dialect: Dialect) -> str:
    """The driver's positional placeholder: `?` for sqlite3, `%s` for psycopg and PyMySQL."""
    return "?" if dialect.name == "sqlite" else "%s"


@cache
def select_sql(
    table: Table, dialect: Dialect, columns: tuple[str, ...], key: str, *, lock: bool = False
) -> str:
    """Driver SELECT of `columns` from the rows whose `key` equals the one parameter.

    With `lock`, the rows are locked for writing; SQLite has no row locks, but its BEGIN
    IMMEDIATE transaction already serialises writers.
    """
    q = dialect.identifier_preparer.quote
    sql = (
        f"SELECT {', '.join(map(q, columns))} FROM {q(table.name)} "
        f"WHERE {q(key)} = {param_mark(dialect)}"
    )
    return sql + " FOR UPDATE" if lock and dialect.name != "sqlite" else sql


@cache
def insert_sql(table: Table, dialect: Dialect, columns: tuple[str, ...]) -> str:
    """Driver INSERT of `columns` (parameters in that order).

    If the table has a generated key, PostgreSQL returns it (`RETURNING`): its driver has no
    `lastrowid`, which is how the others report it (see `insert_row`).
    """
    q = dialect.identifier_preparer.quote
    marks = ", ".join([param_mark(dialect)] * len(columns))
    sql = f"INSERT INTO {q(table.name)} ({', '.join(map(q, columns))}) VALUES ({marks})"
    generated = table.autoincrement_column
    if generated is not None and dialect.name == "postgresql":
        sql += f" RETURNING {q(generated.name)}"
    return sql


@cache
def update_sql(table: Table, dialect: Dialect, columns: tuple[str, ...], key: str) -> str:
    """Driver UPDATE setting `columns` of the row whose `key` equals the last parameter."""
    q = dialect.identifier_preparer.quote
    mark = param_mark(dialect)
    assignments = ", ".join(f"{q(c)} = {mark}" for c in columns)
    return f"UPDATE {q(table.name)} SET {assignments} WHERE {q(key)} = {mark}"


@cache
def _points_template(dialect: Dialect, rows: int) -> str:
    from cairn.store.sql.schema import metrics

    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(c.name) for c in metrics.columns)
    mark = param_mark(dialect)
    row = "(" + ", ".join(["{run_pk}"] + [mark] * (len(metrics.columns) - 1)) + ")"
    values = ", ".join([row] * rows)
    if dialect.name == "sqlite":
        return f"INSERT OR IGNORE INTO metrics ({columns}) VALUES {values}"
    if dialect.name == "postgresql":
        return f"INSERT INTO metrics ({columns}) VALUES {values} ON CONFLICT DO NOTHING"
    return f"INSERT IGNORE INTO metrics ({columns}) VALUES {values}"


def insert_points_sql(dialect: Dialect, run_pk: int, rows: int = 1) -> str:
    """INSERT-ignore text for `rows` of one run's metric points, straight to the driver.

    Metric points arrive by the hundred thousand: SQLAlchemy's per-row parameter processing
    would cost more than the insert itself, so rows go to the driver as flat parameters, five
    per point (key_id, step, timestamp, value, is_nan); the run's integer key is part of the
    text. One statement of many rows costs SQLite about a quarter less per point than the
    driver's executemany of a one-row statement (see `run_data.insert_points`).
    """
    return _points_template(dialect, rows).format(run_pk=int(run_pk))


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
