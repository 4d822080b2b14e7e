"""The model registry store protocol: what every registry backend (SQL, REST) provides.

Like the tracking store, a registry store is the single authority on validation and limits,
so in-process calls and calls through the server see the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cairn.entities import ModelVersion, ModelVersionStage, PagedList, RegisteredModel

SEARCH_REGISTERED_MODELS_DEFAULT = 100
SEARCH_REGISTERED_MODELS_MAX = 1000
SEARCH_MODEL_VERSIONS_DEFAULT = 10000
SEARCH_MODEL_VERSIONS_MAX = 200000


@runtime_checkable
class RegistryStore(Protocol):
    # -- registered models -------------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
    ) -> RegisteredModel: ...

    def get_registered_model(self, name: str) -> RegisteredModel: ...

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename a model; its versions, tags and aliases follow."""
        ...

    def update_registered_model(self, name: str, description: str) -> RegisteredModel: ...

    def delete_registered_model(self, name: str) -> None:
        """Delete the model with all its versions, tags and aliases."""
        ...

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODELS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]: ...

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None: ...

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag; a missing tag is not an error."""
        ...

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        """The highest version in each of `stages` (every stage that has one when None)."""
        ...

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None: ...

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias; a missing alias is not an error."""
        ...

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    # -- model versions ----------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        """Register the files at `source` as the model's next version (copied by the registry)."""
        ...

    def get_model_version(self, name: str, version: str) -> ModelVersion: ...

    def update_model_version(self, name: str, version: str, description: str) -> ModelVersion: ...

    def transition_model_version_stage(
        self,
        name: str,
        version: str,
        stage: ModelVersionStage | str,
        archive_existing_versions: bool = False,
    ) -> ModelVersion: ...

    def delete_model_version(self, name: str, version: str) -> None: ...

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSIONS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]: ...

    def get_model_version_download_uri(self, name: str, version: str) -> str: ...

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None: ...

    def delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        """Remove a tag; a missing tag is not an error."""
        ...


@dataclass(frozen=True, slots=True)
class RegistryChange:
    """One change to the registry, described for whoever records changes (the audit trail).

    Every write of the SQL registry store produces one, inside the transaction that makes the
    change, and hands it to a single method (`SqlRegistryStore._record`): governance
    (audit log, webhooks, policies) attaches there.
    """

    action: str  # e.g. "create_model_version", "transition_stage"
    name: str
    version: str | None = None
    details: tuple[tuple[str, str], ...] = ()
