"""The registry's governance calls over a Cairn server's `/cairn/registry/*` API, mixed into
`RestRegistryStore` (an `mlflow server` has no such API and answers ENDPOINT_NOT_FOUND)."""

from __future__ import annotations

import json
from typing import Any

from cairn.entities import (
    AuditEntry,
    ModelVersion,
    PagedList,
    TransitionRequest,
    Webhook,
    WebhookDelivery,
)
from cairn.transport import HttpTransport

API = "/api/2.0/cairn/registry"


class RestGovernanceMethods:
    transport: HttpTransport

    def _gov(
        self, method: str, path: str, fields: dict[str, Any], *, idempotent: bool
    ) -> dict[str, Any]:
        body = {k: v for k, v in fields.items() if v is not None}
        return self.transport.call(method, API + path, body, idempotent=idempotent)

    def list_audit_entries(
        self, name: str | None = None, max_results: int = 100, page_token: str | None = None
    ) -> PagedList[AuditEntry]:
        found = self._gov(
            "GET",
            "/audit",
            {"name": name, "max_results": max_results, "page_token": page_token or None},
            idempotent=True,
        )
        entries = [AuditEntry.from_dict(e) for e in found.get("entries", [])]
        return PagedList(entries, found.get("next_page_token") or None)

    def set_registry_policy(self, name: str, policy: dict[str, Any] | str) -> dict[str, Any]:
        text = policy if isinstance(policy, str) else json.dumps(policy)
        found = self._gov("POST", "/policy", {"name": name, "policy": text}, idempotent=True)
        return dict(found.get("policy") or {})

    def get_registry_policy(self, name: str) -> dict[str, Any]:
        found = self._gov("GET", "/policy", {"name": name}, idempotent=True)
        return dict(found.get("policy") or {})

    def delete_registry_policy(self, name: str) -> None:
        self._gov("DELETE", "/policy", {"name": name}, idempotent=True)

    def request_transition(
        self,
        name: str,
        version: str,
        stage: str,
        comment: str | None = None,
        archive_existing_versions: bool = False,
    ) -> TransitionRequest:
        body = {
            "name": name,
            "version": str(version),
            "stage": str(stage),
            "comment": comment,
            "archive_existing_versions": bool(archive_existing_versions),
        }
        found = self._gov("POST", "/transition-requests/create", body, idempotent=False)
        return TransitionRequest.from_dict(found["transition_request"])

    def list_transition_requests(
        self, name: str | None = None, status: str | None = "PENDING"
    ) -> list[TransitionRequest]:
        found = self._gov(
            "GET",
            "/transition-requests/list",
            {"name": name, "status": status or "ALL"},
            idempotent=True,
        )
        return [TransitionRequest.from_dict(r) for r in found.get("transition_requests", [])]

    def approve_transition_request(
        self, request_id: int | str, comment: str | None = None
    ) -> ModelVersion:
        body = {"request_id": int(request_id), "comment": comment}
        found = self._gov("POST", "/transition-requests/approve", body, idempotent=False)
        return ModelVersion.from_dict(found["model_version"])

    def reject_transition_request(
        self, request_id: int | str, comment: str | None = None
    ) -> TransitionRequest:
        body = {"request_id": int(request_id), "comment": comment}
        found = self._gov("POST", "/transition-requests/reject", body, idempotent=False)
        return TransitionRequest.from_dict(found["transition_request"])

    def create_webhook(
        self,
        url: str,
        events: list[str] | tuple[str, ...],
        secret: str,
        model: str = "",
        description: str = "",
    ) -> Webhook:
        body = {
            "url": url,
            "events": list(events),
            "secret": secret,
            "model": model or None,
            "description": description or None,
        }
        found = self._gov("POST", "/webhooks/create", body, idempotent=False)
        return Webhook.from_dict(found["webhook"])

    def list_webhooks(self) -> list[Webhook]:
        found = self._gov("GET", "/webhooks/list", {}, idempotent=True)
        return [Webhook.from_dict(w) for w in found.get("webhooks", [])]

    def delete_webhook(self, webhook_id: int | str) -> None:
        self._gov("DELETE", "/webhooks/delete", {"webhook_id": int(webhook_id)}, idempotent=True)

    def test_webhook(self, webhook_id: int | str) -> WebhookDelivery:
        body = {"webhook_id": int(webhook_id)}
        found = self._gov("POST", "/webhooks/test", body, idempotent=False)
        return WebhookDelivery.from_dict(found["delivery"])

    def list_webhook_deliveries(
        self,
        webhook_id: int | str | None = None,
        status: str | None = None,
        max_results: int = 100,
    ) -> list[WebhookDelivery]:
        fields = {
            "webhook_id": None if webhook_id is None or webhook_id == "" else int(webhook_id),
            "status": status or None,
            "max_results": max_results,
        }
        found = self._gov("GET", "/webhooks/deliveries", fields, idempotent=True)
        return [WebhookDelivery.from_dict(d) for d in found.get("deliveries", [])]

    def get_webhook_delivery(self, delivery_id: int | str) -> WebhookDelivery:
        found = self._gov(
            "GET", "/webhooks/delivery", {"delivery_id": int(delivery_id)}, idempotent=True
        )
        return WebhookDelivery.from_dict(found["delivery"])

    def redeliver_webhook_delivery(self, delivery_id: int | str) -> WebhookDelivery:
        body = {"delivery_id": int(delivery_id)}
        found = self._gov("POST", "/webhooks/redeliver", body, idempotent=True)
        return WebhookDelivery.from_dict(found["delivery"])
