"""The client's logged-model methods (MLflow 3's `MlflowClient` names), mixed into CairnClient.

A logged model is created PENDING, its files are uploaded to its `artifact_location`
(`logged_model_artifact_repository`), then it is finalized READY (or UPLOAD_FAILED) and
linked to the run that produced it (`log_outputs`). `resolve_runs_uri_to_artifact_uri`
gives `runs:/<run_id>/<name>` MLflow 3's meaning.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cairn.entities import (
    FileInfo,
    LoggedModel,
    LoggedModelMetric,
    LoggedModelOutput,
    LoggedModelStatus,
    PagedList,
)
from cairn.tracking.client_registry import optional_str_values

if TYPE_CHECKING:
    from cairn.artifacts.base import ArtifactRepository
    from cairn.store.base import TrackingStore
    from cairn.tracking.client import CairnClient

MLMODEL_FILE = "MLmodel"


class LoggedModelMethods:
    """Mixed into `CairnClient`; needs its store and tracking URI."""

    _store: TrackingStore
    _tracking_uri: str

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        """A new PENDING logged model (a name is generated when none is given)."""
        return self._store.create_logged_model(
            str(experiment_id),
            name=name,
            source_run_id=source_run_id,
            tags=optional_str_values(tags),
            params=optional_str_values(params),
            model_type=model_type,
        )

    def get_logged_model(self, model_id: str) -> LoggedModel:
        return self._store.get_logged_model(model_id)

    def finalize_logged_model(self, model_id: str, status: LoggedModelStatus | str) -> LoggedModel:
        """Set the final status: READY, or FAILED / UPLOAD_FAILED (any of MLflow's spellings)."""
        return self._store.finalize_logged_model(model_id, status)

    def delete_logged_model(self, model_id: str) -> None:
        self._store.delete_logged_model(model_id)

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, Any]) -> None:
        self._store.set_logged_model_tags(model_id, optional_str_values(tags) or {})

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self._store.delete_logged_model_tag(model_id, key)

    def log_model_params(self, model_id: str, params: Mapping[str, Any]) -> None:
        """Add params to a logged model (write-once, like a run's)."""
        self._store.log_logged_model_params(model_id, optional_str_values(params) or {})

    def log_model_metrics(self, run_id: str, metrics: Sequence[LoggedModelMetric]) -> None:
        """Record metric points the run computed for logged models (each names its
        `model_id`): in the run's history and in each model's `metrics`."""
        self._store.log_model_metrics(run_id, list(metrics))

    def log_outputs(
        self, run_id: str, models: Sequence[LoggedModelOutput | tuple[str, int]]
    ) -> None:
        """Record that the run produced these logged models (`LoggedModelOutput`s or
        `(model_id, step)` pairs)."""
        self._store.log_outputs(run_id, list(models))

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[Mapping[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: Sequence[Mapping[str, Any] | str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        """One page of the experiments' live logged models, newest first by default.

        `order_by` items are MLflow's dicts (`{"field_name": "metrics.acc", "ascending":
        False}`) or strings (`"metrics.acc DESC"`); `datasets` (`{"dataset_name",
        "dataset_digest"}`) scopes metric filters and ordering to those datasets.
        """
        return self._store.search_logged_models(
            [str(e) for e in experiment_ids],
            filter_string=filter_string,
            datasets=datasets,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
        )

    # -- files -------------------------------------------------------------------------------

    def logged_model_artifact_repository(self, model_id: str) -> ArtifactRepository:
        """The repository of the model's files (its `artifact_location`; a server's
        `mlflow-artifacts:` location goes through that server's proxy)."""
        from cairn.tracking.client_artifacts import repository_for_uri

        location = self.get_logged_model(model_id).artifact_location
        return repository_for_uri(location, self._tracking_uri)

    def log_model_artifacts(
        self, model_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Upload a directory's contents into the model's files."""
        self.logged_model_artifact_repository(model_id).log_artifacts(local_dir, artifact_path)

    def list_logged_model_artifacts(self, model_id: str, path: str | None = None) -> list[FileInfo]:
        return self.logged_model_artifact_repository(model_id).list_artifacts(path)


def resolve_runs_uri_to_artifact_uri(client: CairnClient, run_id: str, path: str) -> str:
    """The artifact URI `runs:/<run_id>/<path>` names, with MLflow 3's meaning.

    When the run's own artifacts hold `<name>/MLmodel` (`<name>` being the first segment of
    `path`), or no logged model fits, it is the run's `<artifact_uri>/<path>`. Otherwise it is
    inside the newest live logged model named `<name>` that the run produced
    (`source_run_id`): `<model artifact_location>/<rest of path>`.
    """
    return resolve_runs_uri(client, run_id, path)[0]


def resolve_runs_uri(client: CairnClient, run_id: str, path: str) -> tuple[str, bool]:
    """`resolve_runs_uri_to_artifact_uri`'s URI, and whether it lies in a logged model (whose
    recorded checksums a download then checks); the run is read once."""
    info = client.get_run(run_id).info
    root = info.artifact_uri.rstrip("/")
    path = path.strip("/")
    if not path:
        return root, False
    name, _, rest = path.partition("/")
    run_uri = f"{root}/{path}"
    if _has_mlmodel(client, run_id, name):
        return run_uri, False
    if any(c in name for c in "'\"\\"):
        return run_uri, False  # not a name a logged model can have
    found = client.search_logged_models(
        [info.experiment_id],
        filter_string=f"name = '{name}' AND source_run_id = '{run_id}'",
        max_results=1,
    )
    if not found:
        return run_uri, False
    location = found[0].artifact_location.rstrip("/")
    return (f"{location}/{rest}" if rest else location), True


def _has_mlmodel(client: CairnClient, run_id: str, name: str) -> bool:
    from cairn.exceptions import CairnException

    try:
        files = client.list_artifacts(run_id, name)
    except (CairnException, OSError):
        return False
    return any(f.path.rpartition("/")[2] == MLMODEL_FILE and not f.is_dir for f in files)
