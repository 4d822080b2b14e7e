"""RestTrackingStore: the tracking store protocol over a server's REST API (MLflow's 2.0 API).

Each method is one call (a few for big batches and full histories) with MLflow's paths,
methods and field names, so it works against `cairn server` and `mlflow server` alike. The
server validates; this class only shapes requests and parses answers with the entities'
`from_dict` helpers.

Every call says whether repeating it is harmless (`idempotent=True`): reads, searches,
upserts, run delete/restore and metric/param logging (a metric point carries its timestamp,
a param may be logged again with the same value). Creates and deletes that fail when repeated
are sent once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from cairn.entities import (
    DatasetInput,
    Experiment,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from cairn.exceptions import ResourceDoesNotExist
from cairn.store import validation
from cairn.store.base import SEARCH_MAX_RESULTS_DEFAULT
from cairn.store.batching import chunk_batch
from cairn.store.rest.logged_models import RestLoggedModelMethods
from cairn.transport import HttpTransport, shared_transport

API = "/api/2.0/mlflow"
HISTORY_PAGE_SIZE = 25_000
"""Points per request when streaming a whole metric history (bounded memory)."""


class RestTrackingStore(RestLoggedModelMethods):
    """A `TrackingStore` backed by a tracking server at `tracking_uri` (`http(s)://…`).

    Thread-safe; `for_uri` shares one per server and process. `transport` replaces the
    shared HTTP transport (tests, custom retry or credential settings).
    """

    _cache: dict[tuple[int, str], RestTrackingStore] = {}
    _cache_lock = threading.Lock()

    def __init__(self, tracking_uri: str, transport: HttpTransport | None = None) -> None:
        self.tracking_uri = tracking_uri.rstrip("/")
        self.transport = transport or shared_transport(self.tracking_uri)

    @classmethod
    def for_uri(cls, tracking_uri: str) -> RestTrackingStore:
        """The shared store of a server (per process: a fork gets its own connections)."""
        key = (os.getpid(), tracking_uri.rstrip("/"))
        with cls._cache_lock:
            store = cls._cache.get(key)
            if store is None:
                store = cls._cache[key] = cls(tracking_uri)
            return store

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.transport.base_url!r})"

    def close(self) -> None:
        """Drop pooled connections; the store reconnects if used again."""
        self.transport.close()

    def _get(self, path: str, **fields: Any) -> dict[str, Any]:
        return self.transport.call("GET", API + path, fields, idempotent=True)

    def _post(self, path: str, fields: dict[str, Any], *, idempotent: bool) -> dict[str, Any]:
        return self.transport.call("POST", API + path, _drop_none(fields), idempotent=idempotent)

    # -- experiments -------------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        body = {"name": name, "artifact_location": artifact_location, "tags": _pairs(tags)}
        return str(self._post("/experiments/create", body, idempotent=False)["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        found = self._get("/experiments/get", experiment_id=experiment_id)
        return Experiment.from_dict(found["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            found = self._get("/experiments/get-by-name", experiment_name=name)
        except ResourceDoesNotExist:
            return None
        return Experiment.from_dict(found["experiment"])

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        body = {
            "view_type": ViewType.parse(view_type).value,
            "max_results": max_results,
            "filter": filter_string or None,
            "order_by": list(order_by) if order_by else None,
            "page_token": page_token or None,
        }
        found = self._post("/experiments/search", body, idempotent=True)
        experiments = [Experiment.from_dict(e) for e in found.get("experiments", [])]
        return PagedList(experiments, found.get("next_page_token") or None)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        body = {"experiment_id": experiment_id, "new_name": new_name}
        self._post("/experiments/update", body, idempotent=True)

    def delete_experiment(self, experiment_id: str) -> None:
        # Not idempotent on the wire: deleting a deleted experiment is an error.
        self._post("/experiments/delete", {"experiment_id": experiment_id}, idempotent=False)

    def restore_experiment(self, experiment_id: str) -> None:
        self._post("/experiments/restore", {"experiment_id": experiment_id}, idempotent=False)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        body = {"experiment_id": experiment_id, "key": key, "value": value}
        self._post("/experiments/set-experiment-tag", body, idempotent=True)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        body = {"experiment_id": experiment_id, "key": key}
        self._post("/experiments/delete-experiment-tag", body, idempotent=False)

    # -- runs --------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str = "",
        start_time: int | None = None,
        tags: Sequence[RunTag] = (),
        run_name: str | None = None,
    ) -> Run:
        body = {
            "experiment_id": experiment_id,
            "user_id": user_id or None,
            "start_time": _int(start_time, "start_time"),
            "tags": [t.to_dict() for t in tags] or None,
            "run_name": run_name or None,
        }
        return Run.from_dict(self._post("/runs/create", body, idempotent=False)["run"])

    def get_run(self, run_id: str) -> Run:
        return Run.from_dict(self._get("/runs/get", run_id=run_id)["run"])

    def update_run_info(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        body = {
            "run_id": run_id,
            "status": None if status is None else RunStatus(str(status)).value,
            "end_time": _int(end_time, "end_time"),
            "run_name": run_name or None,
        }
        found = self._post("/runs/update", body, idempotent=True)
        return RunInfo.from_dict(found["run_info"])

    def delete_run(self, run_id: str) -> None:
        self._post("/runs/delete", {"run_id": run_id}, idempotent=True)

    def restore_run(self, run_id: str) -> None:
        self._post("/runs/restore", {"run_id": run_id}, idempotent=True)

    # -- run data ----------------------------------------------------------------------------
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Send the batch, split into requests within the server's per-request limits.

        Each request is atomic on the server; a batch that needs several is not.
        """
        for chunk in chunk_batch(metrics, params, tags):
            body = {
                "run_id": run_id,
                "metrics": [metric_body(m) for m in chunk.metrics],
                "params": [p.to_dict() for p in chunk.params],
                "tags": [t.to_dict() for t in chunk.tags],
            }
            self._post("/runs/log-batch", body, idempotent=True)

    def log_metric(self, run_id: str, metric: Metric) -> None:
        body = {"run_id": run_id, **metric_body(metric)}
        self._post("/runs/log-metric", body, idempotent=True)

    def log_param(self, run_id: str, param: Param) -> None:
        body = {"run_id": run_id, "key": param.key, "value": param.value}
        self._post("/runs/log-parameter", body, idempotent=True)

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        body = {"run_id": run_id, "key": tag.key, "value": tag.value}
        self._post("/runs/set-tag", body, idempotent=True)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._post("/runs/delete-tag", {"run_id": run_id, "key": key}, idempotent=False)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        body = {"run_id": run_id, "datasets": [d.to_dict() for d in datasets]}
        self._post("/runs/log-inputs", body, idempotent=True)

    def get_metric_history(
        self,
        run_id: str,
        metric_key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        found = self._get(
            "/metrics/get-history",
            run_id=run_id,
            metric_key=metric_key,
            max_results=max_results,
            page_token=page_token or None,
        )
        points = [Metric.from_dict(m) for m in found.get("metrics", [])]
        return PagedList(points, found.get("next_page_token") or None)

    def iter_metric_history(self, run_id: str, metric_key: str) -> Iterator[Metric]:
        """The whole history, fetched a page at a time so memory stays bounded."""
        token: str | None = None
        while True:
            page = self.get_metric_history(run_id, metric_key, HISTORY_PAGE_SIZE, token)
            yield from page
            if not page.token:
                return
            token = page.token

    # -- search ------------------------------------------------------------------------------
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        body = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter": filter_string or None,
            "run_view_type": ViewType.parse(run_view_type).value,
            "max_results": max_results,
            "order_by": list(order_by) if order_by else None,
            "page_token": page_token or None,
        }
        found = self._post("/runs/search", body, idempotent=True)
        runs = [Run.from_dict(r) for r in found.get("runs", [])]
        return PagedList(runs, found.get("next_page_token") or None)


def metric_body(metric: Metric) -> dict[str, Any]:
    """A metric point as the API takes it, checked as every store checks it.

    NumPy scalars become plain numbers; strings and bools are refused here with the SQL
    store's message (JSON would let "1.0" pass as a number on some servers).
    """
    value, timestamp, step = validation.metric_fields(metric)
    return {"key": metric.key, "value": value, "timestamp": timestamp, "step": step}


def _int(value: Any, what: str) -> int | None:
    return None if value is None else validation.as_int64(value, what)


def _pairs(mapping: dict[str, str] | None) -> list[dict[str, str]] | None:
    return [{"key": k, "value": v} for k, v in mapping.items()] if mapping else None


def _drop_none(fields: dict[str, Any]) -> dict[str, Any]:
    """Unset fields are left out, as the protocol's clients do."""
    return {k: v for k, v in fields.items() if v is not None}
