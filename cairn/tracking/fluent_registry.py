"""The fluent API's model registry entry point: `cairn.register_model` (MLflow's name)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from cairn.entities import ModelVersion
from cairn.exceptions import ResourceAlreadyExists
from cairn.tracking.fluent import client


def register_model(
    model_uri: str,
    name: str,
    *,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> ModelVersion:
    """Register the model at `model_uri` as a new version of `name`, creating the model first
    if it does not exist yet.

    `model_uri` is `runs:/<run_id>/<path>` (the run is recorded on the version), a
    `models:/…` URI, or an artifact URI inside the artifact store. The registry copies the
    files, so the version keeps working after the run is deleted.
    """
    c = client()
    with contextlib.suppress(ResourceAlreadyExists):  # another version of an existing model
        c.create_registered_model(name)
    run_id = None
    if model_uri.lower().startswith("runs:"):
        run_id = model_uri.split(":", 1)[1].lstrip("/").partition("/")[0] or None
    return c.create_model_version(
        name, model_uri, run_id=run_id, tags=tags, description=description
    )
