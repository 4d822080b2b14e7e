"""The MLflow 3.x pieces a 3.x client calls even in 2.x-style workflows (spec §14.1).

`logged-models/search` is called on every `runs:/` download and artifact listing with a path;
Cairn records no logged-model entities yet, so the honest answer is an empty result.
`server-info` tells the client that artifact transfers go through the proxy in one piece
(no multipart uploads) and that workspaces are off.
"""

from __future__ import annotations

from typing import Any

from cairn.exceptions import InvalidParameterValue
from cairn.server.context import ServerContext
from cairn.server.endpoints import Endpoint
from cairn.server.handlers.fields import FILTER, PAGE_TOKEN
from cairn.server.messages import Field, Kind, string

LOGGED_MODELS_MAX_RESULTS = 10000


def search_logged_models(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    max_results = f["max_results"]
    if max_results is not None and not 0 < max_results <= LOGGED_MODELS_MAX_RESULTS:
        raise InvalidParameterValue(
            f"max_results must be between 1 and {LOGGED_MODELS_MAX_RESULTS}, got {max_results}"
        )
    for experiment_id in f["experiment_ids"]:
        ctx.store.get_experiment(experiment_id)  # unknown ids are an error, as in MLflow
    return {}


def server_info(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    return {
        "store_type": "SqlStore",
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
        "workspaces_enabled": False,
    }


ORDER_BY_FIELD = (
    string("field_name", True),
    Field("ascending", Kind.BOOL, default=True),
    string("dataset_name"),
    string("dataset_digest"),
)
DATASET_REF = (string("dataset_name", True), string("dataset_digest"))

ENDPOINTS = [
    Endpoint(
        "/mlflow/logged-models/search",
        ("POST",),
        (
            Field("experiment_ids", repeated=True),
            FILTER,
            Field("datasets", Kind.MESSAGE, repeated=True, fields=DATASET_REF),
            Field("max_results", Kind.INT32),
            Field("order_by", Kind.MESSAGE, repeated=True, fields=ORDER_BY_FIELD),
            PAGE_TOKEN,
        ),
        search_logged_models,
        "Search logged models (MLflow 3.x); none are recorded yet",
        ("models", "next_page_token"),
        bounded=True,
    ),
    Endpoint(
        "/mlflow/server-info",
        ("GET",),
        (),
        server_info,
        "What this server supports (MLflow 3.x clients ask before artifact transfers)",
        ("store_type", "multipart_uploads_enabled", "workspaces_enabled"),
        version="3.0",
        bounded=True,
    ),
]
