"""The scoring server's Prometheus metrics, answered at `GET /metrics`.

    cairn_serving_requests_total{path, status}            counter
    cairn_serving_request_duration_seconds{path}           histogram (seconds, server-side)
    cairn_serving_rows_scored_total                        counter (rows of successful predictions)
    cairn_serving_model_info{model_uri, model_uuid, run_id} gauge, always 1

Each `ScoringMetrics` has a registry of its own, so several apps in one process (tests) never
share counts. With several worker processes the CLI points `PROMETHEUS_MULTIPROC_DIR` at a
fresh directory before the workers start: each worker writes its values there and a scrape
of any worker adds them all up (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Latency buckets from half a millisecond (a small model's whole request) to a minute.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60)
PATHS = frozenset(("/invocations", "/ping", "/health", "/version", "/metadata", "/metrics"))


class ScoringMetrics:
    """Request counts by path and status, latencies and rows scored."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "cairn_serving_requests",
            "Requests answered, by path and HTTP status.",
            ("path", "status"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "cairn_serving_request_duration_seconds",
            "Time from a request's arrival to its answer, by path.",
            ("path",),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            "cairn_serving_rows_scored",
            "Input rows of successful predictions.",
            registry=self.registry,
        )
        self.info = Gauge(
            "cairn_serving_model_info",
            "The model being served (always 1).",
            ("model_uri", "model_uuid", "run_id"),
            registry=self.registry,
            multiprocess_mode="max",
        )
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    def set_model(self, model_uri: str, model_uuid: str | None, run_id: str | None) -> None:
        self.info.labels(model_uri, model_uuid or "", run_id or "").set(1)

    def observe(self, path: str, status: int, seconds: float, rows: int = 0) -> None:
        """Count one answered request. Unknown paths share one label, so a scanner probing
        URLs cannot grow the series without bound."""
        label = path if path in PATHS else "other"
        key = (label, status)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(label, str(status)), self.duration.labels(label))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if rows:
            self.rows.inc(rows)

    def exposition(self) -> bytes:
        """The text exposition format: this process's values, or every worker's when the
        multiprocess directory is set."""
        if os.environ.get(MULTIPROC_ENV):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
