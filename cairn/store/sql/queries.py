"""Query helpers the store's modules share: pages of search results, rows in a given order."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Column, Connection, Row, Select, Table, select

from cairn.entities import PagedList
from cairn.exceptions import InvalidParameterValue
from cairn.gc_pause import paused_gc
from cairn.store.base import SEARCH_MAX_RESULTS_THRESHOLD
from cairn.store.sql.dialects import insert_sql
from cairn.store.sql.engine import driver_execute
from cairn.store.sql.run_data import chunks

T = TypeVar("T")


def now_ms() -> int:
    return int(time.time() * 1000)


def rows_in_order(conn: Connection, key: Column[Any], keys: Sequence[Any]) -> list[Row[Any]]:
    """The rows of `key`'s table whose `key` is in `keys`, in the order of `keys`."""
    table = key.table
    position = list(table.columns).index(key)
    by_key: dict[Any, Row[Any]] = {}
    for chunk in chunks(keys):
        for row in conn.execute(select(table).where(key.in_(chunk))).all():
            by_key[row[position]] = row
    return [by_key[k] for k in keys]


def page(
    conn: Connection,
    query: Select[Any],
    offset: int,
    max_results: int,
    fingerprint: object,
    load: Callable[[list[Any]], list[T]],
) -> PagedList[T]:
    """Run a search `query` (fetching max_results + 1 keys) and load one page of entities."""
    from cairn.search.page_token import encode_page_token

    keys = first_column(conn, query)
    more = len(keys) > max_results
    token = encode_page_token(offset + max_results, fingerprint) if more else None
    with paused_gc():  # a page is up to 50,000 entities of many small objects each
        return PagedList(load(keys[:max_results]), token)


def first_column(conn: Connection, query: Select[Any]) -> list[Any]:
    """The first value of every row of `query`, read from the driver's cursor.

    A page's keys come by the thousand, and SQLAlchemy's result rows cost more than the query:
    0.76 -> 0.43 ms for 1,000 keys, 1.8 -> 0.9 ms for a filtered top 100. The statement still
    goes through `execute`, so SQLAlchemy's compiled cache serves it (compiling a filtered
    search anew takes ~2.5 ms).
    """
    result = conn.execute(query)
    try:
        return [row[0] for row in result.cursor.fetchall()]
    finally:
        result.close()


def check_max_results(max_results: int) -> None:
    if not isinstance(max_results, int) or max_results < 1:
        raise InvalidParameterValue(f"max_results must be a positive integer, got {max_results!r}")
    if max_results > SEARCH_MAX_RESULTS_THRESHOLD:
        raise InvalidParameterValue(
            f"max_results may be at most {SEARCH_MAX_RESULTS_THRESHOLD}, got {max_results}"
        )


def insert_row(
    conn: Connection, table: Table, columns: tuple[str, ...], values: Sequence[Any]
) -> int:
    """Insert one row through the driver (see `insert_sql`); return its generated key."""
    cursor = driver_execute(conn, insert_sql(table, conn.dialect, columns), values)
    if conn.dialect.name == "postgresql":
        return int(cursor.fetchone()[0])
    return int(cursor.lastrowid)
