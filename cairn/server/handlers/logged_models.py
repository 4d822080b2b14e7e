"""MLflow 3's logged models (`/mlflow/logged-models*`, spec §14.2) and `runs/outputs`.

Most of these routes carry the model's id in the path (`/mlflow/logged-models/{model_id}`);
the app merges path parameters into the request fields, so handlers read `f["model_id"]`
like any other field.
"""

from __future__ import annotations

from typing import Any

from cairn.entities import LoggedModel, LoggedModelOutput, LoggedModelStatus
from cairn.server.context import ServerContext
from cairn.server.endpoints import Endpoint
from cairn.server.handlers.fields import (
    FILTER,
    KEY_VALUE,
    PAGE_TOKEN,
    READABLE,
    TAGS,
    tag_dict,
)
from cairn.server.messages import Field, Kind, int64, string
from cairn.server.storage import checked_path
from cairn.transport.codec import wire_double

STATUSES = tuple(s.wire for s in LoggedModelStatus)


def model_dict(model: LoggedModel) -> dict[str, Any]:
    """The model in MLflow's JSON shape, non-finite metric values spelled as MLflow does."""
    d = model.to_dict()
    metrics = d["data"].get("metrics")
    if metrics:
        for m in metrics:
            m["value"] = wire_double(m["value"])
    return d


def create(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    model = ctx.store.create_logged_model(
        experiment_id=f["experiment_id"],
        name=f["name"],
        source_run_id=f["source_run_id"] or None,
        tags=tag_dict(f["tags"]),
        params=tag_dict(f["params"]),
        model_type=f["model_type"] or None,
    )
    return {"model": model_dict(model)}


def get(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    model = ctx.store.get_logged_model(f["model_id"], allow_deleted=bool(f["allow_deleted"]))
    return {"model": model_dict(model)}


def finalize(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    return {"model": model_dict(ctx.store.finalize_logged_model(f["model_id"], f["status"]))}


def delete(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.store.delete_logged_model(f["model_id"])
    return {}


def search(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    for experiment_id in f["experiment_ids"]:
        ctx.store.get_experiment(experiment_id)  # unknown ids are an error, not no models
    experiment_ids = f["experiment_ids"]
    readable = f.get(READABLE)
    if readable is not None:  # the caller's unreadable experiments are left out of the query
        experiment_ids = ctx.store.readable_experiments(experiment_ids, readable)
        if not experiment_ids:
            return {}
    page = ctx.store.search_logged_models(
        experiment_ids=experiment_ids,
        filter_string=f["filter"],
        datasets=f["datasets"],
        max_results=f["max_results"],
        order_by=f["order_by"],
        page_token=f["page_token"],
    )
    out: dict[str, Any] = {}
    if page:
        out["models"] = [model_dict(m) for m in page]
    if page.token:
        out["next_page_token"] = page.token
    return out


def set_tags(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.store.set_logged_model_tags(f["model_id"], tag_dict(f["tags"]))
    return {"model": model_dict(ctx.store.get_logged_model(f["model_id"]))}


def delete_tag(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.store.delete_logged_model_tag(f["model_id"], f["tag_key"])
    return {}


def log_params(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.store.log_logged_model_params(f["model_id"], tag_dict(f["params"]))
    return {}


def list_artifacts(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    root = ctx.store.get_logged_model(f["model_id"]).artifact_location
    path = checked_path(f["artifact_directory_path"] or "")  # the proxy's rules
    files = ctx.storage.repository(root).list_artifacts(path)
    out: dict[str, Any] = {"root_uri": root}
    if files:
        out["files"] = [info.to_dict() for info in files]
    return out


def log_outputs(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    models = [LoggedModelOutput(m["model_id"], m["step"] or 0) for m in f["models"]]
    ctx.store.log_outputs(f["run_id"], models)
    return {}


PARAMS = Field("params", Kind.MESSAGE, repeated=True, fields=KEY_VALUE, doc="key/value pairs")
ORDER_BY_FIELD = (
    string("field_name", True, doc="name, creation_timestamp, metrics.<key>, ..."),
    Field("ascending", Kind.BOOL, default=True),
    string("dataset_name"),
    string("dataset_digest"),
)
DATASET_REF = (string("dataset_name", True), string("dataset_digest"))
MODEL_OUTPUT = (string("model_id", True), int64("step", default=0))

_P = "/mlflow/logged-models"
_ONE = _P + "/{model_id}"
ENDPOINTS = [
    Endpoint(
        _P,
        ("POST",),
        (
            string("experiment_id", True),
            string("name", doc="generated when absent"),
            string("model_type"),
            string("source_run_id"),
            PARAMS,
            TAGS,
        ),
        create,
        "Create a logged model (status LOGGED_MODEL_PENDING)",
        ("model",),
        bounded=True,
    ),
    Endpoint(
        f"{_P}/search",
        ("POST",),
        (
            Field("experiment_ids", repeated=True),
            FILTER,
            Field("datasets", Kind.MESSAGE, repeated=True, fields=DATASET_REF),
            Field("max_results", Kind.INT32, doc="page size, default 100, at most 10000"),
            Field("order_by", Kind.MESSAGE, repeated=True, fields=ORDER_BY_FIELD),
            PAGE_TOKEN,
        ),
        search,
        "Search logged models",
        ("models", "next_page_token"),
    ),
    Endpoint(
        _ONE,
        ("GET",),
        (Field("allow_deleted", Kind.BOOL, default=False),),
        get,
        "Get a logged model",
        ("model",),
    ),
    Endpoint(
        _ONE,
        ("PATCH",),
        (Field("status", Kind.ENUM, True, enum=STATUSES),),
        finalize,
        "Finalize a logged model: set its status",
        ("model",),
        bounded=True,
    ),
    Endpoint(_ONE, ("DELETE",), (), delete, "Delete a logged model", bounded=True),
    Endpoint(
        f"{_ONE}/tags",
        ("PATCH",),
        (TAGS,),
        set_tags,
        "Set tags on a logged model",
        ("model",),
        bounded=True,
    ),
    Endpoint(
        f"{_ONE}/tags/{{tag_key}}",
        ("DELETE",),
        (),
        delete_tag,
        "Delete a logged model's tag",
        bounded=True,
    ),
    Endpoint(
        f"{_ONE}/params",
        ("POST",),
        (PARAMS,),
        log_params,
        "Log params on a logged model (write-once)",
        bounded=True,
    ),
    Endpoint(
        f"{_ONE}/artifacts/directories",
        ("GET",),
        (string("artifact_directory_path"), PAGE_TOKEN),
        list_artifacts,
        "List a logged model's artifacts (direct children of a directory)",
        ("root_uri", "files", "next_page_token"),
    ),
    Endpoint(
        "/mlflow/runs/outputs",
        ("POST",),
        (
            string("run_id", True),
            Field("models", Kind.MESSAGE, repeated=True, fields=MODEL_OUTPUT),
        ),
        log_outputs,
        "Record the logged models a run produced",
        bounded=True,
    ),
]
