"""Fluent logging: params, metrics, tags, artifacts and dataset inputs of the active run.

Every function writes to the active run of this thread, starting one if there is none (as
MLflow does), unless a `run_id` is given. Params, metrics and tags are queued and sent in the
background when the tracking store is remote (see `async_logging`); `synchronous=True`
writes before returning, `synchronous=False` queues with any store.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from cairn import entities
from cairn.entities import DATASET_CONTEXT_TAG, DatasetInput, InputTag, Param, RunTag
from cairn.tracking import async_logging
from cairn.tracking.async_logging import RunOperations
from cairn.tracking.client import CairnClient, make_metric, now_ms
from cairn.tracking.fluent import client_for_run, get_or_start_run


def _target(run_id: str | None = None) -> tuple[CairnClient, str]:
    rid = run_id or get_or_start_run().info.run_id
    return client_for_run(rid), rid


def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Record a param of the active run (write-once); returns `value`."""
    c, run_id = _target()
    return c.log_param(run_id, key, value, synchronous=synchronous)


def log_params(
    params: Mapping[str, Any], synchronous: bool | None = None, run_id: str | None = None
) -> RunOperations | None:
    """Record several params in one batch."""
    c, rid = _target(run_id)
    items = [Param(str(k), str(v)) for k, v in params.items()]
    return c.log_batch(rid, params=items, synchronous=synchronous)


def log_metric(
    key: str,
    value: Any,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
) -> RunOperations | None:
    """Record one metric point (step 0 and the current time unless given). Returns a
    `RunOperations` (its `wait()` flushes the run) when the point was queued, else None."""
    c, rid = _target(run_id)
    return c.log_metric(rid, key, value, timestamp=timestamp, step=step, synchronous=synchronous)


def log_metrics(
    metrics: Mapping[str, Any],
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
) -> RunOperations | None:
    """Record several metrics at one step and time, in one batch."""
    c, rid = _target(run_id)
    ts = now_ms() if timestamp is None else timestamp
    items = [make_metric(str(k), v, ts, step) for k, v in metrics.items()]
    return c.log_batch(rid, metrics=items, synchronous=synchronous)


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> RunOperations | None:
    c, run_id = _target()
    return c.set_tag(run_id, key, value, synchronous=synchronous)


def set_tags(tags: Mapping[str, Any], synchronous: bool | None = None) -> RunOperations | None:
    """Set several tags in one batch."""
    c, run_id = _target()
    items = [RunTag(str(k), str(v)) for k, v in tags.items()]
    return c.log_batch(run_id, tags=items, synchronous=synchronous)


def delete_tag(key: str) -> None:
    c, run_id = _target()
    c.delete_tag(run_id, key)


def log_artifact(
    local_path: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Upload a local file to the run's artifacts, under `artifact_path` if given."""
    c, rid = _target(run_id)
    c.log_artifact(rid, local_path, artifact_path)


def log_artifacts(
    local_dir: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Upload the contents of a local directory to the run's artifacts."""
    c, rid = _target(run_id)
    c.log_artifacts(rid, local_dir, artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    c, rid = _target(run_id)
    c.log_text(rid, text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save an object as JSON, or YAML when `artifact_file` ends in .yaml/.yml."""
    c, rid = _target(run_id)
    c.log_dict(rid, dictionary, artifact_file)


def log_figure(
    figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None
) -> None:
    """Save a matplotlib or plotly figure as `artifact_file`."""
    c, run_id = _target()
    c.log_figure(run_id, figure, artifact_file, save_kwargs=save_kwargs)


def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = None,
) -> None:
    """Save a PIL image or array, as `artifact_file` or as step `step` of series `key`."""
    c, run_id = _target()
    c.log_image(run_id, image, artifact_file, key=key, step=step, timestamp=timestamp)


def log_input(
    dataset: Any, context: str | None = None, tags: Mapping[str, Any] | None = None
) -> None:
    """Record that the active run used `dataset` (from `cairn.data`), e.g. context="training"."""
    input_tags = [InputTag(str(k), str(v)) for k, v in (tags or {}).items()]
    if context is not None:
        input_tags.append(InputTag(DATASET_CONTEXT_TAG, context))
    c, run_id = _target()
    c.log_inputs(run_id, [DatasetInput(dataset_entity(dataset), tuple(input_tags))])


def dataset_entity(dataset: Any) -> entities.Dataset:
    """The entity for a `cairn.data` dataset, an entity, or anything shaped like MLflow's."""
    if isinstance(dataset, entities.Dataset):
        return dataset
    if hasattr(dataset, "to_entity"):
        return dataset.to_entity()
    if hasattr(dataset, "_to_mlflow_entity"):
        dataset = dataset._to_mlflow_entity()
    try:
        return entities.Dataset(
            name=dataset.name,
            digest=dataset.digest,
            source_type=dataset.source_type,
            source=dataset.source,
            schema=getattr(dataset, "schema", None),
            profile=getattr(dataset, "profile", None),
        )
    except AttributeError:
        raise TypeError(
            f"log_input expects a dataset from cairn.data, got {type(dataset).__name__}."
        ) from None


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The URI of the active run's artifact root, or of `artifact_path` inside it."""
    run = get_or_start_run()
    root = run.info.artifact_uri
    if not artifact_path:
        return root
    from cairn.artifacts.paths import validate_artifact_path

    return f"{root.rstrip('/')}/{validate_artifact_path(artifact_path)}"


def flush_async_logging() -> None:
    """Wait until every queued param, metric and tag of this process is sent, then raise
    what failed (each failure once; several are listed in one exception's message)."""
    async_logging.queue().flush()


def flush() -> None:
    """Cairn's short name for `flush_async_logging`."""
    async_logging.queue().flush()
