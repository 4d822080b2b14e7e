"""order_by clauses: `<identifier> [ASC|DESC]`, resolved with the same schema as filters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cairn.exceptions import InvalidFilter
from cairn.search.lexer import Kind, tokenize
from cairn.search.nodes import Entity
from cairn.search.parser import resolve_identifier
from cairn.search.schema import SearchSchema


@dataclass(frozen=True, slots=True)
class OrderKey:
    """Sort by `entity`/`key`; `key` is canonical for attributes (`created` -> start_time)."""

    entity: Entity
    key: str
    ascending: bool = True


MAX_ORDER_BY = 20
"""Sort keys per search: each one on a param, tag or metric is a join in SQL."""


def parse_order_by(clauses: Sequence[str] | None, schema: SearchSchema) -> tuple[OrderKey, ...]:
    """Parse each clause; the same key twice (whatever its spelling) is an error."""
    if clauses and len(clauses) > MAX_ORDER_BY:
        raise InvalidFilter(f"order_by may hold at most {MAX_ORDER_BY} clauses, got {len(clauses)}")
    keys: list[OrderKey] = []
    seen: dict[tuple[Entity, str], str] = {}
    for clause in clauses or ():
        key = parse_order_clause(clause, schema)
        previous = seen.get((key.entity, key.key))
        if previous is not None:
            raise InvalidFilter(
                f"order_by sorts by the same key twice: {previous!r} and {clause!r}", clause, 0
            )
        seen[(key.entity, key.key)] = clause
        keys.append(key)
    return tuple(keys)


def parse_order_clause(clause: str, schema: SearchSchema) -> OrderKey:
    if not isinstance(clause, str) or not clause.strip():
        raise InvalidFilter(f"empty order_by clause {clause!r}")
    tokens = tokenize(clause)
    head = tokens[0]
    if head.kind is not Kind.IDENT:
        raise InvalidFilter(
            f"expected a key to sort by, such as metrics.acc DESC, found {head.describe()}",
            clause,
            head.position,
        )
    entity, key, field, name = resolve_identifier(head, schema, clause)
    if not field.orderable:
        raise InvalidFilter(f"cannot order {schema.name} by {name}", clause, head.position)
    ascending = True
    rest = tokens[1:]
    if rest[0].kind is Kind.KEYWORD and rest[0].value in ("ASC", "DESC"):
        ascending = rest[0].value == "ASC"
        rest = rest[1:]
    if rest[0].kind is not Kind.EOF:
        raise InvalidFilter(
            f"expected ASC, DESC or the end of the order_by clause, found {rest[0].describe()}",
            clause,
            rest[0].position,
        )
    return OrderKey(entity, key, ascending)
