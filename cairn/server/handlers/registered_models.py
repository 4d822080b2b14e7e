"""Registered models: create, read, rename, update, delete, search, tags, latest versions
and aliases (`/mlflow/registered-models/*`)."""

from __future__ import annotations

from typing import Any

from cairn.server.context import ServerContext
from cairn.server.endpoints import Endpoint
from cairn.server.handlers.fields import FILTER, ORDER_BY, PAGE_TOKEN, READABLE, TAGS, tag_dict
from cairn.server.messages import Field, int64, string
from cairn.store.registry_base import SEARCH_REGISTERED_MODELS_DEFAULT

NAME = string("name", True, doc="the registered model's name")
ALIAS = string("alias", True, doc="an alias such as champion")
COMMENT = string("comment", doc="Cairn: a comment for the audit trail (MLflow clients omit it)")


def create(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    model = ctx.registry.create_registered_model(f["name"], tag_dict(f["tags"]), f["description"])
    return {"registered_model": model.to_dict()}


def get(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    return {"registered_model": ctx.registry.get_registered_model(f["name"]).to_dict()}


def rename(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    model = ctx.registry.rename_registered_model(f["name"], f["new_name"])
    return {"registered_model": model.to_dict()}


def update(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    model = ctx.registry.update_registered_model(f["name"], f["description"] or "")
    return {"registered_model": model.to_dict()}


def delete(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.registry.delete_registered_model(f["name"])
    return {}


def search(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    page = ctx.registry.search_registered_models(
        filter_string=f["filter"],
        max_results=f["max_results"],
        order_by=f["order_by"],
        page_token=f["page_token"],
        readable=f.get(READABLE),  # set by the auth gate: unreadable models left out in SQL
    )
    out: dict[str, Any] = {}
    if page:
        out["registered_models"] = [m.to_dict() for m in page]
    if page.token:
        out["next_page_token"] = page.token
    return out


def latest_versions(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    versions = ctx.registry.get_latest_versions(f["name"], f["stages"] or None)
    return {"model_versions": [v.to_dict() for v in versions]} if versions else {}


def set_tag(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.registry.set_registered_model_tag(f["name"], f["key"], f["value"] or "")
    return {}


def delete_tag(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.registry.delete_registered_model_tag(f["name"], f["key"])
    return {}


def set_alias(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.registry.set_registered_model_alias(f["name"], f["alias"], f["version"], f["comment"])
    return {}


def delete_alias(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.registry.delete_registered_model_alias(f["name"], f["alias"], f["comment"])
    return {}


def get_by_alias(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    version = ctx.registry.get_model_version_by_alias(f["name"], f["alias"])
    return {"model_version": version.to_dict()}


_P = "/mlflow/registered-models"
ENDPOINTS = [
    Endpoint(
        f"{_P}/create",
        ("POST",),
        (NAME, TAGS, string("description")),
        create,
        "Create a registered model",
        ("registered_model",),
        bounded=True,
    ),
    Endpoint(f"{_P}/get", ("GET",), (NAME,), get, "Get a registered model", ("registered_model",)),
    Endpoint(
        f"{_P}/rename",
        ("POST",),
        (NAME, string("new_name", True)),
        rename,
        "Rename a registered model (its versions and aliases follow)",
        ("registered_model",),
    ),
    Endpoint(
        f"{_P}/update",
        ("PATCH",),
        (NAME, string("description")),
        update,
        "Update a registered model's description",
        ("registered_model",),
    ),
    Endpoint(
        f"{_P}/delete",
        ("DELETE",),
        (NAME,),
        delete,
        "Delete a registered model with all its versions, tags and aliases",
    ),
    Endpoint(
        f"{_P}/search",
        ("GET",),
        (
            FILTER,
            int64(
                "max_results",
                default=SEARCH_REGISTERED_MODELS_DEFAULT,
                doc="page size, 1 to 1000 (default 100)",
            ),
            ORDER_BY,
            PAGE_TOKEN,
        ),
        search,
        "Search registered models",
        ("registered_models", "next_page_token"),
    ),
    Endpoint(
        f"{_P}/get-latest-versions",
        ("POST", "GET"),
        (NAME, Field("stages", repeated=True, doc="stages to look in (all when absent)")),
        latest_versions,
        "The newest version in each stage",
        ("model_versions",),
    ),
    Endpoint(
        f"{_P}/set-tag",
        ("POST",),
        (NAME, string("key", True), string("value")),
        set_tag,
        "Set a registered model tag",
        bounded=True,
    ),
    Endpoint(
        f"{_P}/delete-tag",
        ("DELETE",),
        (NAME, string("key", True)),
        delete_tag,
        "Delete a registered model tag (a missing tag is not an error)",
        bounded=True,
    ),
    Endpoint(
        f"{_P}/alias",
        ("POST",),
        (NAME, ALIAS, string("version", True), COMMENT),
        set_alias,
        "Point an alias at a version (moving it if it exists); promotion policies apply",
    ),
    Endpoint(
        f"{_P}/alias",
        ("DELETE",),
        (NAME, ALIAS, COMMENT),
        delete_alias,
        "Delete an alias (a missing alias is not an error)",
        bounded=True,
    ),
    Endpoint(
        f"{_P}/alias",
        ("GET",),
        (NAME, ALIAS),
        get_by_alias,
        "The version an alias points at",
        ("model_version",),
        bounded=True,
    ),
]
