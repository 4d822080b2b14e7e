"""Experiments: create, read, search, rename, delete/restore and tags (`/mlflow/experiments/*`)."""

from __future__ import annotations

from typing import Any

from cairn.entities import Experiment, ViewType
from cairn.exceptions import ResourceDoesNotExist
from cairn.server.context import ServerContext
from cairn.server.endpoints import Endpoint
from cairn.server.handlers.fields import (
    FILTER,
    ORDER_BY,
    PAGE_TOKEN,
    READABLE,
    TAGS,
    VIEW_TYPES,
    tag_dict,
)
from cairn.server.messages import Field, Kind, int64, string

EXPERIMENT_ID = string("experiment_id", True)


def experiment_dict(experiment: Experiment) -> dict[str, Any]:
    d = experiment.to_dict()
    if not d["tags"]:
        del d["tags"]
    return d


def create(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    location = f["artifact_location"] or None
    if location:
        ctx.storage.check_location(location)
    experiment_id = ctx.store.create_experiment(f["name"], location, tag_dict(f["tags"]))
    return {"experiment_id": experiment_id}


def get(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    return {"experiment": experiment_dict(ctx.store.get_experiment(f["experiment_id"]))}


def get_by_name(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    experiment = ctx.store.get_experiment_by_name(f["experiment_name"])
    if experiment is None:
        raise ResourceDoesNotExist(f"Could not find experiment with name '{f['experiment_name']}'")
    return {"experiment": experiment_dict(experiment)}


def search(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    page = ctx.store.search_experiments(
        view_type=ViewType.parse(f["view_type"]),
        max_results=f["max_results"],
        filter_string=f["filter"],
        order_by=f["order_by"],
        page_token=f["page_token"],
        readable=f.get(READABLE),
    )
    out: dict[str, Any] = {}
    if page:
        out["experiments"] = [experiment_dict(e) for e in page]
    if page.token:
        out["next_page_token"] = page.token
    return out


def delete(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.store.delete_experiment(f["experiment_id"])
    return {}


def restore(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.store.restore_experiment(f["experiment_id"])
    return {}


def update(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.store.rename_experiment(f["experiment_id"], f["new_name"])
    return {}


def set_tag(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.store.set_experiment_tag(f["experiment_id"], f["key"], f["value"] or "")
    return {}


def delete_tag(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.store.delete_experiment_tag(f["experiment_id"], f["key"])
    return {}


_P = "/mlflow/experiments"
ENDPOINTS = [
    Endpoint(
        f"{_P}/create",
        ("POST",),
        (string("name", True), string("artifact_location"), TAGS),
        create,
        "Create an experiment",
        ("experiment_id",),
        bounded=True,
    ),
    Endpoint(
        f"{_P}/get",
        ("GET",),
        (EXPERIMENT_ID,),
        get,
        "Get an experiment",
        ("experiment",),
        bounded=True,
    ),
    Endpoint(
        f"{_P}/get-by-name",
        ("GET",),
        (string("experiment_name", True),),
        get_by_name,
        "Get an experiment by name (an active one if there is one)",
        ("experiment",),
        bounded=True,
    ),
    Endpoint(
        f"{_P}/search",
        ("POST", "GET"),
        (
            int64("max_results", True, doc="page size, 1 to 50000"),
            PAGE_TOKEN,
            FILTER,
            ORDER_BY,
            Field("view_type", Kind.ENUM, enum=VIEW_TYPES, default="ACTIVE_ONLY"),
        ),
        search,
        "Search experiments",
        ("experiments", "next_page_token"),
    ),
    Endpoint(
        f"{_P}/delete", ("POST",), (EXPERIMENT_ID,), delete, "Delete an experiment and its runs"
    ),
    Endpoint(f"{_P}/restore", ("POST",), (EXPERIMENT_ID,), restore, "Restore a deleted experiment"),
    Endpoint(
        f"{_P}/update",
        ("POST",),
        (EXPERIMENT_ID, string("new_name", True)),
        update,
        "Rename an experiment",
        bounded=True,
    ),
    Endpoint(
        f"{_P}/set-experiment-tag",
        ("POST",),
        (EXPERIMENT_ID, string("key", True), string("value")),
        set_tag,
        "Set an experiment tag",
        bounded=True,
    ),
    Endpoint(
        f"{_P}/delete-experiment-tag",
        ("POST",),
        (EXPERIMENT_ID, string("key", True)),
        delete_tag,
        "Delete an experiment tag",
        bounded=True,
    ),
]
