"""The client's model registry methods (MLflow's `MlflowClient` names), mixed into CairnClient.

The registry store is the tracking store's database in-process (`SqlRegistryStore`) or the
tracking server (`RestRegistryStore`); a separate `registry_uri` picks another one. Version
files are copied by the store (in-process) or by the server, never by the client.
`models:/` URIs are resolved by `cairn.store.model_uri`, the one resolver every caller shares.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cairn.entities import ModelVersion, ModelVersionStage, PagedList, RegisteredModel
from cairn.store.registry_base import (
    SEARCH_MODEL_VERSIONS_DEFAULT,
    SEARCH_REGISTERED_MODELS_DEFAULT,
)

if TYPE_CHECKING:
    from cairn.artifacts.base import ArtifactRepository
    from cairn.store.base import TrackingStore
    from cairn.store.registry_base import RegistryStore


class RegistryMethods:
    """Mixed into `CairnClient`; needs its stores and URIs."""

    _tracking_uri: str
    _registry_uri: str
    _raw_store: TrackingStore
    _registry_store: RegistryStore | None = None

    @property
    def registry_store(self) -> RegistryStore:
        """The registry store this client talks to (created on first use).

        Like `SyncedStore` for tracking calls, it is handed out only once this process's
        queued metrics and tags are sent: promotion policies read them."""
        from cairn.tracking import async_logging

        if not async_logging.queue().idle:
            async_logging.queue().wait()
        if self._registry_store is None:
            self._registry_store = _registry_for(
                self._raw_store, self._tracking_uri, self._registry_uri
            )
        return self._registry_store

    # -- registered models -------------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        return self.registry_store.create_registered_model(
            name, optional_str_values(tags), description
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.registry_store.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename a model; its versions, tags and aliases follow."""
        return self.registry_store.rename_registered_model(name, new_name)

    def update_registered_model(self, name: str, description: str | None = None) -> RegisteredModel:
        return self.registry_store.update_registered_model(name, description or "")

    def delete_registered_model(self, name: str) -> None:
        """Delete the model with all its versions (and their registry copies), tags, aliases."""
        self.registry_store.delete_registered_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODELS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """One page of models; pass `.token` of the result as `page_token` for the next."""
        return self.registry_store.search_registered_models(
            filter_string, max_results, _list(order_by), page_token
        )

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self.registry_store.set_registered_model_tag(name, key, str(value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.registry_store.delete_registered_model_tag(name, key)

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        """The newest version in each of `stages` (in every stage that has one when None)."""
        return self.registry_store.get_latest_versions(name, _list(stages))

    def set_registered_model_alias(
        self, name: str, alias: str, version: str | int, comment: str | None = None
    ) -> None:
        """Point `alias` at `version`; `comment` goes to the audit trail (Cairn only)."""
        self.registry_store.set_registered_model_alias(name, alias, str(version), comment)

    def delete_registered_model_alias(
        self, name: str, alias: str, comment: str | None = None
    ) -> None:
        self.registry_store.delete_registered_model_alias(name, alias, comment)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.registry_store.get_model_version_by_alias(name, alias)

    # -- model versions ----------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        """Register the files at `source` (`runs:/<run_id>/<path>`, `models:/…` or an artifact
        URI in the artifact store) as the model's next version; the registry keeps a copy."""
        return self.registry_store.create_model_version(
            name, source, run_id, optional_str_values(tags), run_link, description
        )

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        return self.registry_store.get_model_version(name, str(version))

    def update_model_version(
        self, name: str, version: str | int, description: str | None = None
    ) -> ModelVersion:
        return self.registry_store.update_model_version(name, str(version), description or "")

    def transition_model_version_stage(
        self,
        name: str,
        version: str | int,
        stage: ModelVersionStage | str,
        archive_existing_versions: bool = False,
        comment: str | None = None,
    ) -> ModelVersion:
        """Move a version to None, Staging, Production or Archived; with
        `archive_existing_versions` the versions already in the target stage are archived.
        `comment` goes to the audit trail (Cairn only); promotion policies may refuse."""
        return self.registry_store.transition_model_version_stage(
            name, str(version), stage, archive_existing_versions, comment
        )

    def delete_model_version(self, name: str, version: str | int) -> None:
        self.registry_store.delete_model_version(name, str(version))

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSIONS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        return self.registry_store.search_model_versions(
            filter_string, max_results, _list(order_by), page_token
        )

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        return self.registry_store.get_model_version_download_uri(name, str(version))

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: Any) -> None:
        self.registry_store.set_model_version_tag(name, str(version), key, str(value))

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        self.registry_store.delete_model_version_tag(name, str(version), key)

    # -- model URIs --------------------------------------------------------------------------

    def get_model_version_for_uri(self, model_uri: str) -> ModelVersion:
        """The version a `models:/<name>/<version|stage|latest>` or `models:/<name>@<alias>`
        URI names."""
        from cairn.store.model_uri import resolve_model_version

        return resolve_model_version(self.registry_store, model_uri)

    def download_model_artifacts(
        self, model_uri: str, dst_path: str | os.PathLike[str] | None = None
    ) -> str:
        """Copy the files of the version `model_uri` names to `dst_path` (a new temporary
        directory when None) and return the local directory."""
        from cairn.store.model_uri import resolve_download_uri

        uri = resolve_download_uri(self.registry_store, model_uri)
        return self._repository_for(uri).download_artifacts("", dst_path)

    def download_artifact_uri(
        self, artifact_uri: str, dst_path: str | os.PathLike[str] | None = None
    ) -> str:
        """Copy the file or directory at an artifact URI (`s3://…`, `mlflow-artifacts:/…`,
        `http(s)://…`) to `dst_path` (a new temporary directory when None)."""
        return self._repository_for(artifact_uri).download_artifacts("", dst_path)

    @property
    def registry_uri(self) -> str:
        return self._registry_uri

    def _repository_for(self, uri: str) -> ArtifactRepository:
        """A repository for an artifact URI the registry gave out (proxy URIs go through the
        tracking server)."""
        from cairn.artifacts import get_artifact_repository
        from cairn.artifacts.proxy_uri import is_proxy_uri, proxy_url

        if is_proxy_uri(uri):
            uri = proxy_url(uri, self._tracking_uri)
        return get_artifact_repository(uri)


def _registry_for(store: TrackingStore, tracking_uri: str, registry_uri: str) -> RegistryStore:
    from cairn.store import get_registry_store

    if registry_uri != tracking_uri:
        return get_registry_store(registry_uri, _artifact_root(registry_uri))
    # The tracking store's own database or server: runs:/ sources are its runs.
    from cairn.store.rest.store import RestTrackingStore

    if isinstance(store, RestTrackingStore):
        from cairn.store.rest.registry import RestRegistryStore

        return RestRegistryStore(store.tracking_uri, store.transport)
    from cairn.store.sql.store import SqlTrackingStore

    if isinstance(store, SqlTrackingStore):
        from cairn.store.sql.registry import SqlRegistryStore

        return SqlRegistryStore(store)
    return get_registry_store(registry_uri, _artifact_root(registry_uri))


def _artifact_root(uri: str) -> str:
    from cairn.tracking.tracking_uri import resolve_artifact_root

    return resolve_artifact_root(uri)


def optional_str_values(mapping: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Keys and values as the wire's strings; None stays None (the store's "not given")."""
    return None if mapping is None else {str(k): str(v) for k, v in mapping.items()}


def _list(items: Sequence[str] | str | None) -> list[str] | None:
    if items is None:
        return None
    return [items] if isinstance(items, str) else list(items)
