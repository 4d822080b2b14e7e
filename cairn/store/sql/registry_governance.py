"""The governance methods of `SqlRegistryStore` (a mixin): the audit trail, promotion
policies, transition requests and webhooks. See docs/registry.md, "Governance".

Every change here also goes through the store's `_write`, so it is audited like any other
registry change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, delete, select, update

from cairn.entities import (
    AuditEntry,
    ModelVersion,
    PagedList,
    TransitionRequest,
    Webhook,
    WebhookDelivery,
)
from cairn.exceptions import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from cairn.store import registry_policy as rp
from cairn.store import registry_validation as rv
from cairn.store import webhooks as wh
from cairn.store.registry_base import RegistryChange
from cairn.store.sql import governance, registry_rows, webhook_outbox
from cairn.store.sql.engine import run_read
from cairn.store.sql.queries import now_ms
from cairn.store.sql.schema import (
    registered_models,
    registry_policies,
    transition_requests,
    webhook_attempts,
    webhook_deliveries,
    webhooks,
)

if TYPE_CHECKING:
    from cairn.store.model_sources import ArtifactAccess

T = TypeVar("T")
AUDIT_DEFAULT, AUDIT_MAX = 100, 1000
DELIVERIES_DEFAULT, DELIVERIES_MAX = 100, 1000
PENDING, APPROVED, REJECTED = "PENDING", "APPROVED", "REJECTED"
_tr, _rm = transition_requests.c, registered_models.c


class GovernanceMethods:
    """Mixed into `SqlRegistryStore`; needs its engine, access and `_write`."""

    engine: Engine
    access: ArtifactAccess
    sender: webhook_outbox.WebhookSender | None = None

    def _write(self, work: Callable[[Connection], tuple[T, RegistryChange]]) -> T:
        raise NotImplementedError

    def _record(self, conn: Connection, change: RegistryChange) -> None:
        raise NotImplementedError

    # -- audit trail -------------------------------------------------------------------------

    def list_audit_entries(
        self,
        name: str | None = None,
        max_results: int = AUDIT_DEFAULT,
        page_token: str | None = None,
    ) -> PagedList[AuditEntry]:
        """The audit trail, oldest first: every change (and refused change) of model `name`,
        under its earlier names too, or of the whole registry when None."""
        from cairn.search.page_token import decode_page_token, encode_page_token

        _check_limit(max_results, AUDIT_MAX)
        fingerprint = ("registry-audit", name or "")
        offset = decode_page_token(page_token, fingerprint)

        def work(conn: Connection) -> PagedList[AuditEntry]:
            found = governance.audit_rows(conn, name, offset, max_results + 1)
            token = None
            if len(found) > max_results:
                found = found[:max_results]
                token = encode_page_token(offset + max_results, fingerprint)
            return PagedList(found, token)

        return run_read(self.engine, work)

    # -- policies ----------------------------------------------------------------------------

    def set_registry_policy(self, name: str, policy: dict[str, Any] | str) -> dict[str, Any]:
        """Set the promotion policy of model `name` ("*": server-wide); returns it as stored."""
        parsed, text = governance.parse_document(policy)

        def work(conn: Connection) -> tuple[None, RegistryChange]:
            if name != rp.SERVER_WIDE:
                registry_rows.model_row(conn, name, lock=True)
            p = registry_policies.c
            old = conn.execute(select(p.document).where(p.name == name)).scalar()
            if old is None:
                conn.execute(
                    registry_policies.insert().values(
                        name=name, document=text, last_updated_timestamp=now_ms()
                    )
                )
            else:
                conn.execute(
                    update(registry_policies)
                    .where(p.name == name)
                    .values(document=text, last_updated_timestamp=now_ms())
                )
            return None, RegistryChange("SET_POLICY", name, from_value=old or "", to_value=text)

        self._write(work)
        return parsed.to_dict()

    def get_registry_policy(self, name: str) -> dict[str, Any]:
        """The policy of model `name` ("*": server-wide); empty sections when none is set."""

        def work(conn: Connection) -> dict[str, Any]:
            if name != rp.SERVER_WIDE:
                registry_rows.model_row(conn, name)
            return governance.policy_document(conn, name) or rp.Policy().to_dict()

        return run_read(self.engine, work)

    def delete_registry_policy(self, name: str) -> None:
        def work(conn: Connection) -> tuple[None, RegistryChange]:
            p = registry_policies.c
            old = conn.execute(select(p.document).where(p.name == name)).scalar()
            conn.execute(delete(registry_policies).where(p.name == name))
            return None, RegistryChange("DELETE_POLICY", name, from_value=old or "")

        self._write(work)

    # -- transition requests -----------------------------------------------------------------

    def request_transition(
        self,
        name: str,
        version: str,
        stage: str,
        comment: str | None = None,
        archive_existing_versions: bool = False,
    ) -> TransitionRequest:
        """Ask for a transition to a stage whose policy requires approval. The policy's
        other rules are checked now, and again on approval."""
        number = rv.parse_version(version)
        target = registry_rows.parse_transition(stage, archive_existing_versions)
        note = rv.validate_description(comment)

        def work(conn: Connection) -> tuple[int, RegistryChange]:
            model = registry_rows.model_row(conn, name, lock=True)
            row = registry_rows.version_row(conn, model, number)
            if not rp.needs_approval(governance.load_policies(conn, name), target.value):
                raise InvalidParameterValue(
                    f"Stage {target} of model {name!r} requires no approval: transition the "
                    "version directly"
                )
            preview = RegistryChange("TRANSITION_STAGE", name, str(number), to_value=target.value)
            governance.check_policies(conn, preview, self.access, approved=True)
            pending = conn.execute(
                select(_tr.id).where(
                    _tr.model_pk == model.model_pk,
                    _tr.version == number,
                    _tr.stage == target.value,
                    _tr.status == PENDING,
                )
            ).scalar()
            if pending is not None:
                raise ResourceAlreadyExists(
                    f"Transition request {pending} for model {name!r} version {number} to "
                    f"{target} is already pending"
                )
            now = now_ms()
            result = conn.execute(
                transition_requests.insert().values(
                    model_pk=model.model_pk,
                    version=number,
                    stage=target.value,
                    archive_existing_versions=bool(archive_existing_versions),
                    status=PENDING,
                    creation_timestamp=now,
                    user_id="",
                    comment=note,
                    resolved_timestamp=0,
                    resolved_by="",
                    resolution_comment="",
                )
            )
            request_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            change = RegistryChange(
                "REQUEST_TRANSITION",
                name,
                str(number),
                key=str(request_id),
                from_value=row.current_stage,
                to_value=target.value,
                comment=note,
            )
            return request_id, change

        return self.get_transition_request(self._write(work))

    def get_transition_request(self, request_id: int | str) -> TransitionRequest:
        number = _request_id(request_id)

        def work(conn: Connection) -> TransitionRequest:
            found = _requests(conn, _tr.id == number)
            if not found:
                raise ResourceDoesNotExist(f"Transition request {number} not found")
            return found[0]

        return run_read(self.engine, work)

    def list_transition_requests(
        self, name: str | None = None, status: str | None = PENDING
    ) -> list[TransitionRequest]:
        """Requests of model `name` (every model when None) with `status` (PENDING, APPROVED,
        REJECTED; None or "ALL" for all), oldest first."""
        conditions = []
        if status and status.upper() != "ALL":
            if status.upper() not in (PENDING, APPROVED, REJECTED):
                raise InvalidParameterValue(
                    f"status must be PENDING, APPROVED, REJECTED or ALL, got {status!r}"
                )
            conditions.append(_tr.status == status.upper())
        if name is not None:
            conditions.append(_rm.name == name)

        def work(conn: Connection) -> list[TransitionRequest]:
            if name is not None:
                registry_rows.model_row(conn, name)
            return _requests(conn, *conditions)

        return run_read(self.engine, work)

    def approve_transition_request(
        self, request_id: int | str, comment: str | None = None
    ) -> ModelVersion:
        """Approve a pending request: the transition is carried out (the policy's other
        rules checked again) and both the approval and the transition are audited."""
        number = _request_id(request_id)
        note = rv.validate_description(comment)

        def work(conn: Connection) -> tuple[tuple[str, int], RegistryChange]:
            request = _pending(conn, number)
            model = conn.execute(
                select(registered_models).where(_rm.model_pk == request.model_pk).with_for_update()
            ).one()
            row = registry_rows.version_row(conn, model, request.version)
            target = registry_rows.parse_transition(
                request.stage, request.archive_existing_versions
            )
            _resolve(conn, number, APPROVED, note)
            approval = RegistryChange(
                "APPROVE_TRANSITION",
                model.name,
                str(row.version),
                key=str(number),
                from_value=row.current_stage,
                to_value=target.value,
                comment=note,
            )
            self._record(conn, approval)
            moved = registry_rows.move_stage(
                conn, model, row, target, request.archive_existing_versions, note, approved=True
            )
            return (model.name, int(row.version)), moved

        name, version = self._write(work)
        return self._read_version(name, version)

    def reject_transition_request(
        self, request_id: int | str, comment: str | None = None
    ) -> TransitionRequest:
        number = _request_id(request_id)
        note = rv.validate_description(comment)

        def work(conn: Connection) -> tuple[None, RegistryChange]:
            request = _pending(conn, number)
            name = conn.execute(select(_rm.name).where(_rm.model_pk == request.model_pk)).scalar()
            _resolve(conn, number, REJECTED, note)
            change = RegistryChange(
                "REJECT_TRANSITION",
                str(name),
                str(request.version),
                key=str(number),
                to_value=request.stage,
                comment=note,
            )
            return None, change

        self._write(work)
        return self.get_transition_request(number)

    def _read_version(self, name: str, version: int) -> ModelVersion:
        raise NotImplementedError

    # -- webhooks ----------------------------------------------------------------------------

    def create_webhook(
        self,
        url: str,
        events: list[str] | tuple[str, ...],
        secret: str,
        model: str = "",
        description: str = "",
    ) -> Webhook:
        """Register `url` for `events` (of `model` only, or of every model when "").
        Deliveries are signed with `secret`, which is stored and never returned."""
        wh.check_url(url, resolve=False)
        chosen = wh.parse_events(events)
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            raise InvalidParameterValue("A webhook secret must be 8 to 256 characters")
        text = rv.validate_description(description)

        def work(conn: Connection) -> tuple[int, RegistryChange]:
            if model:
                registry_rows.model_row(conn, model)
            result = conn.execute(
                webhooks.insert().values(
                    url=url,
                    events=",".join(chosen),
                    secret=secret,
                    model=model or "",
                    description=text,
                    creation_timestamp=now_ms(),
                )
            )
            webhook_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            change = RegistryChange(
                "CREATE_WEBHOOK", model or rp.SERVER_WIDE, key=str(webhook_id), to_value=url
            )
            return webhook_id, change

        return self.get_webhook(self._write(work))

    def get_webhook(self, webhook_id: int | str) -> Webhook:
        number = _id(webhook_id, "webhook id")

        def work(conn: Connection) -> Webhook:
            row = conn.execute(select(webhooks).where(webhooks.c.id == number)).first()
            if row is None:
                raise ResourceDoesNotExist(f"Webhook {number} not found")
            return webhook_outbox.webhook_entity(row)

        return run_read(self.engine, work)

    def list_webhooks(self) -> list[Webhook]:
        def work(conn: Connection) -> list[Webhook]:
            rows = conn.execute(select(webhooks).order_by(webhooks.c.id))
            return [webhook_outbox.webhook_entity(r) for r in rows]

        return run_read(self.engine, work)

    def delete_webhook(self, webhook_id: int | str) -> None:
        """Remove a webhook and its delivery log."""
        found = self.get_webhook(webhook_id)

        def work(conn: Connection) -> tuple[None, RegistryChange]:
            wd = webhook_deliveries.c
            mine = select(wd.id).where(wd.webhook_id == found.id).scalar_subquery()
            conn.execute(delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(mine)))
            conn.execute(delete(webhook_deliveries).where(wd.webhook_id == found.id))
            conn.execute(delete(webhooks).where(webhooks.c.id == found.id))
            change = RegistryChange(
                "DELETE_WEBHOOK",
                found.model or rp.SERVER_WIDE,
                key=str(found.id),
                from_value=found.url,
            )
            return None, change

        self._write(work)

    def test_webhook(self, webhook_id: int | str) -> WebhookDelivery:
        """Queue a `ping` delivery to the webhook; the delivery, to follow in the log."""
        found = self.get_webhook(webhook_id)

        def work(conn: Connection) -> tuple[int, RegistryChange]:
            delivery = webhook_outbox.queue_test(conn, found.id)
            change = RegistryChange(
                "TEST_WEBHOOK", found.model or rp.SERVER_WIDE, key=str(found.id)
            )
            return delivery, change

        return self.get_webhook_delivery(self._write(work))

    def get_webhook_delivery(self, delivery_id: int | str) -> WebhookDelivery:
        """One delivery with the log of its attempts (status code or error, duration)."""
        number = _id(delivery_id, "delivery id", 2**63 - 1)

        def work(conn: Connection) -> WebhookDelivery:
            row = conn.execute(
                select(webhook_deliveries).where(webhook_deliveries.c.id == number)
            ).first()
            if row is None:
                raise ResourceDoesNotExist(f"Webhook delivery {number} not found")
            found = webhook_outbox.delivery_entity(row)
            return replace(found, attempt_log=webhook_outbox.attempt_log(conn, number))

        return run_read(self.engine, work)

    def list_webhook_deliveries(
        self,
        webhook_id: int | str | None = None,
        status: str | None = None,
        max_results: int = DELIVERIES_DEFAULT,
    ) -> list[WebhookDelivery]:
        """Deliveries, newest first: of one webhook, with one status (PENDING, DELIVERED,
        FAILED) or all."""
        _check_limit(max_results, DELIVERIES_MAX)
        if status and status.upper() not in ("PENDING", "DELIVERED", "FAILED"):
            raise InvalidParameterValue(
                f"status must be PENDING, DELIVERED or FAILED, got {status!r}"
            )
        number = None if webhook_id in (None, "") else _id(webhook_id, "webhook id")
        return webhook_outbox.list_deliveries(self.engine, number, status, max_results)

    def redeliver_webhook_delivery(self, delivery_id: int | str) -> WebhookDelivery:
        """Queue a delivery again (the same event id and body), with a fresh set of attempts."""
        found = self.get_webhook_delivery(delivery_id)

        def work(conn: Connection) -> tuple[None, RegistryChange]:
            conn.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.id == found.id)
                .values(status=webhook_outbox.PENDING, attempts=0, next_attempt_timestamp=now_ms())
            )
            change = RegistryChange("REDELIVER_WEBHOOK", rp.SERVER_WIDE, key=str(found.id))
            return None, change

        self._write(work)
        return self.get_webhook_delivery(found.id)

    def start_webhook_sender(self) -> webhook_outbox.WebhookSender:
        """Start (once) the thread that posts this database's due deliveries. The server
        does; an in-process store only queues deliveries unless this is called."""
        if self.sender is None:
            self.sender = webhook_outbox.WebhookSender(self.engine).start()
        return self.sender

    def stop_webhook_sender(self) -> None:
        if self.sender is not None:
            self.sender.stop()
            self.sender = None


def _requests(conn: Connection, *conditions: Any) -> list[TransitionRequest]:
    query = (
        select(transition_requests, _rm.name)
        .join(registered_models, _rm.model_pk == _tr.model_pk)
        .where(*conditions)
        .order_by(_tr.id)
    )
    return [
        TransitionRequest(
            id=int(r.id),
            name=r.name,
            version=str(r.version),
            stage=r.stage,
            status=r.status,
            creation_timestamp=int(r.creation_timestamp),
            comment=r.comment,
            user=r.user_id,
            archive_existing_versions=bool(r.archive_existing_versions),
            resolved_timestamp=int(r.resolved_timestamp),
            resolution_comment=r.resolution_comment,
            resolved_by=r.resolved_by,
        )
        for r in conn.execute(query)
    ]


def _pending(conn: Connection, number: int) -> Any:
    request = conn.execute(
        select(transition_requests).where(_tr.id == number).with_for_update()
    ).first()
    if request is None:
        raise ResourceDoesNotExist(f"Transition request {number} not found")
    if request.status != PENDING:
        raise InvalidParameterValue(
            f"Transition request {number} is already {request.status.lower()}"
        )
    return request


def _resolve(conn: Connection, number: int, status: str, comment: str) -> None:
    conn.execute(
        update(transition_requests)
        .where(_tr.id == number)
        .values(
            status=status, resolved_timestamp=now_ms(), resolved_by="", resolution_comment=comment
        )
    )


def _id(value: int | str, what: str, limit: int = 2**31 - 1) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidParameterValue(f"{what} must be an integer, got {value!r}") from None
    if number < 1 or number > limit:
        raise InvalidParameterValue(f"{what} must be a positive integer, got {value!r}")
    return number


def _request_id(value: int | str) -> int:
    return _id(value, "request id")


def _check_limit(max_results: int, limit: int) -> None:
    if not isinstance(max_results, int) or isinstance(max_results, bool) or max_results < 1:
        raise InvalidParameterValue(f"max_results must be a positive integer, got {max_results!r}")
    if max_results > limit:
        raise InvalidParameterValue(f"max_results may be at most {limit}, got {max_results}")
