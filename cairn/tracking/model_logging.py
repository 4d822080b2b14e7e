"""`log_model` for every flavor: save, upload, record the logged model, register.

MLflow 3 records each logged model as an entity of its own (`models:/m-<id>`) whose files live
at the model's artifact location, linked to the run that produced it; Cairn does the same, so
the MLflow client, the UI and `runs:/<run_id>/<name>` all find Cairn's models. A flavor only
says how to save itself into a directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.exceptions import InvalidParameterValue
from cairn.tracking.model_download import CHECKSUMS_TAG

if TYPE_CHECKING:
    from cairn.entities import ModelVersion
    from cairn.models.mlmodel import Model
    from cairn.models.signature import ModelSignature
    from cairn.tracking.client import CairnClient


# save(directory, mlmodel) writes a complete model directory; `mlmodel` carries the ids.
Saver = Callable[[Path, "Model"], "Model"]


@dataclass(frozen=True)
class ModelInfo:
    """What `log_model` returns (MLflow's `ModelInfo` fields)."""

    model_id: str
    model_uri: str
    """`models:/<model_id>`: loads the model wherever the tracking server is reachable."""
    name: str
    run_id: str | None
    artifact_path: str
    flavors: dict[str, Any]
    signature: ModelSignature | None
    saved_input_example_info: dict[str, Any] | None
    model_uuid: str
    utc_time_created: str | None
    metadata: dict[str, Any] | None
    registered_model_version: int | None = None

    @property
    def runs_uri(self) -> str | None:
        """`runs:/<run_id>/<name>` for a model logged in a run."""
        return f"runs:/{self.run_id}/{self.name}" if self.run_id else None


def log_model(
    save: Saver,
    *,
    name: str | None,
    registered_model_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    model_type: str | None = None,
    step: int = 0,
    client: CairnClient | None = None,
) -> ModelInfo:
    """Log a model to the active run, or to the active experiment when no run is active."""
    from cairn.models.integrity import MANIFEST_FILE
    from cairn.models.mlmodel import Model
    from cairn.tracking import fluent

    if name is not None and (not name or "/" in name.strip("/")):
        raise InvalidParameterValue(f"Invalid model name {name!r}: one path segment expected")
    client = client or fluent.client()
    run = fluent.active_run()
    run_id = run.info.run_id if run is not None else None
    experiment_id = run.info.experiment_id if run is not None else fluent.get_experiment_id()
    logged = client.create_logged_model(
        experiment_id,
        name=name.strip("/") if name else None,
        source_run_id=run_id,
        tags={str(k): str(v) for k, v in (tags or {}).items()},
        params={str(k): str(v) for k, v in (params or {}).items()},
        model_type=model_type,
    )
    model_id = logged.model_id
    try:
        with tempfile.TemporaryDirectory(prefix="cairn-model-") as tmp:
            directory = Path(tmp, "model")
            mlmodel = Model(
                artifact_path=logged.artifact_location,
                run_id=run_id,
                model_uuid=model_id,
                model_id=model_id,
            )
            saved = save(directory, mlmodel)
            digest = hashlib.sha256((directory / MANIFEST_FILE).read_bytes()).hexdigest()
            client.logged_model_artifact_repository(model_id).log_artifacts(directory)
        client.set_logged_model_tags(model_id, {CHECKSUMS_TAG: digest})
        if run_id is not None:
            client.log_outputs(run_id, [(model_id, step)])
    except BaseException:
        # The original error is the one to see, even if marking the failure fails too.
        with contextlib.suppress(Exception):
            client.finalize_logged_model(model_id, "UPLOAD_FAILED")
        raise
    client.finalize_logged_model(model_id, "READY")
    version = None
    if registered_model_name:
        version = _register(client, f"models:/{model_id}", registered_model_name, run_id)
    return ModelInfo(
        model_id=model_id,
        model_uri=f"models:/{model_id}",
        name=logged.name,
        run_id=run_id,
        artifact_path=logged.artifact_location,
        flavors=dict(saved.flavors),
        signature=saved.signature,
        saved_input_example_info=saved.saved_input_example_info,
        model_uuid=saved.model_uuid,
        utc_time_created=saved.utc_time_created,
        metadata=saved.metadata,
        registered_model_version=int(version.version) if version is not None else None,
    )


_LOG_OPTIONS = ("registered_model_name", "tags", "params", "model_type", "step")


def log_flavor_model(
    save_model: Callable[..., Model],
    model: Any,
    name: str | None,
    options: dict[str, Any],
) -> ModelInfo:
    """What every flavor's `log_model(model, name, **options)` does: the logging options
    (`registered_model_name`, `tags`, `params`, `model_type`, `step`; MLflow's
    `await_registration_for` is accepted and ignored, registration being synchronous) go to
    `log_model`, everything else to the flavor's `save_model(model, directory, ...)`."""
    options.pop("await_registration_for", None)
    logging = {key: options.pop(key) for key in _LOG_OPTIONS if key in options}
    return log_model(
        lambda directory, mlmodel: save_model(model, directory, mlmodel=mlmodel, **options),
        name=name,
        **logging,
    )


def _register(client: CairnClient, source: str, name: str, run_id: str | None) -> ModelVersion:
    from cairn.exceptions import ResourceAlreadyExists

    with contextlib.suppress(ResourceAlreadyExists):
        client.create_registered_model(name)
    return client.create_model_version(name, source, run_id=run_id)
