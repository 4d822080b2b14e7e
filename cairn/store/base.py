"""The tracking store protocol: what every backend (SQL here, REST later) provides.

Stores are the single authority on validation and limits: whatever reaches them, in-process or
through the server, is checked here, so the client layer can stay thin.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from cairn.entities import (
    DatasetInput,
    Experiment,
    LoggedModel,
    LoggedModelMetric,
    LoggedModelOutput,
    LoggedModelStatus,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)

SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS_THRESHOLD = 50000


@runtime_checkable
class TrackingStore(Protocol):
    # -- experiments -------------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Create an experiment and return its id."""
        ...

    def get_experiment(self, experiment_id: str) -> Experiment: ...

    def get_experiment_by_name(self, name: str) -> Experiment | None: ...

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]: ...

    def rename_experiment(self, experiment_id: str, new_name: str) -> None: ...

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete the experiment and all its runs."""
        ...

    def restore_experiment(self, experiment_id: str) -> None: ...

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None: ...

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None: ...

    # -- runs --------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str = "",
        start_time: int | None = None,
        tags: Sequence[RunTag] = (),
        run_name: str | None = None,
    ) -> Run: ...

    def get_run(self, run_id: str) -> Run: ...

    def update_run_info(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo: ...

    def delete_run(self, run_id: str) -> None: ...

    def restore_run(self, run_id: str) -> None: ...

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Record metrics, params and tags atomically: all of them or none."""
        ...

    def log_metric(self, run_id: str, metric: Metric) -> None: ...

    def log_param(self, run_id: str, param: Param) -> None: ...

    def set_tag(self, run_id: str, tag: RunTag) -> None: ...

    def delete_tag(self, run_id: str, key: str) -> None: ...

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None: ...

    def get_metric_history(
        self,
        run_id: str,
        metric_key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        """The metric's points ordered by step, then timestamp."""
        ...

    def iter_metric_history(self, run_id: str, metric_key: str) -> Iterator[Metric]:
        """Stream the whole history in bounded memory."""
        ...

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]: ...

    # -- logged models (MLflow 3) ------------------------------------------------------------
    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        """A new PENDING model at `<experiment location>/models/<id>/artifacts`."""
        ...

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel: ...

    def finalize_logged_model(
        self, model_id: str, status: LoggedModelStatus | str
    ) -> LoggedModel: ...

    def delete_logged_model(self, model_id: str) -> None:
        """Soft-delete: not found afterwards."""
        ...

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str]) -> None: ...

    def delete_logged_model_tag(self, model_id: str, key: str) -> None: ...

    def log_logged_model_params(self, model_id: str, params: Mapping[str, str]) -> None: ...

    def log_model_metrics(self, run_id: str, metrics: Sequence[LoggedModelMetric]) -> None:
        """Metric points the run computed for the models they name: in the run's history
        and in each model's metrics."""
        ...

    def log_outputs(
        self, run_id: str, models: Sequence[LoggedModelOutput | tuple[str, int]]
    ) -> None: ...

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[Mapping[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: Sequence[Mapping[str, Any] | str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]: ...
