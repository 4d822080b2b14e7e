"""search_logged_models as one SQL statement: filters, dataset scoping and ordering.

Attributes compare columns; params and tags are correlated EXISTS; a metric filter matches a
model with any point of that metric satisfying it (as MLflow does), restricted to the
request's datasets when it names some. Sorting by a metric uses the model's latest point
(greatest timestamp, then step) on those datasets; models without one sort last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select, true

from cairn.entities import LifecycleStage, LoggedModelStatus
from cairn.search import And, Comparison, Entity, Node, Or, parse_filter
from cairn.search.nodes import Value
from cairn.search.schemas import LOGGED_MODELS
from cairn.search.sql import ByteOrder, SortKey, compare
from cairn.store.sql.schema import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
)

_lm, _metric = logged_models.c, logged_model_metrics.c
_COLUMNS: dict[str, ColumnElement[Any]] = {
    "name": ByteOrder(_lm.name),
    "model_id": _lm.model_id,
    "model_type": ByteOrder(_lm.model_type),
    "status": _lm.status,
    "source_run_id": _lm.source_run_id,
    "creation_timestamp": _lm.creation_timestamp,
    "last_updated_timestamp": _lm.last_updated_timestamp,
}


@dataclass(frozen=True, slots=True)
class DatasetRef:
    """A dataset metrics must have been computed on: by name, and by digest when given."""

    name: str
    digest: str = ""


@dataclass(frozen=True, slots=True)
class ModelOrder:
    """One sort key: an attribute, or `metrics.<key>` (optionally on one dataset)."""

    entity: Entity
    key: str
    ascending: bool = True
    dataset: DatasetRef | None = None


def select_model_ids(
    experiment_ids: Sequence[int],
    filter_string: str | None,
    datasets: Sequence[DatasetRef],
    order: Sequence[ModelOrder],
    offset: int,
    limit: int,
) -> Select[Any]:
    """`logged_models.model_id` rows `offset .. offset+limit-1` of the search."""
    node = parse_filter(filter_string, LOGGED_MODELS)
    on_datasets = _on_datasets(datasets)
    query = select(_lm.model_id).where(
        _lm.experiment_id.in_(list(experiment_ids)),
        _lm.lifecycle_stage == LifecycleStage.ACTIVE.value,
    )
    if node is not None:
        query = query.where(_condition(node, on_datasets))
    if datasets and not _mentions_metrics(node):
        # Dataset scoping alone keeps the models with any metric on those datasets.
        query = query.where(exists().where(_metric.model_id == _lm.model_id, on_datasets))
    sort: list[ColumnElement[Any]] = []
    for item in order:
        if item.entity is Entity.METRIC:
            scope = _on_datasets([item.dataset]) if item.dataset else on_datasets
            sort.append(SortKey(_latest_metric(item.key, scope), item.ascending))
        else:
            sort.append(SortKey(_COLUMNS[item.key], item.ascending, item.key == "source_run_id"))
    keys = {(o.entity, o.key) for o in order}
    if (Entity.ATTRIBUTE, "creation_timestamp") not in keys:
        sort.append(SortKey(_lm.creation_timestamp, False, False))
    if (Entity.ATTRIBUTE, "model_id") not in keys:
        sort.append(SortKey(_lm.model_id, True, False))
    return query.order_by(*sort).limit(limit).offset(offset)


def _on_datasets(datasets: Sequence[DatasetRef]) -> ColumnElement[bool]:
    """Metric rows computed on one of `datasets` (every row when there are none)."""
    if not datasets:
        return true()
    return or_(
        *(
            and_(_metric.dataset_name == d.name, _metric.dataset_digest == d.digest)
            if d.digest
            else _metric.dataset_name == d.name
            for d in datasets
        )
    )


def _mentions_metrics(node: Node | None) -> bool:
    if node is None:
        return False
    if isinstance(node, Comparison):
        return node.entity is Entity.METRIC
    return any(_mentions_metrics(child) for child in node.children)


def _latest_metric(key: str, scope: ColumnElement[bool]) -> Any:
    """The value of the model's latest point of metric `key` (NULL when it has none)."""
    m = logged_model_metrics.alias()
    return (
        select(m.c.value)
        .where(m.c.model_id == _lm.model_id, m.c.key == key, _rebind(scope, m))
        .order_by(m.c.timestamp.desc(), m.c.step.desc(), m.c.run_id)
        .limit(1)
        .correlate(logged_models)
        .scalar_subquery()
    )


def _rebind(condition: ColumnElement[bool], alias: Any) -> ColumnElement[bool]:
    """`condition` on `logged_model_metrics` rewritten against `alias` of that table."""
    from sqlalchemy.sql.util import ClauseAdapter

    return ClauseAdapter(alias).traverse(condition)


def _condition(node: Node, on_datasets: ColumnElement[bool]) -> ColumnElement[bool]:
    if isinstance(node, And):
        return and_(*(_condition(child, on_datasets) for child in node.children))
    if isinstance(node, Or):
        return or_(*(_condition(child, on_datasets) for child in node.children))
    return _leaf(node, on_datasets)


def _leaf(c: Comparison, on_datasets: ColumnElement[bool]) -> ColumnElement[bool]:
    if c.entity is Entity.METRIC:
        return exists().where(
            _metric.model_id == _lm.model_id,
            _metric.key == c.key,
            compare(_metric.value, c.op, c.value),
            on_datasets,
        )
    if c.entity in (Entity.PARAM, Entity.TAG):
        table = logged_model_params if c.entity is Entity.PARAM else logged_model_tags
        t = table.alias()
        return exists().where(
            t.c.model_id == _lm.model_id, t.c.key == c.key, compare(t.c.value, c.op, c.value)
        )
    if c.key == "status":
        return compare(_lm.status, c.op, _status_value(c.value))
    column = {"name": _lm.name, "model_type": _lm.model_type}.get(c.key)
    if column is None:
        column = getattr(_lm, c.key)
    return compare(column, c.op, c.value)


def _status_value(value: Value) -> Value:
    """Statuses as stored, from any spelling MLflow users write (`READY`, `LOGGED_MODEL_READY`)."""

    def one(text: str) -> str:
        try:
            return LoggedModelStatus.parse(text).value
        except ValueError:
            return text

    if isinstance(value, tuple):
        return tuple(one(v) for v in value)
    return one(value) if isinstance(value, str) else value


__all__ = ["DatasetRef", "ModelOrder", "select_model_ids"]
