"""The webhook outbox: deliveries queued in the change's transaction, and the sender that
posts them.

`queue_event` inserts one `webhook_deliveries` row per webhook subscribed to the change's
event, with the JSON body fixed at that moment (the signature covers exactly those bytes).
`WebhookSender` is one daemon thread: it claims due deliveries (pushing their next attempt
time forward by a lease, so several server workers never post the same attempt twice),
posts them outside any transaction, and records each attempt: DELIVERED on a 2xx answer,
otherwise PENDING again after an exponential backoff, FAILED once the attempts are spent.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, or_, select, update

from cairn.entities import Webhook, WebhookAttempt, WebhookDelivery
from cairn.store import webhooks as wh
from cairn.store.registry_base import RegistryChange
from cairn.store.sql.engine import run_read, run_write
from cairn.store.sql.queries import now_ms
from cairn.store.sql.schema import webhook_attempts, webhook_deliveries, webhooks

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger(__name__)
_wd, _wh = webhook_deliveries.c, webhooks.c
PENDING, DELIVERED, FAILED = "PENDING", "DELIVERED", "FAILED"
CLAIM_BATCH = 20


def payload(event: str, event_id: str, change: RegistryChange | None, now: int) -> str:
    body: dict[str, Any] = {"event": event, "event_id": event_id, "timestamp": now}
    if change is not None:
        body.update(
            model=change.name,
            version=change.version,
            action=change.action,
            key=change.key,
            from_value=change.from_value,
            to_value=change.to_value,
            comment=change.comment,
            user=change.user,
        )
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def queue_event(conn: Connection, change: RegistryChange) -> bool:
    """Queue a delivery of `change`'s event to every subscribed webhook; True if any."""
    event = wh.EVENT_OF_ACTION.get(change.action)
    if event is None:
        return False
    subscribed = [
        row.id
        for row in conn.execute(
            select(_wh.id, _wh.events).where(or_(_wh.model == "", _wh.model == change.name))
        )
        if event in row.events.split(",")
    ]
    if not subscribed:
        return False
    now = now_ms()
    event_id = uuid.uuid4().hex
    body = payload(event, event_id, change, now)
    conn.execute(
        webhook_deliveries.insert(),
        [_delivery_values(webhook_id, event, event_id, body, now) for webhook_id in subscribed],
    )
    return True


def _delivery_values(
    webhook_id: int, event: str, event_id: str, body: str, now: int
) -> dict[str, Any]:
    return {
        "webhook_id": webhook_id,
        "event_id": event_id,
        "event": event,
        "payload": body,
        "status": PENDING,
        "attempts": 0,
        "creation_timestamp": now,
        "next_attempt_timestamp": now,
        "last_attempt_timestamp": 0,
        "last_status_code": 0,
        "last_error": "",
    }


def queue_test(conn: Connection, webhook_id: int) -> int:
    """Queue a `ping` delivery for one webhook; its id."""
    now = now_ms()
    event_id = uuid.uuid4().hex
    body = payload(wh.TEST_EVENT, event_id, None, now)
    result = conn.execute(
        webhook_deliveries.insert().values(
            **_delivery_values(webhook_id, wh.TEST_EVENT, event_id, body, now)
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def webhook_entity(row: Row[Any]) -> Webhook:
    return Webhook(
        id=int(row.id),
        url=row.url,
        events=tuple(e for e in row.events.split(",") if e),
        creation_timestamp=int(row.creation_timestamp),
        model=row.model,
        description=row.description,
    )


def attempt_log(conn: Connection, delivery_id: int) -> tuple[WebhookAttempt, ...]:
    a = webhook_attempts.c
    rows = conn.execute(
        select(a.timestamp, a.status_code, a.error, a.duration_ms)
        .where(a.delivery_id == delivery_id)
        .order_by(a.id)
    )
    return tuple(
        WebhookAttempt(int(r.timestamp), int(r.status_code), r.error, int(r.duration_ms))
        for r in rows
    )


def delivery_entity(row: Row[Any]) -> WebhookDelivery:
    return WebhookDelivery(
        id=int(row.id),
        webhook_id=int(row.webhook_id),
        event_id=row.event_id,
        event=row.event,
        status=row.status,
        attempts=int(row.attempts),
        creation_timestamp=int(row.creation_timestamp),
        next_attempt_timestamp=int(row.next_attempt_timestamp) if row.status == PENDING else 0,
        last_attempt_timestamp=int(row.last_attempt_timestamp),
        last_status_code=int(row.last_status_code),
        last_error=row.last_error,
        payload=row.payload,
    )


def claim_due(engine: Engine, lease_ms: int, limit: int = CLAIM_BATCH) -> list[Row[Any]]:
    """Due PENDING deliveries (with their webhook's URL and secret), each claimed for
    `lease_ms` by moving its next attempt time: a claim that loses a race to another worker
    matches no row and is skipped."""

    def work(conn: Connection) -> list[Row[Any]]:
        now = now_ms()
        due = list(
            conn.execute(
                select(_wd.id, _wd.next_attempt_timestamp)
                .where(_wd.status == PENDING, _wd.next_attempt_timestamp <= now)
                .order_by(_wd.next_attempt_timestamp, _wd.id)
                .limit(limit)
            )
        )
        claimed = []
        for row in due:
            won = conn.execute(
                update(webhook_deliveries)
                .where(
                    _wd.id == row.id,
                    _wd.status == PENDING,
                    _wd.next_attempt_timestamp == row.next_attempt_timestamp,
                )
                .values(next_attempt_timestamp=now + lease_ms)
            )
            if won.rowcount:
                claimed.append(row.id)
        if not claimed:
            return []
        return list(
            conn.execute(
                select(
                    _wd.id, _wd.event, _wd.event_id, _wd.payload, _wd.attempts, _wh.url, _wh.secret
                )
                .join(webhooks, _wh.id == _wd.webhook_id)
                .where(_wd.id.in_(claimed))
                .order_by(_wd.id)
            )
        )

    return run_write(engine, work)


def record_attempt(engine: Engine, delivery_id: int, attempts: int, outcome: wh.Outcome) -> None:
    now = now_ms()
    if outcome.delivered:
        status, next_at = DELIVERED, now
    elif attempts >= wh.max_attempts():
        status, next_at = FAILED, now
    else:
        status, next_at = PENDING, now + wh.backoff_ms(attempts)

    def work(conn: Connection) -> None:
        conn.execute(
            update(webhook_deliveries)
            .where(_wd.id == delivery_id)
            .values(
                status=status,
                attempts=attempts,
                next_attempt_timestamp=next_at,
                last_attempt_timestamp=now,
                last_status_code=outcome.status_code,
                last_error=outcome.error,
            )
        )
        conn.execute(
            webhook_attempts.insert().values(
                delivery_id=delivery_id,
                timestamp=now,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
        )

    run_write(engine, work)


class WebhookSender:
    """The thread that posts due deliveries of one database. `wake()` makes it look at once
    (the store calls it after committing a change that queued deliveries)."""

    def __init__(self, engine: Engine, poll_interval: float | None = None) -> None:
        from cairn import settings

        self.engine = engine
        interval = poll_interval or settings.WEBHOOK_POLL_INTERVAL.get_float(positive=True)
        self.poll_interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> WebhookSender:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="cairn-webhook-sender", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.send_due()
            except Exception:  # the database may be briefly unavailable; try again later
                log.exception("webhook sender: could not read the outbox")
                sent = 0
            if not sent:
                self._wake.wait(self.poll_interval)
                self._wake.clear()

    def send_due(self) -> int:
        """Post every delivery due now (one claim batch); how many were attempted."""
        from cairn import settings

        lease = int((settings.WEBHOOK_TIMEOUT.get_float(positive=True) * 2 + 5) * 1000)
        rows = claim_due(self.engine, lease)
        for row in rows:
            body = row.payload.encode()
            outcome = wh.send(row.url, row.secret, row.event, row.event_id, body)
            attempts = int(row.attempts) + 1
            record_attempt(self.engine, int(row.id), attempts, outcome)
            log.info(
                "webhook delivery %s (%s) to %s: attempt %d, %s",
                row.id,
                row.event,
                row.url,
                attempts,
                "delivered" if outcome.delivered else outcome.error,
            )
        return len(rows)


def list_deliveries(
    engine: Engine, webhook_id: int | None, status: str | None, limit: int
) -> list[WebhookDelivery]:
    def work(conn: Connection) -> list[WebhookDelivery]:
        query = select(webhook_deliveries)
        if webhook_id is not None:
            query = query.where(_wd.webhook_id == webhook_id)
        if status:
            query = query.where(_wd.status == status.upper())
        query = query.order_by(_wd.id.desc()).limit(limit)
        return [delivery_entity(r) for r in conn.execute(query)]

    return run_read(engine, work)
