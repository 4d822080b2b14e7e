"""search_registered_models and search_model_versions as one SQL statement each.

Filters compile like the experiment search's: attributes compare columns, tags are
correlated EXISTS. One MLflow 3.x quirk is honoured: its client appends
``tag.`mlflow.prompt.is_prompt` != 'true'`` to every model search, so a model without that
tag must read as `'false'` (see `MISSING_TAG_DEFAULTS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, not_, or_, select

from cairn.search import (
    MODEL_VERSIONS,
    REGISTERED_MODELS,
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
from cairn.search.sql import ByteOrder, SortKey, compare
from cairn.store.sql.experiments import Readable
from cairn.store.sql.schema import (
    model_version_tags,
    model_versions,
    registered_model_tags,
    registered_models,
)

# `Readable` here builds "the caller may read this model" on a `model_pk` column
# (cairn.server.auth); the same type as the experiments' searches take.

MISSING_TAG_DEFAULTS = {"mlflow.prompt.is_prompt": "false"}
"""Tags whose absence reads as a value in filters (the MLflow 3.x prompt clause)."""

_rm, _mv = registered_models.c, model_versions.c
_MODEL_COLUMNS: dict[str, ColumnElement[Any]] = {
    "name": ByteOrder(_rm.name),
    "timestamp": _rm.last_updated_timestamp,  # as in the reference: both mean last update
    "last_updated_timestamp": _rm.last_updated_timestamp,
}
_VERSION_COLUMNS: dict[str, ColumnElement[Any]] = {
    "name": ByteOrder(_rm.name),
    "version_number": _mv.version,
    "creation_timestamp": _mv.creation_timestamp,
    "last_updated_timestamp": _mv.last_updated_timestamp,
}


def select_model_pks(
    filter_string: str | None,
    order_by: Sequence[str] | None,
    offset: int,
    limit: int,
    readable: Readable | None = None,
) -> Select[Any]:
    """`registered_models.model_pk` rows `offset .. offset+limit-1` of the search; only the
    models `readable` admits when it is given (the filter is part of the query, so pages
    stay full)."""
    node = parse_filter(filter_string, REGISTERED_MODELS)
    order = list(parse_order_by(order_by, REGISTERED_MODELS))
    if all(k.key != "name" for k in order):
        order.append(OrderKey(Entity.ATTRIBUTE, "name"))
    query = select(_rm.model_pk)
    if node is not None:
        query = query.where(_condition(node, _model_leaf))
    if readable is not None:
        query = query.where(readable(_rm.model_pk))
    sort = [SortKey(_MODEL_COLUMNS[k.key], k.ascending, False) for k in order]
    return query.order_by(*sort).limit(limit).offset(offset)


def select_version_keys(
    filter_string: str | None,
    order_by: Sequence[str] | None,
    offset: int,
    limit: int,
    readable: Readable | None = None,
) -> Select[Any]:
    """(model_pk, version) rows `offset .. offset+limit-1` of the search; only versions of
    models `readable` admits when it is given."""
    node = parse_filter(filter_string, MODEL_VERSIONS)
    order = list(parse_order_by(order_by, MODEL_VERSIONS))
    keys = {k.key for k in order}
    if "name" not in keys:
        order.append(OrderKey(Entity.ATTRIBUTE, "name"))
    if "version_number" not in keys:
        order.append(OrderKey(Entity.ATTRIBUTE, "version_number", ascending=False))
    query = select(_mv.model_pk, _mv.version).join(registered_models, _rm.model_pk == _mv.model_pk)
    if node is not None:
        query = query.where(_condition(node, _version_leaf))
    if readable is not None:
        query = query.where(readable(_mv.model_pk))
    sort = [SortKey(_VERSION_COLUMNS[k.key], k.ascending, False) for k in order]
    return query.order_by(*sort).limit(limit).offset(offset)


def _condition(node: Node, leaf: Any) -> ColumnElement[bool]:
    if isinstance(node, And):
        return and_(*(_condition(child, leaf) for child in node.children))
    if isinstance(node, Or):
        return or_(*(_condition(child, leaf) for child in node.children))
    result: ColumnElement[bool] = leaf(node)
    return result


def _model_leaf(c: Comparison) -> ColumnElement[bool]:
    if c.entity is Entity.TAG:
        t = registered_model_tags.alias()
        return _tag_condition(c, [t.c.model_pk == _rm.model_pk], t.c.key, t.c.value)
    return compare(_rm.name, c.op, c.value)


def _version_leaf(c: Comparison) -> ColumnElement[bool]:
    if c.entity is Entity.TAG:
        t = model_version_tags.alias()
        owner = [t.c.model_pk == _mv.model_pk, t.c.version == _mv.version]
        return _tag_condition(c, owner, t.c.key, t.c.value)
    column = {"name": _rm.name, "run_id": _mv.run_id, "source_path": _mv.source}.get(c.key)
    if column is not None:
        return compare(column, c.op, c.value)
    return compare(_mv.version, c.op, c.value)  # version_number


def _tag_condition(
    c: Comparison, owner: list[ColumnElement[bool]], key: Any, value: Any
) -> ColumnElement[bool]:
    has_key = [*owner, key == c.key]
    matches = exists().where(*has_key, compare(value, c.op, c.value))
    default = MISSING_TAG_DEFAULTS.get(c.key)
    if default is not None and _holds(default, c.op, c.value):
        return or_(matches, not_(exists().where(*has_key)))
    return matches


def _holds(text: str, op: Op, value: Any) -> bool:
    """Whether `text <op> value` holds, for the string operators a tag filter allows."""
    if op is Op.EQ:
        return bool(text == value)
    if op is Op.NE:
        return bool(text != value)
    if op in (Op.LIKE, Op.ILIKE):
        import re

        pattern = "".join(
            ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in str(value)
        )
        flags = re.IGNORECASE if op is Op.ILIKE else 0
        return re.fullmatch(pattern, text, flags | re.DOTALL) is not None
    return False


__all__ = ["MISSING_TAG_DEFAULTS", "Readable", "select_model_pks", "select_version_keys"]
