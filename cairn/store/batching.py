"""Split a large log_batch into requests every store and server accepts.

The reference server refuses more than 1000 metrics, 100 params, 100 tags or 1000 entities
in one request, so bigger batches are cut into chunks: by the client before they reach any
store, and by the REST store before they go on the wire. Params and tags go first (they are
few, and a param conflict should fail before thousands of metrics are written).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from cairn.entities import Metric, Param, RunTag
from cairn.store.validation import (
    MAX_ENTITIES_PER_BATCH,
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH,
)


@dataclass(frozen=True, slots=True)
class Chunk:
    metrics: list[Metric]
    params: list[Param]
    tags: list[RunTag]


def chunk_batch(
    metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
) -> Iterator[Chunk]:
    """Yield chunks within every per-request limit, in order; nothing for an empty batch."""
    m = p = t = 0
    while m < len(metrics) or p < len(params) or t < len(tags):
        chunk_params = list(params[p : p + MAX_PARAMS_TAGS_PER_BATCH])
        chunk_tags = list(tags[t : t + MAX_PARAMS_TAGS_PER_BATCH])
        room = MAX_ENTITIES_PER_BATCH - len(chunk_params) - len(chunk_tags)
        chunk_metrics = list(metrics[m : m + min(room, MAX_METRICS_PER_BATCH)])
        p += len(chunk_params)
        t += len(chunk_tags)
        m += len(chunk_metrics)
        yield Chunk(chunk_metrics, chunk_params, chunk_tags)
