"""JSON on the wire: orjson both ways, with MLflow's spellings of non-finite doubles.

orjson writes NaN and ±inf as `null`; MLflow's protocol writes `"NaN"`, `"Infinity"` and
`"-Infinity"` (spelled once, in `cairn.transport.codec`, for client and server alike). Only
metric values can be non-finite, so the conversion happens where metrics are turned into dicts
(`point_dicts`, `run_dict`) instead of walking every response.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson

from cairn.entities import Metric, Run
from cairn.entities.metric import metric_fields
from cairn.exceptions import InvalidParameterValue
from cairn.gc_pause import paused_gc
from cairn.transport.codec import wire_double


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise InvalidParameterValue(f"Malformed JSON in request body: {e}") from None


def point_dicts(key: str, points: Sequence[tuple[int, int, float]]) -> list[dict[str, Any]]:
    """One metric's (step, timestamp, value) points: the history endpoint returns up to
    millions of them."""
    isfinite = math.isfinite
    with paused_gc():
        return [
            {
                "key": key,
                "value": value if isfinite(value) else wire_double(value),
                "timestamp": timestamp,
                "step": step,
            }
            for step, timestamp, value in points
        ]


def _metric_dicts(metrics: Sequence[Metric]) -> list[dict[str, Any]]:
    isfinite = math.isfinite
    out: list[dict[str, Any]] = []
    append = out.append
    for key, value, timestamp, step in map(metric_fields, metrics):
        if not isfinite(value):
            value = wire_double(value)
        append({"key": key, "value": value, "timestamp": timestamp, "step": step})
    return out


def with_wire_metrics(run_dicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs already in the REST shape (`SqlTrackingStore.search_run_dicts`) with non-finite
    metric values spelled for the wire, in place."""
    isfinite = math.isfinite
    for run in run_dicts:
        for metric in run["data"].get("metrics", ()):
            if not isfinite(metric["value"]):
                metric["value"] = wire_double(metric["value"])
    return run_dicts


def run_dict(run: Run) -> dict[str, Any]:
    """A run as MLflow sends it: latest metrics only, empty collections omitted.

    Called once per run of a search page; the caller pauses the garbage collector for pages.
    """
    data: dict[str, Any] = {}
    run_data = run.data
    if run_data.latest_metrics:
        data["metrics"] = _metric_dicts(run_data.latest_metrics)
    if run_data.params:
        data["params"] = [{"key": k, "value": v} for k, v in run_data.params.items()]
    if run_data.tags:
        data["tags"] = [{"key": k, "value": v} for k, v in run_data.tags.items()]
    inputs: dict[str, Any] = {}
    if run.inputs.dataset_inputs:
        inputs["dataset_inputs"] = [d.to_dict() for d in run.inputs.dataset_inputs]
    return {"info": run.info.to_dict(), "data": data, "inputs": inputs}
