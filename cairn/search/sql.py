"""SQLAlchemy helpers every SQL search backend shares: operators, NULL-last sorting, and
byte-wise string ordering that is the same on SQLite, PostgreSQL and MySQL.

Imported only by the SQL stores (it imports SQLAlchemy, which `cairn.search` must not).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from cairn.search.nodes import Op, Value

#: In LIKE patterns a backslash escapes `%`, `_` and itself on every database (SQLite has no
#: default escape character, PostgreSQL and MySQL use the backslash; we pin it everywhere).
LIKE_ESCAPE = "\\"


def compare(column: ColumnElement[Any], op: Op, value: Value) -> ColumnElement[bool]:
    """`column <op> value` as SQL. NULL columns never match (SQL's three-valued logic)."""
    if op is Op.EQ:
        return column == value
    if op is Op.NE:
        return column != value
    if op is Op.LT:
        return column < value
    if op is Op.LE:
        return column <= value
    if op is Op.GT:
        return column > value
    if op is Op.GE:
        return column >= value
    if op is Op.LIKE:
        return column.like(value, escape=LIKE_ESCAPE)
    if op is Op.ILIKE:
        return column.ilike(value, escape=LIKE_ESCAPE)
    if op is Op.IN:
        assert isinstance(value, tuple)
        return column.in_(value)
    if op is Op.NOT_IN:
        assert isinstance(value, tuple)
        return column.not_in(value)
    raise ValueError(f"{op} has no single-column SQL form")  # IS [NOT] NULL: caller's job


def constant(flag: bool) -> ColumnElement[bool]:
    return true() if flag else false()


class SortKey(ColumnElement[Any]):
    """One ORDER BY item that puts NULLs last whatever the direction, on every dialect.

    SQLite and MySQL sort NULL first ascending and last descending; PostgreSQL the reverse.
    Each dialect gets the spelling that keeps its natural order where it already agrees, so
    an index on the column still serves the sort (`start_time DESC` on SQLite). Pass
    `nullable=False` for a NOT NULL column to drop the NULL handling altogether.
    """

    __visit_name__ = "cairn_sort_key"
    inherit_cache = True
    _traverse_internals = [
        ("element", InternalTraversal.dp_clauseelement),
        ("ascending", InternalTraversal.dp_boolean),
        ("nullable", InternalTraversal.dp_boolean),
    ]

    def __init__(self, element: ColumnElement[Any], ascending: bool, nullable: bool = True) -> None:
        self.element = element
        self.ascending = ascending
        self.nullable = nullable


@compiles(SortKey)
def _sort_key_nulls_low(element: SortKey, compiler: SQLCompiler, **kw: Any) -> str:
    inner = compiler.process(element.element, **kw)
    if not element.ascending:
        return f"{inner} DESC"
    return f"{inner} IS NULL, {inner} ASC" if element.nullable else f"{inner} ASC"


@compiles(SortKey, "postgresql")
def _sort_key_postgresql(element: SortKey, compiler: SQLCompiler, **kw: Any) -> str:
    inner = compiler.process(element.element, **kw)
    if element.ascending:
        return f"{inner} ASC"
    return f"{inner} DESC NULLS LAST" if element.nullable else f"{inner} DESC"


class ByteOrder(ColumnElement[Any]):
    """A string expression sorted by code point, not by the server's locale.

    MySQL columns already use a binary collation and SQLite sorts bytes; PostgreSQL databases
    usually default to a linguistic collation, so we ask for "C" there.
    """

    __visit_name__ = "cairn_byte_order"
    inherit_cache = True
    _traverse_internals = [("element", InternalTraversal.dp_clauseelement)]

    def __init__(self, element: ColumnElement[Any]) -> None:
        self.element = element
        self.type = element.type


@compiles(ByteOrder)
def _byte_order_default(element: ByteOrder, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.element, **kw)


@compiles(ByteOrder, "postgresql")
def _byte_order_postgresql(element: ByteOrder, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.element, **kw)}) COLLATE "C"'
