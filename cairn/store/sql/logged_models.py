"""Logged models (MLflow 3) in the SQL store: a mixin of `SqlTrackingStore`.

A model lives in `logged_models` with its tags, params and metric points in tables of their
own, keyed by its `m-<32 hex>` id. Deletes are soft, as in MLflow: a deleted model is not
found by any call (except `get_logged_model(..., allow_deleted=True)`) nor by searches.
Run outputs (`log_outputs`) link a run to the models it produced.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, delete, select, update

from cairn.entities import (
    LifecycleStage,
    LoggedModel,
    LoggedModelMetric,
    LoggedModelOutput,
    LoggedModelStatus,
    PagedList,
)
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.store import secrets, validation
from cairn.store.run_names import generate_run_name
from cairn.store.sql.dialects import insert_ignore, upsert
from cairn.store.sql.engine import run_read, run_write
from cairn.store.sql.queries import now_ms
from cairn.store.sql.run_data import DBL_MAX, chunks
from cairn.store.sql.schema import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
    run_outputs,
    runs,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from cairn.store.sql.experiments import ExperimentRow
    from cairn.store.sql.search_logged_models import DatasetRef, ModelOrder

SEARCH_LOGGED_MODELS_DEFAULT = 100
SEARCH_LOGGED_MODELS_MAX = 10000
MAX_MODEL_NAME_LENGTH = 500
MAX_MODEL_TYPE_LENGTH = 500
_BAD_NAME_CHARACTERS = ("/", ":", ".", "%", '"', "'")
"""MLflow refuses these in model names: a name is a path segment of `runs:/<id>/<name>`."""

OrderBy = Mapping[str, Any] | str
"""An order_by item: MLflow's `{field_name, ascending, dataset_name, dataset_digest}`, or
Cairn's `"<field> [ASC|DESC]"`."""


def validate_model_name(name: str) -> str:
    if not name or any(c in name for c in _BAD_NAME_CHARACTERS) or not name.strip():
        raise InvalidParameterValue(
            f"Invalid model name {name!r}: it must be non-empty and contain none of "
            + " ".join(_BAD_NAME_CHARACTERS)
        )
    if len(name) > MAX_MODEL_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Model name is {len(name)} characters long; the limit is {MAX_MODEL_NAME_LENGTH}."
        )
    return name


def not_found(model_id: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Logged model with ID '{model_id}' not found.")


def _checked_pairs(pairs: Mapping[str, Any] | None, what: str, limit: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (pairs or {}).items():
        validation.validate_key(key, f"{what} key")
        text = secrets.screen(what.capitalize(), key, "" if value is None else str(value))
        if len(text) > limit:
            raise InvalidParameterValue(
                f"The value of {what} '{key}' is {len(text)} characters long; the limit is {limit}."
            )
        out[key] = text
    return out


def _metric_value(metric: LoggedModelMetric) -> float:
    value = metric.value
    if isinstance(value, (bool, str, bytes)) or not hasattr(value, "__float__"):
        raise InvalidParameterValue(
            f"Metric '{metric.key}' has value {value!r}: metric values must be numbers."
        )
    return float(value)


def _stored_value(value: float) -> float | None:
    if math.isnan(value):
        return None
    return max(-DBL_MAX, min(DBL_MAX, value))


def _loaded_value(value: float | None) -> float:
    if value is None:
        return math.nan
    if abs(value) >= DBL_MAX:
        return math.copysign(math.inf, value)
    return float(value)


class LoggedModelMethods:
    """Mixed into `SqlTrackingStore`: needs its engine, dialect and row look-ups."""

    engine: Engine
    dialect: str

    if TYPE_CHECKING:

        def _experiment_row(self, conn: Connection, experiment_id: int) -> ExperimentRow: ...

    # -- one model ---------------------------------------------------------------------------

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        """A new PENDING model; its artifact location is `<experiment location>/models/<id>/
        artifacts`. A name is generated when none is given."""
        eid = validation.parse_id(experiment_id, "experiment id")
        name = validate_model_name(name) if name is not None else generate_run_name()
        model_type = model_type or ""
        if len(model_type) > MAX_MODEL_TYPE_LENGTH:
            raise InvalidParameterValue(
                f"model_type is {len(model_type)} characters long; the limit is "
                f"{MAX_MODEL_TYPE_LENGTH}."
            )
        tag_map = _checked_pairs(tags, "tag", validation.MAX_TAG_VALUE_LENGTH)
        param_map = _checked_pairs(params, "param", validation.MAX_PARAM_VALUE_LENGTH)
        model_id = f"m-{uuid.uuid4().hex}"
        now = now_ms()

        def work(conn: Connection) -> LoggedModel:
            exp = self._experiment_row(conn, eid)
            if exp.lifecycle_stage != LifecycleStage.ACTIVE.value:
                raise InvalidParameterValue(
                    f"Experiment {eid} is deleted; models cannot be logged to it."
                )
            if source_run_id:
                found = conn.execute(select(runs.c.run_pk).where(runs.c.run_id == source_run_id))
                if found.first() is None:
                    raise ResourceDoesNotExist(f"Run with id={source_run_id} not found")
            location = f"{exp.artifact_location.rstrip('/')}/models/{model_id}/artifacts"
            conn.execute(
                logged_models.insert().values(
                    model_id=model_id,
                    experiment_id=eid,
                    name=name,
                    artifact_location=location,
                    creation_timestamp=now,
                    last_updated_timestamp=now,
                    status=LoggedModelStatus.PENDING.value,
                    status_message="",
                    model_type=model_type,
                    source_run_id=source_run_id or None,
                    lifecycle_stage=LifecycleStage.ACTIVE.value,
                )
            )
            _insert_pairs(conn, logged_model_tags, model_id, tag_map)
            _insert_pairs(conn, logged_model_params, model_id, param_map)
            return LoggedModel(
                model_id=model_id,
                experiment_id=str(eid),
                name=name,
                artifact_location=location,
                creation_timestamp=now,
                last_updated_timestamp=now,
                model_type=model_type,
                source_run_id=source_run_id or "",
                tags=tag_map,
                params=param_map,
            )

        return run_write(self.engine, work)

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        def work(conn: Connection) -> LoggedModel:
            row = _model_row(conn, model_id, allow_deleted=allow_deleted)
            return load_models(conn, [row])[0]

        return run_read(self.engine, work)

    def finalize_logged_model(self, model_id: str, status: LoggedModelStatus | str) -> LoggedModel:
        """Set the model's status (READY once its files are uploaded, or UPLOAD_FAILED)."""
        try:
            final = LoggedModelStatus.parse(status)
        except ValueError:
            raise InvalidParameterValue(
                f"Invalid logged model status {status!r}; expected one of "
                + ", ".join(s.wire for s in LoggedModelStatus)
            ) from None

        def work(conn: Connection) -> LoggedModel:
            _model_row(conn, model_id, lock=True)
            _touch(conn, model_id, status=final.value)
            return load_models(conn, [_model_row(conn, model_id)])[0]

        return run_write(self.engine, work)

    def delete_logged_model(self, model_id: str) -> None:
        """Soft-delete: the model is not found afterwards; its files are left in place."""

        def work(conn: Connection) -> None:
            _model_row(conn, model_id, lock=True)
            _touch(conn, model_id, lifecycle_stage=LifecycleStage.DELETED.value)

        run_write(self.engine, work)

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str]) -> None:
        tag_map = _checked_pairs(tags, "tag", validation.MAX_TAG_VALUE_LENGTH)

        def work(conn: Connection) -> None:
            _model_row(conn, model_id, lock=True)
            if tag_map:
                stmt = upsert(logged_model_tags, self.dialect, ("model_id", "key"), ("value",))
                conn.execute(
                    stmt, [{"model_id": model_id, "key": k, "value": v} for k, v in tag_map.items()]
                )
            _touch(conn, model_id)

        run_write(self.engine, work)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        def work(conn: Connection) -> None:
            _model_row(conn, model_id, lock=True)
            t = logged_model_tags.c
            result = conn.execute(
                delete(logged_model_tags).where(t.model_id == model_id, t.key == key)
            )
            if result.rowcount == 0:
                raise ResourceDoesNotExist(f"No tag with key {key!r} on logged model {model_id}.")
            _touch(conn, model_id)

        run_write(self.engine, work)

    def log_logged_model_params(self, model_id: str, params: Mapping[str, str]) -> None:
        """Add params; like a run's, they are write-once (the same value again is a no-op)."""
        param_map = _checked_pairs(params, "param", validation.MAX_PARAM_VALUE_LENGTH)

        def work(conn: Connection) -> None:
            _model_row(conn, model_id, lock=True)
            p = logged_model_params.c
            existing = dict(
                conn.execute(
                    select(p.key, p.value).where(p.model_id == model_id, p.key.in_(list(param_map)))
                ).all()
            )
            for key, value in param_map.items():
                if key in existing and existing[key] != value:
                    raise InvalidParameterValue(
                        f"Param '{key}' of logged model {model_id} is already {existing[key]!r}; "
                        f"it cannot be changed to {value!r}."
                    )
            new = {k: v for k, v in param_map.items() if k not in existing}
            _insert_pairs(conn, logged_model_params, model_id, new)
            _touch(conn, model_id)

        run_write(self.engine, work)

    # -- metrics and run outputs -------------------------------------------------------------

    def log_model_metrics(self, run_id: str, metrics: Sequence[LoggedModelMetric]) -> None:
        """Record metric points computed by the run for the models they name (`model_id`):
        in the run's history, and in each model's `metrics` (MLflow 3's metrics carrying a
        model_id)."""
        from cairn.entities import Metric
        from cairn.store.batching import chunk_batch

        self.write_logged_model_metrics(run_id, metrics)
        points = [Metric(m.key, m.value, m.timestamp, m.step) for m in metrics]
        for chunk in chunk_batch(points, [], []):
            self.log_batch(run_id, metrics=chunk.metrics)  # type: ignore[attr-defined]

    def write_logged_model_metrics(self, run_id: str, metrics: Sequence[LoggedModelMetric]) -> None:
        """The models' side of `log_model_metrics` only (the server writes the run's side
        with the rest of a log-batch). The same point twice is stored once."""
        rows = []
        for m in metrics:
            validation.validate_key(m.key, "metric name")
            if not m.model_id:
                raise InvalidParameterValue(f"Metric '{m.key}' names no model_id.")
            if bool(m.dataset_name) != bool(m.dataset_digest):
                raise InvalidParameterValue(
                    f"Metric '{m.key}': give both dataset_name and dataset_digest, or neither."
                )
            rows.append(
                {
                    "model_id": m.model_id,
                    "key": m.key,
                    "timestamp": validation.as_int64(m.timestamp, "timestamp"),
                    "step": validation.as_int64(m.step, "step"),
                    "run_id": run_id,
                    "value": _stored_value(_metric_value(m)),
                    "dataset_name": m.dataset_name or "",
                    "dataset_digest": m.dataset_digest or "",
                }
            )
        if not rows:
            return

        def work(conn: Connection) -> None:
            _live_run_pk(conn, run_id)
            for model_id in {m.model_id for m in metrics}:
                _model_row(conn, model_id)
            conn.execute(insert_ignore(logged_model_metrics, self.dialect), rows)

        run_write(self.engine, work)

    def log_outputs(
        self, run_id: str, models: Sequence[LoggedModelOutput | tuple[str, int]]
    ) -> None:
        """Record that the run produced these models (at these steps). A model is an output of
        a run once: recording it again keeps the first step, as MLflow keeps one row."""
        outputs = [m if isinstance(m, LoggedModelOutput) else LoggedModelOutput(*m) for m in models]

        def work(conn: Connection) -> None:
            run_pk = _live_run_pk(conn, run_id)
            for out in outputs:
                _model_row(conn, out.model_id)
            if outputs:
                conn.execute(
                    insert_ignore(run_outputs, self.dialect),
                    [
                        {
                            "run_pk": run_pk,
                            "model_id": o.model_id,
                            "step": validation.as_int64(o.step, "step"),
                        }
                        for o in outputs
                    ],
                )

        run_write(self.engine, work)

    def get_run_outputs(self, run_id: str) -> list[LoggedModelOutput]:
        """The models the run produced, in the order they were recorded by step."""

        def work(conn: Connection) -> list[LoggedModelOutput]:
            o = run_outputs.c
            found = conn.execute(
                select(o.model_id, o.step)
                .join(runs, runs.c.run_pk == o.run_pk)
                .where(runs.c.run_id == run_id)
                .order_by(o.step, o.model_id)
            ).all()
            if (
                not found
                and conn.execute(select(runs.c.run_pk).where(runs.c.run_id == run_id)).first()
                is None
            ):
                raise ResourceDoesNotExist(f"Run with id={run_id} not found")
            return [LoggedModelOutput(str(m), int(s)) for m, s in found]

        return run_read(self.engine, work)

    # -- search ------------------------------------------------------------------------------

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[Mapping[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: Sequence[OrderBy] | None = None,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        """Live models of the experiments matching `filter_string`, newest first by default.

        `datasets` (`{dataset_name, dataset_digest?}`) restricts metric filters and ordering
        to metrics computed on those datasets.
        """
        from cairn.search.page_token import decode_page_token
        from cairn.store.sql.queries import page
        from cairn.store.sql.search_logged_models import select_model_ids

        limit = SEARCH_LOGGED_MODELS_DEFAULT if max_results is None else max_results
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidParameterValue(f"max_results must be a positive integer, got {limit!r}")
        if limit > SEARCH_LOGGED_MODELS_MAX:
            raise InvalidParameterValue(
                f"max_results may be at most {SEARCH_LOGGED_MODELS_MAX}, got {limit}"
            )
        eids = [validation.parse_id(e, "experiment id") for e in experiment_ids]
        refs = _dataset_refs(datasets)
        order = _model_order(order_by)
        fingerprint = (
            "logged-models",
            sorted(eids),
            filter_string or "",
            [(o.entity.value, o.key, o.ascending, str(o.dataset)) for o in order],
            [str(r) for r in refs],
        )
        offset = decode_page_token(page_token, fingerprint)
        query = select_model_ids(eids, filter_string, refs, order, offset, limit + 1)

        def work(conn: Connection) -> PagedList[LoggedModel]:
            def load(ids: list[Any]) -> list[LoggedModel]:
                return load_models(conn, _rows_by_id(conn, ids))

            return page(conn, query, offset, limit, fingerprint, load)

        return run_read(self.engine, work)


# -- rows and entities --------------------------------------------------------------------------


def _model_row(
    conn: Connection, model_id: str, *, lock: bool = False, allow_deleted: bool = False
) -> Row[Any]:
    query = select(logged_models).where(logged_models.c.model_id == model_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None or (not allow_deleted and row.lifecycle_stage != LifecycleStage.ACTIVE.value):
        raise not_found(model_id)
    return row


def _rows_by_id(conn: Connection, ids: Sequence[str]) -> list[Row[Any]]:
    by_id: dict[str, Row[Any]] = {}
    for chunk in chunks(list(ids)):
        for row in conn.execute(select(logged_models).where(logged_models.c.model_id.in_(chunk))):
            by_id[row.model_id] = row
    return [by_id[i] for i in ids]


def _touch(conn: Connection, model_id: str, **values: Any) -> None:
    stmt = update(logged_models).where(logged_models.c.model_id == model_id)
    conn.execute(stmt.values(last_updated_timestamp=now_ms(), **values))


def _insert_pairs(conn: Connection, table: Any, model_id: str, pairs: Mapping[str, str]) -> None:
    if pairs:
        conn.execute(
            table.insert(), [{"model_id": model_id, "key": k, "value": v} for k, v in pairs.items()]
        )


def _live_run_pk(conn: Connection, run_id: str) -> int:
    query = select(runs.c.run_pk, runs.c.lifecycle_stage).where(runs.c.run_id == run_id)
    found = conn.execute(query.with_for_update()).first()
    if found is None:
        raise ResourceDoesNotExist(f"Run with id={run_id} not found")
    if found.lifecycle_stage != LifecycleStage.ACTIVE.value:
        raise InvalidParameterValue(f"Run {run_id} is deleted; restore it before writing to it.")
    return int(found.run_pk)


def load_models(conn: Connection, rows: Sequence[Row[Any]]) -> list[LoggedModel]:
    """Entities for model rows: their tags, params and metric points in three queries."""
    ids = [r.model_id for r in rows]
    tags: dict[str, dict[str, str]] = {i: {} for i in ids}
    params: dict[str, dict[str, str]] = {i: {} for i in ids}
    points: dict[str, list[LoggedModelMetric]] = {i: [] for i in ids}
    for chunk in chunks(ids):
        for table, into in ((logged_model_tags, tags), (logged_model_params, params)):
            c = table.c
            query = select(c.model_id, c.key, c.value).where(c.model_id.in_(chunk))
            for model_id, key, value in conn.execute(query.order_by(c.model_id, c.key)):
                into[model_id][key] = value
        m = logged_model_metrics.c
        query = (
            select(logged_model_metrics)
            .where(m.model_id.in_(chunk))
            .order_by(m.model_id, m.key, m.step, m.timestamp, m.run_id)
        )
        for p in conn.execute(query):
            points[p.model_id].append(
                LoggedModelMetric(
                    key=p.key,
                    value=_loaded_value(p.value),
                    timestamp=int(p.timestamp),
                    step=int(p.step),
                    model_id=p.model_id,
                    run_id=p.run_id,
                    dataset_name=p.dataset_name,
                    dataset_digest=p.dataset_digest,
                )
            )
    return [
        LoggedModel(
            model_id=r.model_id,
            experiment_id=str(r.experiment_id),
            name=r.name,
            artifact_location=r.artifact_location,
            creation_timestamp=int(r.creation_timestamp),
            last_updated_timestamp=int(r.last_updated_timestamp),
            status=LoggedModelStatus(r.status),
            status_message=r.status_message,
            model_type=r.model_type,
            source_run_id=r.source_run_id or "",
            tags=tags[r.model_id],
            params=params[r.model_id],
            metrics=tuple(points[r.model_id]),
        )
        for r in rows
    ]


# -- search arguments ---------------------------------------------------------------------------


def _dataset_refs(datasets: Iterable[Mapping[str, Any]] | None) -> list[DatasetRef]:
    from cairn.store.sql.search_logged_models import DatasetRef

    refs = []
    for d in datasets or ():
        name = d.get("dataset_name")
        if not name:
            raise InvalidParameterValue("`dataset_name` in the `datasets` clause must be given.")
        refs.append(DatasetRef(str(name), str(d.get("dataset_digest") or "")))
    return refs


def _model_order(order_by: Sequence[OrderBy] | None) -> list[ModelOrder]:
    """Parse order_by items with the search grammar's own identifiers (same names, same
    errors as filters); the same key twice is an error."""
    from cairn.exceptions import InvalidFilter
    from cairn.search.order_by import parse_order_clause
    from cairn.search.schemas import LOGGED_MODELS
    from cairn.store.sql.search_logged_models import DatasetRef, ModelOrder

    out: list[ModelOrder] = []
    seen: set[tuple[Any, str]] = set()
    for item in order_by or ():
        if isinstance(item, str):
            key = parse_order_clause(item, LOGGED_MODELS)
            dataset = None
            ascending = key.ascending
        else:
            field_name = item.get("field_name")
            if not isinstance(field_name, str) or not field_name.strip():
                raise InvalidParameterValue("order_by items need a field_name.")
            key = parse_order_clause(field_name, LOGGED_MODELS)
            ascending = bool(item.get("ascending", True)) and key.ascending
            name = item.get("dataset_name")
            digest = item.get("dataset_digest")
            if digest and not name:
                raise InvalidParameterValue("order_by dataset_digest needs dataset_name.")
            if name and key.entity.value != "metric":
                raise InvalidParameterValue(
                    f"order_by {field_name!r}: dataset_name applies to metrics only."
                )
            dataset = DatasetRef(str(name), str(digest or "")) if name else None
        if (key.entity, key.key) in seen:
            raise InvalidFilter(f"order_by sorts by {key.key!r} twice")
        seen.add((key.entity, key.key))
        out.append(ModelOrder(key.entity, key.key, ascending, dataset))
    return out
