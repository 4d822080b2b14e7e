"""Model versions: create (copying the source's files), read, update, stage transitions,
delete, search, download URI and tags (`/mlflow/model-versions/*`)."""

from __future__ import annotations

from typing import Any

from cairn.server.context import ServerContext
from cairn.server.endpoints import Endpoint
from cairn.server.handlers.fields import FILTER, ORDER_BY, PAGE_TOKEN, READABLE, TAGS, tag_dict
from cairn.server.messages import Field, Kind, int64, string
from cairn.store.registry_base import SEARCH_MODEL_VERSIONS_DEFAULT

NAME = string("name", True, doc="the registered model's name")
VERSION = string("version", True, doc="the version number, as a string")


def create(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    version = ctx.registry.create_model_version(
        f["name"],
        f["source"],
        run_id=f["run_id"] or None,
        tags=tag_dict(f["tags"]),
        run_link=f["run_link"],
        description=f["description"],
    )
    return {"model_version": version.to_dict()}


def get(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    return {"model_version": ctx.registry.get_model_version(f["name"], f["version"]).to_dict()}


def update(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    version = ctx.registry.update_model_version(f["name"], f["version"], f["description"] or "")
    return {"model_version": version.to_dict()}


def transition(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    version = ctx.registry.transition_model_version_stage(
        f["name"],
        f["version"],
        f["stage"],
        bool(f["archive_existing_versions"]),
        comment=f["comment"],
    )
    return {"model_version": version.to_dict()}


def delete(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.registry.delete_model_version(f["name"], f["version"])
    return {}


def search(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    page = ctx.registry.search_model_versions(
        filter_string=f["filter"],
        max_results=f["max_results"],
        order_by=f["order_by"],
        page_token=f["page_token"],
        readable=f.get(READABLE),  # set by the auth gate: unreadable models left out in SQL
    )
    out: dict[str, Any] = {}
    if page:
        out["model_versions"] = [v.to_dict() for v in page]
    if page.token:
        out["next_page_token"] = page.token
    return out


def download_uri(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    return {"artifact_uri": ctx.registry.get_model_version_download_uri(f["name"], f["version"])}


def set_tag(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.registry.set_model_version_tag(f["name"], f["version"], f["key"], f["value"] or "")
    return {}


def delete_tag(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.registry.delete_model_version_tag(f["name"], f["version"], f["key"])
    return {}


_P = "/mlflow/model-versions"
ENDPOINTS = [
    Endpoint(
        f"{_P}/create",
        ("POST",),
        (
            NAME,
            string("source", True, doc="runs:/<run_id>/<path>, models:/… or an artifact URI"),
            string("run_id"),
            TAGS,
            string("run_link"),
            string("description"),
            string("model_id", doc="MLflow 3.x logged-model id; not used"),
        ),
        create,
        "Register a new version of a model; its files are copied into the registry",
        ("model_version",),
    ),
    Endpoint(
        f"{_P}/get",
        ("GET",),
        (NAME, VERSION),
        get,
        "Get a model version",
        ("model_version",),
        bounded=True,
    ),
    Endpoint(
        f"{_P}/update",
        ("PATCH",),
        (NAME, VERSION, string("description")),
        update,
        "Update a model version's description",
        ("model_version",),
        bounded=True,
    ),
    Endpoint(
        f"{_P}/transition-stage",
        ("POST",),
        (
            NAME,
            VERSION,
            string("stage", True, doc="None, Staging, Production or Archived (any case)"),
            Field("archive_existing_versions", Kind.BOOL, default=False),
            string("comment", doc="Cairn: a comment for the audit trail (MLflow clients omit it)"),
        ),
        transition,
        "Move a version to another stage; promotion policies apply",
        ("model_version",),
    ),
    Endpoint(
        f"{_P}/delete",
        ("DELETE",),
        (NAME, VERSION),
        delete,
        "Delete a model version (its tags, aliases and files)",
    ),
    Endpoint(
        f"{_P}/search",
        ("GET",),
        (
            FILTER,
            int64(
                "max_results",
                default=SEARCH_MODEL_VERSIONS_DEFAULT,
                doc="page size, 1 to 200000 (default 10000)",
            ),
            ORDER_BY,
            PAGE_TOKEN,
        ),
        search,
        "Search model versions",
        ("model_versions", "next_page_token"),
    ),
    Endpoint(
        f"{_P}/get-download-uri",
        ("GET",),
        (NAME, VERSION),
        download_uri,
        "Where a version's files are downloaded from",
        ("artifact_uri",),
        bounded=True,
    ),
    Endpoint(
        f"{_P}/set-tag",
        ("POST",),
        (NAME, VERSION, string("key", True), string("value")),
        set_tag,
        "Set a model version tag",
        bounded=True,
    ),
    Endpoint(
        f"{_P}/delete-tag",
        ("DELETE",),
        (NAME, VERSION, string("key", True)),
        delete_tag,
        "Delete a model version tag (a missing tag is not an error)",
        bounded=True,
    ),
]
