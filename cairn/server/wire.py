"""JSON on the wire: orjson both ways, with MLflow's spellings of non-finite doubles.

orjson writes NaN and ±inf as `null`; MLflow's protocol writes `"NaN"`, `"Infinity"` and
`"-Infinity"` (spelled once, in `cairn.transport.codec`, for client and server alike). Only
metric values can be non-finite, so the conversion happens where metrics are turned into dicts
(`run_dict`; the store's `search_run_dicts` and `get_metric_history_dicts` take the spelling
as `non_finite`) instead of walking every response.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import orjson

from cairn.entities import Metric, Run
from cairn.entities.metric import metric_fields
from cairn.exceptions import InvalidParameterValue
from cairn.gc_pause import paused_gc
from cairn.transport.codec import wire_double


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


class Encoded(NamedTuple):
    """An answer encoded for the wire, and the call that frees what it was built from."""

    body: bytes
    token: str | None  # the answer's next_page_token
    release: Callable[[], None]


def encoded_answer(answer: Callable[[], Any]) -> Encoded:
    """`answer()` as JSON, with the cyclic garbage collector paused until `release()`; the
    token is the answer's `next_page_token` when it is an object.

    For the searches clients page through (`Endpoint.read_ahead`): a page of runs or of metric
    history is up to hundreds of thousands of dicts, built with the collector paused (nothing
    in them forms a cycle); a collection starting while they are still alive would walk them
    all to free nothing. So they stay paused until they are dropped, which the server does
    once the body is sent: freeing 100,000 history points takes ~6 ms, which the client then
    spends decoding instead of waiting. `release` may be called from any thread, more than
    once. The pause is shared by all threads, so it must be released, and not for every
    endpoint: requests overlapping without end would keep the collector off.
    """
    pause = contextlib.ExitStack()
    pause.enter_context(paused_gc())
    try:
        built = answer()
        body = dumps(built)
        token = built.get("next_page_token") if isinstance(built, dict) else None
    except BaseException:
        pause.close()
        raise
    held = [built]
    del built
    lock = threading.Lock()

    def release() -> None:
        with lock:
            held.clear()  # the answer's objects are freed here, under the pause
            pause.close()  # closing again does nothing

    return Encoded(body, token, release)


def loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise InvalidParameterValue(f"Malformed JSON in request body: {e}") from None


def _metric_dicts(metrics: Sequence[Metric]) -> list[dict[str, Any]]:
    isfinite = math.isfinite
    out: list[dict[str, Any]] = []
    append = out.append
    for key, value, timestamp, step in map(metric_fields, metrics):
        if not isfinite(value):
            value = wire_double(value)
        append({"key": key, "value": value, "timestamp": timestamp, "step": step})
    return out


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
