"""The model registry store protocol: what every registry backend (SQL, REST) provides.

Like the tracking store, a registry store is the single authority on validation and limits,
so in-process calls and calls through the server see the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from cairn.entities import (
    AuditEntry,
    ModelVersion,
    ModelVersionStage,
    PagedList,
    RegisteredModel,
    TransitionRequest,
    Webhook,
    WebhookDelivery,
)

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

    def set_registered_model_alias(
        self, name: str, alias: str, version: str, comment: str | None = None
    ) -> None: ...

    def delete_registered_model_alias(
        self, name: str, alias: str, comment: str | None = None
    ) -> None:
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
        comment: str | None = None,
    ) -> ModelVersion:
        """`comment` goes to the audit trail; promotion policies may refuse the move."""
        ...

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

    # -- governance (Cairn only; see docs/registry.md) --------------------------------------
    def list_audit_entries(
        self, name: str | None = None, max_results: int = 100, page_token: str | None = None
    ) -> PagedList[AuditEntry]: ...

    def set_registry_policy(self, name: str, policy: dict[str, Any] | str) -> dict[str, Any]: ...

    def get_registry_policy(self, name: str) -> dict[str, Any]: ...

    def delete_registry_policy(self, name: str) -> None: ...

    def request_transition(
        self,
        name: str,
        version: str,
        stage: str,
        comment: str | None = None,
        archive_existing_versions: bool = False,
    ) -> TransitionRequest: ...

    def list_transition_requests(
        self, name: str | None = None, status: str | None = "PENDING"
    ) -> list[TransitionRequest]: ...

    def approve_transition_request(
        self, request_id: int | str, comment: str | None = None
    ) -> ModelVersion: ...

    def reject_transition_request(
        self, request_id: int | str, comment: str | None = None
    ) -> TransitionRequest: ...

    def create_webhook(
        self,
        url: str,
        events: list[str] | tuple[str, ...],
        secret: str,
        model: str = "",
        description: str = "",
    ) -> Webhook: ...

    def list_webhooks(self) -> list[Webhook]: ...

    def delete_webhook(self, webhook_id: int | str) -> None: ...

    def test_webhook(self, webhook_id: int | str) -> WebhookDelivery: ...

    def list_webhook_deliveries(
        self,
        webhook_id: int | str | None = None,
        status: str | None = None,
        max_results: int = 100,
    ) -> list[WebhookDelivery]: ...

    def get_webhook_delivery(self, delivery_id: int | str) -> WebhookDelivery:
        """One delivery with its `attempt_log`."""
        ...

    def redeliver_webhook_delivery(self, delivery_id: int | str) -> WebhookDelivery: ...


@dataclass(frozen=True, slots=True)
class RegistryChange:
    """One change to the registry, as the audit trail records it.

    Every write of the SQL registry store produces one, inside the transaction that makes the
    change, and hands it to a single method (`SqlRegistryStore._record`), where governance
    attaches: promotion policies are checked (a refusal rolls the change back), the audit
    row is written and webhook deliveries are queued, all in that transaction.

    `action` is the audit action (CREATE_MODEL, TRANSITION_STAGE, SET_ALIAS, …); `key` the
    tag key or alias touched; `from_value`/`to_value` what was replaced and what was set.
    `approved` marks a transition carried out by approving a transition request.
    """

    action: str
    name: str
    version: str = ""
    key: str = ""
    from_value: str = ""
    to_value: str = ""
    comment: str = ""
    user: str = ""
    approved: bool = False
