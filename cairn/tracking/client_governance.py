"""The client's registry governance methods (Cairn only), mixed into CairnClient: the audit
trail, promotion policies, transition requests and webhooks. See docs/registry.md."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cairn.entities import (
    AuditEntry,
    ModelVersion,
    PagedList,
    TransitionRequest,
    Webhook,
    WebhookDelivery,
)

if TYPE_CHECKING:
    from cairn.store.registry_base import RegistryStore


class GovernanceMethods:
    """Mixed into `CairnClient`; needs its `registry_store`."""

    @property
    def registry_store(self) -> RegistryStore:
        raise NotImplementedError  # RegistryMethods provides it

    # -- audit trail -------------------------------------------------------------------------

    def get_registry_audit(
        self, name: str | None = None, max_results: int = 100, page_token: str | None = None
    ) -> PagedList[AuditEntry]:
        """One page of the audit trail (oldest first) of model `name`, or of the registry."""
        return self.registry_store.list_audit_entries(name, max_results, page_token)

    # -- promotion policies ------------------------------------------------------------------

    def set_registry_policy(self, name: str, policy: dict[str, Any] | str) -> dict[str, Any]:
        """Set model `name`'s promotion policy ("*": server-wide); returns it as stored."""
        return self.registry_store.set_registry_policy(name, policy)

    def get_registry_policy(self, name: str) -> dict[str, Any]:
        return self.registry_store.get_registry_policy(name)

    def delete_registry_policy(self, name: str) -> None:
        self.registry_store.delete_registry_policy(name)

    # -- transition requests -----------------------------------------------------------------

    def request_model_version_transition(
        self,
        name: str,
        version: str | int,
        stage: str,
        comment: str | None = None,
        archive_existing_versions: bool = False,
    ) -> TransitionRequest:
        """Ask for a transition to a stage whose policy requires approval."""
        return self.registry_store.request_transition(
            name, str(version), stage, comment, archive_existing_versions
        )

    def list_transition_requests(
        self, name: str | None = None, status: str | None = "PENDING"
    ) -> list[TransitionRequest]:
        return self.registry_store.list_transition_requests(name, status)

    def approve_transition_request(
        self, request_id: int | str, comment: str | None = None
    ) -> ModelVersion:
        """Approve a pending request; the transition is carried out and returned."""
        return self.registry_store.approve_transition_request(request_id, comment)

    def reject_transition_request(
        self, request_id: int | str, comment: str | None = None
    ) -> TransitionRequest:
        return self.registry_store.reject_transition_request(request_id, comment)

    # -- webhooks ----------------------------------------------------------------------------

    def create_webhook(
        self,
        url: str,
        events: Sequence[str],
        secret: str,
        model: str = "",
        description: str = "",
    ) -> Webhook:
        """Register `url` for registry `events`; deliveries are signed with `secret`."""
        return self.registry_store.create_webhook(url, list(events), secret, model, description)

    def list_webhooks(self) -> list[Webhook]:
        return self.registry_store.list_webhooks()

    def delete_webhook(self, webhook_id: int | str) -> None:
        self.registry_store.delete_webhook(webhook_id)

    def test_webhook(self, webhook_id: int | str) -> WebhookDelivery:
        return self.registry_store.test_webhook(webhook_id)

    def list_webhook_deliveries(
        self,
        webhook_id: int | str | None = None,
        status: str | None = None,
        max_results: int = 100,
    ) -> list[WebhookDelivery]:
        return self.registry_store.list_webhook_deliveries(webhook_id, status, max_results)

    def get_webhook_delivery(self, delivery_id: int | str) -> WebhookDelivery:
        """One delivery with the log of its attempts (`attempt_log`)."""
        return self.registry_store.get_webhook_delivery(delivery_id)

    def redeliver_webhook_delivery(self, delivery_id: int | str) -> WebhookDelivery:
        return self.registry_store.redeliver_webhook_delivery(delivery_id)
