"""CairnClient: the low-level, run-id based API (MLflow's `MlflowClient`).

Thin by design: the store validates and raises `cairn.exceptions`; the client fills defaults
(timestamps, steps), converts Python values to the wire types (params and tags are strings,
metrics floats), splits big batches, and moves artifacts between local files and a run's
artifact root. Artifact methods live in `ArtifactMethods` (`client_artifacts.py`), model
registry methods in `RegistryMethods` (`client_registry.py`), registry governance (audit,
policies, transition requests, webhooks) in `GovernanceMethods` (`client_governance.py`).

With a remote store, `log_metric`, `log_param`, `set_tag` and `log_batch` queue their values
for a background sender (`async_logging`) and return at once; `synchronous=True` or
CAIRN_SYNCHRONOUS_LOGGING=true writes before returning, `synchronous=False` queues with any
store. Every other call reaches the store through `SyncedStore`, which first waits for queued
writes, so reads see this process's own writes.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from cairn import settings
from cairn.entities import (
    DatasetInput,
    Experiment,
    Metric,
    PagedList,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from cairn.exceptions import InvalidParameterValue
from cairn.store.base import SEARCH_MAX_RESULTS_DEFAULT
from cairn.tracking import async_logging
from cairn.tracking.async_logging import RunOperations, SyncedStore
from cairn.tracking.batching import chunk_batch
from cairn.tracking.client_artifacts import ArtifactMethods
from cairn.tracking.client_governance import GovernanceMethods
from cairn.tracking.client_logged_models import LoggedModelMethods
from cairn.tracking.client_registry import RegistryMethods
from cairn.tracking.tracking_uri import resolve_artifact_root, resolve_tracking_uri

if TYPE_CHECKING:
    from cairn.store.base import TrackingStore

USER_TAG = "mlflow.user"
PARENT_RUN_ID_TAG = "mlflow.parentRunId"


def now_ms() -> int:
    return int(time.time() * 1000)


class CairnClient(ArtifactMethods, RegistryMethods, GovernanceMethods, LoggedModelMethods):
    """Talks to one tracking store. Cheap to create: stores are shared per database.

    `tracking_uri` follows the usual resolution order when None (see `cairn.tracking
    .tracking_uri`). `store` plugs in a ready store instead (tests, embedding a server).
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        registry_uri: str | None = None,
        *,
        store: TrackingStore | None = None,
    ) -> None:
        super().__init__()
        if store is None:
            from cairn.store import get_tracking_store

            self._tracking_uri = resolve_tracking_uri(tracking_uri)
            store = get_tracking_store(
                self._tracking_uri, resolve_artifact_root(self._tracking_uri)
            )
        else:
            self._tracking_uri = tracking_uri or str(getattr(store, "db_uri", ""))
        self._raw_store = store
        # Every method reaches the store through this view, which first waits for queued
        # writes; only the sender thread uses the raw store.
        self._store: TrackingStore = cast("TrackingStore", SyncedStore(store))
        self._registry_uri = registry_uri or self._tracking_uri
        self._remote = _is_remote(store, self._tracking_uri)

    @property
    def tracking_uri(self) -> str:
        return self._tracking_uri

    @property
    def store(self) -> TrackingStore:
        return self._raw_store

    def flush(self, run_id: str | None = None) -> None:
        """Wait until every value queued by asynchronous logging in this process is sent,
        then raise what failed (only failures of `run_id`, when given), each failure once."""
        async_logging.queue().flush(run_id)

    def _queues(self, synchronous: bool | None) -> bool:
        """Whether a logging call is queued: as told, else for remote stores unless
        CAIRN_SYNCHRONOUS_LOGGING is set."""
        if synchronous is not None:
            return not synchronous
        return self._remote and not settings.SYNCHRONOUS_LOGGING.get_bool()

    def _enqueue(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> RunOperations:
        """Check the values as the store would (so bad input raises here, now) and queue."""
        async_logging.queue().put(
            self._raw_store,
            run_id,
            async_logging.checked_metrics(metrics),
            async_logging.checked_params(params),
            async_logging.checked_tags(tags),
        )
        return RunOperations(run_id)

    def __repr__(self) -> str:
        return f"CairnClient(tracking_uri={self._tracking_uri!r})"

    # -- experiments -------------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        """Create an experiment and return its id (names are unique, deleted ones included)."""
        return self._store.create_experiment(name, artifact_location, _str_values(tags))

    def get_experiment(self, experiment_id: str | int) -> Experiment:
        return self._store.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment called `name` (active or deleted), or None."""
        return self._store.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: ViewType | str | int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """One page of experiments; pass `.token` of the result as `page_token` for the next."""
        return self._store.search_experiments(
            ViewType.parse(view_type), max_results, filter_string, _as_list(order_by), page_token
        )

    def rename_experiment(self, experiment_id: str | int, new_name: str) -> None:
        self._store.rename_experiment(str(experiment_id), new_name)

    def delete_experiment(self, experiment_id: str | int) -> None:
        """Soft-delete the experiment and its runs; `restore_experiment` undoes it."""
        self._store.delete_experiment(str(experiment_id))

    def restore_experiment(self, experiment_id: str | int) -> None:
        self._store.restore_experiment(str(experiment_id))

    def set_experiment_tag(self, experiment_id: str | int, key: str, value: Any) -> None:
        self._store.set_experiment_tag(str(experiment_id), key, str(value))

    def delete_experiment_tag(self, experiment_id: str | int, key: str) -> None:
        self._store.delete_experiment_tag(str(experiment_id), key)

    # -- runs --------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str | int,
        start_time: int | None = None,
        tags: Mapping[str, Any] | None = None,
        run_name: str | None = None,
    ) -> Run:
        """Create a RUNNING run. `user_id` comes from the `mlflow.user` tag, as in MLflow."""
        tag_map = _str_values(tags)
        return self._store.create_run(
            str(experiment_id),
            user_id=tag_map.get(USER_TAG, "unknown"),
            start_time=now_ms() if start_time is None else int(start_time),
            tags=[RunTag(k, v) for k, v in tag_map.items()],
            run_name=run_name,
        )

    def get_run(self, run_id: str) -> Run:
        """The run with its latest metrics, params, tags and inputs (deleted runs too)."""
        return self._store.get_run(run_id)

    def get_parent_run(self, run_id: str) -> Run | None:
        """The run that `run_id` is nested in, or None for a top-level run."""
        parent_id = self.get_run(run_id).data.tags.get(PARENT_RUN_ID_TAG)
        return None if parent_id is None else self.get_run(parent_id)

    def update_run(
        self, run_id: str, status: RunStatus | str | None = None, name: str | None = None
    ) -> None:
        """Change a run's status and/or name (the `mlflow.runName` tag follows the name)."""
        parsed = None if status is None else _parse_status(status)
        self._store.update_run_info(run_id, status=parsed, run_name=name)

    def set_terminated(
        self, run_id: str, status: RunStatus | str | None = None, end_time: int | None = None
    ) -> None:
        """End a run: status FINISHED and end time now unless told otherwise."""
        self._store.update_run_info(
            run_id,
            status=_parse_status(status or RunStatus.FINISHED),
            end_time=now_ms() if end_time is None else int(end_time),
        )

    def delete_run(self, run_id: str) -> None:
        self._store.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self._store.restore_run(run_id)

    # -- run data ----------------------------------------------------------------------------

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: Any,
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool | None = None,
    ) -> RunOperations | None:
        """Record one metric point. Queued (see `synchronous` in the class docs), it returns
        a `RunOperations` whose `wait()` flushes the run; written at once, None."""
        metric = make_metric(key, value, timestamp, step)
        if self._queues(synchronous):
            return self._enqueue(run_id, metrics=[metric])
        self._store.log_metric(run_id, metric)
        return None

    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        """Record a param (stored as `str(value)`; params are write-once). Returns `value`."""
        param = Param(key, str(value))
        if self._queues(synchronous):
            self._enqueue(run_id, params=[param])
        else:
            self._store.log_param(run_id, param)
        return value

    def set_tag(
        self, run_id: str, key: str, value: Any, synchronous: bool | None = None
    ) -> RunOperations | None:
        tag = RunTag(key, str(value))
        if self._queues(synchronous):
            return self._enqueue(run_id, tags=[tag])
        self._store.set_tag(run_id, tag)
        return None

    def delete_tag(self, run_id: str, key: str) -> None:
        self._store.delete_tag(run_id, key)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        synchronous: bool | None = None,
    ) -> RunOperations | None:
        """Record many values, split into requests of at most 1000 metrics, 100 params and
        100 tags. Each chunk is atomic; the whole batch is not once it needs several (nor
        when queued: queued params travel apart from metrics and tags)."""
        if self._queues(synchronous):
            if not (metrics or params or tags):
                return None
            return self._enqueue(run_id, metrics, params, tags)
        for chunk in chunk_batch(list(metrics), list(params), list(tags)):
            self._store.log_batch(run_id, chunk.metrics, chunk.params, chunk.tags)
        return None

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput] | None = None) -> None:
        """Record the datasets a run used (see `cairn.data` to describe them)."""
        self._store.log_inputs(run_id, list(datasets or ()))

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every recorded point of the metric, ordered by step then timestamp."""
        return list(self._store.get_metric_history(run_id, key))

    def iter_metric_history(self, run_id: str, key: str) -> Iterator[Metric]:
        """The same points as `get_metric_history`, streamed in bounded memory."""
        return self._store.iter_metric_history(run_id, key)

    def search_runs(
        self,
        experiment_ids: str | int | Iterable[str | int],
        filter_string: str = "",
        run_view_type: ViewType | str | int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """One page of runs matching `filter_string`; `.token` of the result fetches the next."""
        if isinstance(experiment_ids, str | int):
            experiment_ids = [experiment_ids]
        return self._store.search_runs(
            [str(e) for e in experiment_ids],
            filter_string or None,
            ViewType.parse(run_view_type),
            max_results,
            _as_list(order_by),
            page_token,
        )


MlflowClient = CairnClient
"""MLflow's name for the client, so `from cairn import MlflowClient` ports unchanged."""


def make_metric(key: str, value: Any, timestamp: int | None, step: int | None) -> Metric:
    """A Metric from user input: numbers (NumPy and 0-d tensors too) become floats."""
    return Metric(
        key,
        metric_value(key, value),
        now_ms() if timestamp is None else int(timestamp),
        0 if step is None else int(step),
    )


def metric_value(key: str, value: Any) -> float:
    if isinstance(value, numbers.Real):
        return float(value)
    item = getattr(value, "item", None)  # NumPy 0-d arrays, torch/TF scalar tensors
    if callable(item) and not isinstance(value, str | bytes):
        try:
            scalar = item()
        except (TypeError, ValueError):
            scalar = None
        if isinstance(scalar, numbers.Real):
            return float(scalar)
    raise InvalidParameterValue(
        f"Got invalid value {value!r} for metric '{key}': metric values must be numbers."
    )


def _is_remote(store: TrackingStore, tracking_uri: str) -> bool:
    """A store behind a network round trip: where queued logging pays off."""
    if getattr(store, "is_remote", False):
        return True
    uris = (tracking_uri, str(getattr(store, "tracking_uri", "")))
    return any(uri.partition(":")[0].lower() in ("http", "https") for uri in uris)


def _parse_status(status: RunStatus | str) -> RunStatus:
    try:
        return RunStatus(str(status).upper())
    except ValueError:
        allowed = ", ".join(s.value for s in RunStatus)
        raise InvalidParameterValue(
            f"Unknown run status {status!r}; expected one of {allowed}."
        ) from None


def _str_values(mapping: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (mapping or {}).items()}


def _as_list(order_by: Sequence[str] | str | None) -> list[str] | None:
    if order_by is None:
        return None
    return [order_by] if isinstance(order_by, str) else list(order_by)
