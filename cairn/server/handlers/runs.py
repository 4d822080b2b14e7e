"""Runs, their data and their history (`/mlflow/runs/*`, `/mlflow/metrics/*`, artifact listing)."""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson

from cairn.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    LoggedModelMetric,
    Metric,
    MetricColumns,
    Param,
    RunStatus,
    RunTag,
    ViewType,
)
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.gc_pause import paused_gc
from cairn.server import wire
from cairn.server.context import ServerContext
from cairn.server.endpoints import Endpoint
from cairn.server.handlers.fields import (
    FILTER,
    KEY_VALUE,
    METRIC,
    ORDER_BY,
    PAGE_TOKEN,
    READABLE,
    RUN_ID,
    RUN_UUID,
    TAGS,
    VIEW_TYPES,
    run_id_of,
)
from cairn.server.messages import Field, Kind, int64, string
from cairn.server.storage import checked_path
from cairn.store.base import SEARCH_MAX_RESULTS_DEFAULT
from cairn.transport.codec import wire_double

if TYPE_CHECKING:
    from cairn.server.helper import ReadHelper

LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"
# A whole metric history of at least this many points is read in two processes when the
# server has a read helper: below it, sending the work costs about what sharing it saves.
HALVES_FROM = 20_000
RUN_STATUSES = {s.value for s in RunStatus}


def create(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    run = ctx.store.create_run(
        experiment_id=f["experiment_id"] or "0",
        user_id=f["user_id"] or "",
        start_time=f["start_time"],
        tags=[RunTag(t["key"], t["value"] or "") for t in f["tags"]],
        run_name=f["run_name"] or None,
    )
    return {"run": wire.run_dict(run)}


def get(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    return {"run": wire.run_dict(ctx.store.get_run(run_id_of(f)))}


def update(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    status = f["status"]
    info = ctx.store.update_run_info(
        run_id_of(f),
        # MLflow ignores status names it does not know rather than failing the update.
        status=RunStatus(status) if status in RUN_STATUSES else None,
        end_time=f["end_time"],
        run_name=f["run_name"] or None,
    )
    return {"run_info": info.to_dict()}


def delete(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.store.delete_run(run_id_of(f))
    return {}


def restore(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.store.restore_run(run_id_of(f))
    return {}


def log_metric(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    metric = Metric(f["key"], f["value"], f["timestamp"], f["step"] or 0)
    if f["model_id"]:
        ctx.store.write_logged_model_metrics(run_id_of(f), model_metrics([f]))
    ctx.store.log_metric(run_id_of(f), metric)
    return {}


def model_metrics(metrics: list[dict[str, Any]]) -> list[LoggedModelMetric]:
    """MLflow 3 metrics carrying a `model_id`: also the logged model's (its data.metrics)."""
    return [
        LoggedModelMetric(
            m["key"],
            m["value"],
            m["timestamp"],
            m["step"] or 0,
            model_id=m["model_id"],
            dataset_name=m["dataset_name"] or "",
            dataset_digest=m["dataset_digest"] or "",
        )
        for m in metrics
        if m["model_id"]
    ]


def log_param(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.store.log_param(run_id_of(f), Param(f["key"], f["value"] or ""))
    return {}


def log_batch(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    items = f["metrics"]
    if any(map(_model_id, items)):
        ctx.store.write_logged_model_metrics(run_id_of(f), model_metrics(items))
    steps = list(map(_step, items))
    if None in steps:
        steps = [step or 0 for step in steps]
    ctx.store.log_batch(
        run_id_of(f),
        # Columns, taken out in C: the SQL store writes them without a Metric per point.
        metrics=MetricColumns(
            list(map(_key, items)), list(map(_value, items)), list(map(_timestamp, items)), steps
        ),
        params=[Param(p["key"], p["value"] or "") for p in f["params"]],
        tags=[RunTag(t["key"], t["value"] or "") for t in f["tags"]],
    )
    return {}


_key, _value, _timestamp, _step, _model_id = map(
    itemgetter, ("key", "value", "timestamp", "step", "model_id")
)


def set_tag(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.store.set_tag(run_id_of(f), RunTag(f["key"], f["value"] or ""))
    return {}


def delete_tag(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.store.delete_tag(run_id_of(f), f["key"])
    return {}


def log_inputs(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    datasets = []
    for item in f["datasets"]:
        d = item["dataset"]
        if d is None:
            raise InvalidParameterValue("Missing value for required parameter 'datasets.dataset'.")
        dataset = Dataset(
            name=d["name"],
            digest=d["digest"],
            source_type=d["source_type"] or "",
            source=d["source"] or "",
            schema=d["schema"],
            profile=d["profile"],
        )
        tags = tuple(InputTag(t["key"], t["value"] or "") for t in item["tags"])
        datasets.append(DatasetInput(dataset, tags))
    ctx.store.log_inputs(run_id_of(f), datasets)
    return {}


def log_model(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    """MLflow 2.x clients record each logged model's MLmodel on the run, as a JSON list tag."""
    run_id = run_id_of(f)
    try:
        model = orjson.loads(f["model_json"])
    except orjson.JSONDecodeError as e:
        raise InvalidParameterValue(f"model_json is not valid JSON: {e}") from None
    if not isinstance(model, dict):
        raise InvalidParameterValue("model_json must be a JSON object")
    absent = [
        k for k in ("artifact_path", "flavors", "utc_time_created", "run_id") if k not in model
    ]
    if absent:
        raise InvalidParameterValue(f"model_json is missing required keys: {', '.join(absent)}")
    tags = ctx.store.get_run(run_id).data.tags
    history = orjson.loads(tags[LOG_MODEL_HISTORY_TAG]) if LOG_MODEL_HISTORY_TAG in tags else []
    history.append(model)
    ctx.store.set_tag(run_id, RunTag(LOG_MODEL_HISTORY_TAG, orjson.dumps(history).decode()))
    return {}


def search(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    max_results = f["max_results"]
    experiment_ids = f["experiment_ids"]
    readable = f.get(READABLE)
    if readable is not None:  # the caller's unreadable experiments are left out of the query
        experiment_ids = ctx.store.readable_experiments(experiment_ids, readable)
        if not experiment_ids:
            return {}
    page = ctx.store.search_run_dicts(
        experiment_ids=experiment_ids,
        filter_string=f["filter"],
        run_view_type=ViewType.parse(f["run_view_type"]),
        max_results=SEARCH_MAX_RESULTS_DEFAULT if max_results is None else max_results,
        order_by=f["order_by"],
        page_token=f["page_token"],
        non_finite=wire_double,
    )
    out: dict[str, Any] = {}
    if page:
        out["runs"] = page
    if page.token:
        out["next_page_token"] = page.token
    return out


def get_history(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    max_results = f["max_results"]
    if max_results is not None and max_results <= 0:
        raise InvalidParameterValue(f"max_results must be positive, got {max_results}")
    run_id, key = run_id_of(f), f["metric_key"]
    try:
        if ctx.helper is not None and max_results is None and not f["page_token"]:
            points = _read_in_halves(ctx, ctx.helper, run_id, key)
            if points is not None:
                return {"metrics": points}
        page = ctx.store.get_metric_history_dicts(
            run_id,
            key,
            max_results=max_results,
            page_token=f["page_token"],
            non_finite=wire_double,
        )
    except ResourceDoesNotExist:
        return {}  # MLflow answers an unknown run with an empty history, not an error
    out: dict[str, Any] = {}
    if page:
        out["metrics"] = page
    if page.token:
        out["next_page_token"] = page.token
    return out


def _read_in_halves(
    ctx: ServerContext, helper: ReadHelper, run_id: str, key: str
) -> list[Any] | None:
    """A whole history of at least `HALVES_FROM` points, read in two processes at once: the
    read helper reads and encodes the later half of the steps while this one does the first
    (see server.helper). None when it is smaller, the helper is busy, or anything committed
    meanwhile (the halves might not fit together): the caller then reads it all itself."""
    if not helper.in_use:  # failed or stopped: not worth finding the middle step
        return None
    version = ctx.store.data_version()
    middle = ctx.store.history_middle_step(run_id, key, HALVES_FROM)
    if middle is None or version is None:
        return None
    pending = helper.ask({"history": run_id, "key": key, "steps": [middle, None]})
    if pending is None:
        return None
    try:
        with paused_gc():  # its points are freed, and encoded, while the helper works
            first = wire.dumps(
                ctx.store.get_metric_history_dicts(
                    run_id, key, non_finite=wire_double, steps=(None, middle)
                )
            )
    finally:
        later = pending.result()
    if later is None or ctx.store.data_version() != version:
        return None
    # The points of the two JSON arrays, one after the other in the answer's.
    return [orjson.Fragment(half[1:-1]) for half in (first, later) if half != b"[]"]


def list_artifacts(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    run = ctx.store.get_run(run_id_of(f))
    root = run.info.artifact_uri
    # The proxy's rules: `..` is refused in every percent-decoding of the path, not just this one.
    files = ctx.storage.repository(root).list_artifacts(checked_path(f["path"] or ""))
    out: dict[str, Any] = {"root_uri": root}
    if files:
        out["files"] = [info.to_dict() for info in files]
    return out


DATASET = (
    string("name", True),
    string("digest", True),
    string("source_type"),
    string("source"),
    string("schema"),
    string("profile"),
)
DATASET_INPUT = (
    Field("tags", Kind.MESSAGE, repeated=True, fields=KEY_VALUE),
    Field("dataset", Kind.MESSAGE, True, fields=DATASET),
)
RUN_REF = (RUN_ID, RUN_UUID)
# MLflow 3 metrics may name the logged model (and dataset) they were computed for.
MODEL_METRIC = (*METRIC, string("model_id"), string("dataset_name"), string("dataset_digest"))

_P = "/mlflow/runs"
ENDPOINTS = [
    Endpoint(
        f"{_P}/create",
        ("POST",),
        (
            string("experiment_id", doc="defaults to the Default experiment, 0"),
            string("user_id"),
            string("run_name"),
            int64("start_time", doc="milliseconds since the epoch"),
            TAGS,
        ),
        create,
        "Create a run",
        ("run",),
        bounded=True,
    ),
    Endpoint(
        f"{_P}/get", ("GET",), RUN_REF, get, "Get a run (deleted runs too)", ("run",), bounded=True
    ),
    Endpoint(
        f"{_P}/update",
        ("POST",),
        (*RUN_REF, string("status"), int64("end_time"), string("run_name")),
        update,
        "Update a run's status, end time or name",
        ("run_info",),
        bounded=True,
    ),
    Endpoint(f"{_P}/delete", ("POST",), RUN_REF, delete, "Delete a run", bounded=True),
    Endpoint(f"{_P}/restore", ("POST",), RUN_REF, restore, "Restore a deleted run", bounded=True),
    Endpoint(
        f"{_P}/log-metric",
        ("POST",),
        (*RUN_REF, *MODEL_METRIC),
        log_metric,
        "Log one metric point",
        bounded=True,
    ),
    Endpoint(
        f"{_P}/log-parameter",
        ("POST",),
        (*RUN_REF, string("key", True), string("value")),
        log_param,
        "Log a param (write-once)",
        bounded=True,
    ),
    Endpoint(
        f"{_P}/log-batch",
        ("POST",),
        (
            RUN_ID,
            Field("metrics", Kind.MESSAGE, repeated=True, fields=MODEL_METRIC, doc="at most 1000"),
            Field("params", Kind.MESSAGE, repeated=True, fields=KEY_VALUE, doc="at most 100"),
            TAGS,
        ),
        log_batch,
        "Log metrics, params and tags atomically",
        bounded=True,
    ),
    Endpoint(
        f"{_P}/log-model",
        ("POST",),
        (RUN_ID, string("model_json", True)),
        log_model,
        "Record a logged model's MLmodel on the run (MLflow 2.x clients)",
        bounded=True,
    ),
    Endpoint(
        f"{_P}/log-inputs",
        ("POST",),
        (RUN_ID, Field("datasets", Kind.MESSAGE, repeated=True, fields=DATASET_INPUT)),
        log_inputs,
        "Record the datasets a run used",
        bounded=True,
    ),
    Endpoint(
        f"{_P}/set-tag",
        ("POST",),
        (*RUN_REF, string("key", True), string("value")),
        set_tag,
        "Set a run tag",
        bounded=True,
    ),
    Endpoint(
        f"{_P}/delete-tag",
        ("POST",),
        (RUN_ID, string("key", True)),
        delete_tag,
        "Delete a tag",
        bounded=True,
    ),
    Endpoint(
        f"{_P}/search",
        ("POST",),
        (
            Field("experiment_ids", repeated=True),
            FILTER,
            Field("run_view_type", Kind.ENUM, enum=VIEW_TYPES, default="ACTIVE_ONLY"),
            Field("max_results", Kind.INT32, doc="page size, default 1000, at most 50000"),
            ORDER_BY,
            PAGE_TOKEN,
        ),
        search,
        "Search runs",
        ("runs", "next_page_token"),
        read_ahead=10_000,  # runs: ~5 MB of JSON
    ),
    Endpoint(
        "/mlflow/metrics/get-history",
        ("GET",),
        (
            *RUN_REF,
            string("metric_key", True),
            Field("max_results", Kind.INT32, doc="page size; all points when absent"),
            PAGE_TOKEN,
        ),
        get_history,
        "A metric's full history",
        ("metrics", "next_page_token"),
        read_ahead=100_000,  # points: ~8 MB of JSON (MLflow's client asks for 25,000)
    ),
    Endpoint(
        "/mlflow/artifacts/list",
        ("GET",),
        (*RUN_REF, string("path"), PAGE_TOKEN),
        list_artifacts,
        "List a run's artifacts (direct children of path)",
        ("root_uri", "files", "next_page_token"),
    ),
]
