"""The filter AST: what a parsed filter string means, independent of any database.

A filter is a tree of `And` / `Or` nodes over `Comparison` leaves. Every leaf has already been
checked against the search's schema, so a backend only has to translate it, never validate it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Entity(StrEnum):
    """What a comparison looks at; canonical whatever prefix the user wrote."""

    ATTRIBUTE = "attribute"
    METRIC = "metric"
    PARAM = "param"
    TAG = "tag"
    DATASET = "dataset"


class Op(StrEnum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    LIKE = "LIKE"
    ILIKE = "ILIKE"
    IN = "IN"
    NOT_IN = "NOT IN"
    IS_NULL = "IS NULL"
    IS_NOT_NULL = "IS NOT NULL"


#: Operators that compare the field with one value of the field's own type.
COMPARATORS = frozenset({Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE})
#: Operators whose value is a list of strings.
LIST_OPS = frozenset({Op.IN, Op.NOT_IN})
#: Operators without a value.
NULL_OPS = frozenset({Op.IS_NULL, Op.IS_NOT_NULL})
#: Operators whose value is a string pattern.
PATTERN_OPS = frozenset({Op.LIKE, Op.ILIKE})

Value = str | int | float | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """`<entity>.<key> <op> <value>`, e.g. metrics.acc > 0.9.

    `key` is the user's key for metrics, params, tags and datasets fields, and the canonical
    attribute name for attributes (aliases such as `created` are already resolved).
    `position` is where the identifier starts in the filter text, for later error messages.
    """

    entity: Entity
    key: str
    op: Op
    value: Value
    position: int = 0


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Comparison | And | Or


def conjuncts(node: Node | None) -> tuple[Node, ...]:
    """The top-level AND terms of a filter: every one of them must hold for a match."""
    if node is None:
        return ()
    if isinstance(node, And):
        return node.children
    return (node,)


def comparisons(node: Node | None) -> list[Comparison]:
    """Every leaf of the tree, left to right."""
    if node is None:
        return []
    if isinstance(node, Comparison):
        return [node]
    out: list[Comparison] = []
    for child in node.children:
        out.extend(comparisons(child))
    return out
