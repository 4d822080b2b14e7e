"""Registry governance records: audit entries, transition requests, webhooks and deliveries.

Each has `to_dict` (the REST shape of Cairn's `/cairn/registry/*` API) and `from_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


def _from(cls: Any, d: dict[str, Any]) -> Any:
    """An instance of the dataclass `cls` from a wire dict: missing fields keep defaults,
    numbers arrive as numbers or decimal strings."""
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in d or d[f.name] is None:
            continue
        value = d[f.name]
        if f.type == "int":
            value = int(value)
        elif f.type == "bool":
            value = value is True or str(value).lower() == "true"
        elif f.type == "tuple[str, ...]":
            value = tuple(value)
        elif f.type == "str":
            value = str(value)
        values[f.name] = value
    return cls(**values)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One registry change (or refused change), as recorded in the append-only audit trail.

    `key` is the tag key or alias the change touched; `from_value`/`to_value` the value it
    replaced and the value it set (a stage, an alias's version, a tag value, a description,
    a name, a version's source).
    """

    id: int
    timestamp: int
    action: str
    name: str
    version: str = ""
    key: str = ""
    from_value: str = ""
    to_value: str = ""
    comment: str = ""
    user: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AuditEntry:
        found: Any = _from(cls, d)
        return found


@dataclass(frozen=True, slots=True)
class TransitionRequest:
    """A request to move a version to a stage that requires approval.

    `status` is PENDING, then APPROVED or REJECTED (with the reviewer's comment)."""

    id: int
    name: str
    version: str
    stage: str
    status: str
    creation_timestamp: int
    comment: str = ""
    user: str = ""
    archive_existing_versions: bool = False
    resolved_timestamp: int = 0
    resolution_comment: str = ""
    resolved_by: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TransitionRequest:
        found: Any = _from(cls, d)
        return found


@dataclass(frozen=True, slots=True)
class Webhook:
    """A URL that receives registry events. The signing secret is never part of it."""

    id: int
    url: str
    events: tuple[str, ...]
    creation_timestamp: int
    model: str = ""  # only this model's events; "" for every model
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["events"] = list(self.events)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Webhook:
        found: Any = _from(cls, d)
        return found


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    """One try at posting a delivery: the receiver's HTTP status (0: no answer) or error."""

    timestamp: int
    status_code: int = 0
    error: str = ""
    duration_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WebhookAttempt:
        found: Any = _from(cls, d)
        return found


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event queued for one webhook, and how sending it went so far.

    `status` is PENDING (waiting for its next attempt), DELIVERED (a 2xx answer) or FAILED
    (every attempt spent); `last_status_code` is the receiver's last HTTP status (0 when it
    could not be reached) and `last_error` what went wrong."""

    id: int
    webhook_id: int
    event_id: str
    event: str
    status: str
    attempts: int
    creation_timestamp: int
    next_attempt_timestamp: int = 0
    last_attempt_timestamp: int = 0
    last_status_code: int = 0
    last_error: str = ""
    payload: str = ""
    attempt_log: tuple[WebhookAttempt, ...] = ()  # filled when one delivery is fetched

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["attempt_log"] = [a.to_dict() for a in self.attempt_log]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WebhookDelivery:
        found: WebhookDelivery = _from(cls, {k: v for k, v in d.items() if k != "attempt_log"})
        log = tuple(WebhookAttempt.from_dict(a) for a in d.get("attempt_log") or ())
        return replace(found, attempt_log=log)
