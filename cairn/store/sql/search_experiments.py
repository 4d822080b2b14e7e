"""search_experiments as one SQL statement: filter AST + order keys -> experiment ids.

Experiments are few (thousands, not millions), so one plain statement serves: filter the
table, sort, page. Tags are correlated EXISTS like run tags; ids are integers in the database
but strings on the wire, so id comparisons convert (an id that is not a decimal integer can
equal no experiment).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, cast, exists, or_, select

from cairn.search import (
    EXPERIMENTS,
    And,
    Comparison,
    Entity,
    Node,
    Op,
    Or,
    OrderKey,
    parse_filter,
    parse_order_by,
)
from cairn.search.sql import ByteOrder, SortKey, compare, constant
from cairn.store.sql.schema import experiment_tags, experiments

_COLUMNS = {
    "name": experiments.c.name,
    "experiment_id": experiments.c.experiment_id,
    "creation_time": experiments.c.creation_time,
    "last_update_time": experiments.c.last_update_time,
}
_DEFAULT_ORDER = (OrderKey(Entity.ATTRIBUTE, "creation_time", ascending=False),)
_TIE_BREAKER = OrderKey(Entity.ATTRIBUTE, "experiment_id", ascending=True)


def select_experiment_ids(
    filter_string: str | None,
    stages: Sequence[str],
    order_by: Sequence[str] | None,
    offset: int,
    limit: int,
) -> Select[Any]:
    """The statement returning `experiments.experiment_id` rows `offset .. offset+limit-1`.

    Raises InvalidFilter for a bad filter or order_by. Pass `limit = max_results + 1` to learn
    whether a next page exists. `stages` are lifecycle stage values ("active", "deleted").
    """
    node = parse_filter(filter_string, EXPERIMENTS)
    order = list(parse_order_by(order_by, EXPERIMENTS) or _DEFAULT_ORDER)
    if all(k.key != "experiment_id" for k in order):
        order.append(_TIE_BREAKER)
    query = select(experiments.c.experiment_id).where(experiments.c.lifecycle_stage.in_(stages))
    if node is not None:
        query = query.where(experiment_condition(node))
    sort = [
        SortKey(
            ByteOrder(_COLUMNS[k.key]) if k.key == "name" else _COLUMNS[k.key], k.ascending, False
        )
        for k in order
    ]
    return query.order_by(*sort).limit(limit).offset(offset)


def experiment_condition(node: Node) -> ColumnElement[bool]:
    """`node` as a condition on the `experiments` row of the enclosing query."""
    if isinstance(node, And):
        return and_(*(experiment_condition(child) for child in node.children))
    if isinstance(node, Or):
        return or_(*(experiment_condition(child) for child in node.children))
    if node.entity is Entity.TAG:
        return _tag_condition(node)
    if node.key == "experiment_id":
        return _id_condition(node)
    return compare(_COLUMNS[node.key], node.op, node.value)


def _tag_condition(c: Comparison) -> ColumnElement[bool]:
    t = experiment_tags.alias()
    has_key = [t.c.experiment_id == experiments.c.experiment_id, t.c.key == c.key]
    if c.op is Op.IS_NULL:
        return ~exists().where(*has_key)
    if c.op is Op.IS_NOT_NULL:
        return exists().where(*has_key)
    return exists().where(*has_key, compare(t.c.value, c.op, c.value))


def _id_condition(c: Comparison) -> ColumnElement[bool]:
    column = experiments.c.experiment_id
    if c.op in (Op.LIKE, Op.ILIKE):
        return compare(cast(column, String), c.op, c.value)
    values = c.value if isinstance(c.value, tuple) else (str(c.value),)
    ids = tuple(int(v) for v in values if _is_id(v))
    if c.op in (Op.EQ, Op.IN):
        return column.in_(ids) if ids else constant(False)
    return column.not_in(ids) if ids else constant(True)  # != and NOT IN


def _is_id(value: str) -> bool:
    """Only the canonical spelling names an id: '7' does, '07' and ' 7' do not."""
    return value.isascii() and value.isdigit() and str(int(value)) == value


__all__ = ["experiment_condition", "select_experiment_ids"]
