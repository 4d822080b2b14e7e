"""Webhooks: deliveries queued with the change (outbox), posted with an HMAC-SHA256
signature to a real local receiver, retried with backoff, logged and redeliverable."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from cairn.exceptions import InvalidParameterValue
from cairn.store import webhooks as wh
from cairn.store.sql.registry import SqlRegistryStore
from cairn.store.sql.webhook_outbox import WebhookSender
from tests.webhook_receiver import webhook_receiver

SECRET = "s3cret-for-tests"


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_WEBHOOK_ALLOW_PRIVATE", "true")  # the receiver is on loopback
    monkeypatch.setenv("CAIRN_WEBHOOK_BACKOFF", "0.05")
    monkeypatch.setenv("CAIRN_WEBHOOK_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("CAIRN_WEBHOOK_TIMEOUT", "5")


def _send_until(sender: WebhookSender, done: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "deliveries did not settle"
        if not sender.send_due():
            time.sleep(0.02)


def test_events_are_queued_with_the_change_signed_and_delivered(
    registry: SqlRegistryStore, model_run: str
) -> None:
    with webhook_receiver() as receiver:
        hook = registry.create_webhook(
            receiver.url, ["version_created", "alias_set", "model_deleted"], SECRET
        )
        assert "secret" not in hook.to_dict() and hook.events == (
            "version_created",
            "alias_set",
            "model_deleted",
        )
        registry.create_registered_model("m")
        registry.create_model_version("m", f"runs:/{model_run}/model")
        registry.set_model_version_tag("m", "1", "k", "v")  # not subscribed
        registry.set_registered_model_alias("m", "champion", "1", comment="go")
        queued = registry.list_webhook_deliveries(hook.id)
        assert [(d.event, d.status, d.attempts) for d in queued] == [
            ("alias_set", "PENDING", 0),
            ("version_created", "PENDING", 0),
        ]
        sender = WebhookSender(registry.engine)
        _send_until(sender, lambda: len(receiver.received) == 2)
        for got in receiver.received:
            assert wh.verify(SECRET, got.body, got.headers["X-Cairn-Signature"])
            assert got.headers["X-Cairn-Signature"].startswith("sha256=")
            body = json.loads(got.body)
            assert got.headers["X-Cairn-Delivery"] == body["event_id"]
            assert got.headers["X-Cairn-Event"] == body["event"]
        created, alias = (json.loads(r.body) for r in receiver.received)
        assert (created["event"], created["model"], created["version"]) == (
            "version_created",
            "m",
            "1",
        )
        assert (alias["event"], alias["key"], alias["to_value"], alias["comment"]) == (
            "alias_set",
            "champion",
            "1",
            "go",
        )
        assert {d.status for d in registry.list_webhook_deliveries(hook.id)} == {"DELIVERED"}


def test_retries_with_backoff_then_failure_is_logged_and_redeliverable(
    registry: SqlRegistryStore,
) -> None:
    with webhook_receiver() as receiver:
        registry.create_registered_model("m")
        hook = registry.create_webhook(receiver.url, ["model_deleted"], SECRET, model="m")
        other = registry.create_webhook(receiver.url + "/other", ["model_deleted"], SECRET)
        registry.delete_registered_model("m")
        sender = WebhookSender(registry.engine)
        receiver.statuses = [500, 503]  # one for each webhook's first attempt
        _send_until(
            sender,
            lambda: all(d.status != "PENDING" for d in registry.list_webhook_deliveries()),
        )
        [delivered] = registry.list_webhook_deliveries(other.id)
        assert (delivered.status, delivered.attempts, delivered.last_status_code) == (
            "DELIVERED",
            2,
            200,
        )

        receiver.statuses = [500] * 6  # both webhooks' three attempts
        registry.create_registered_model("m")
        registry.delete_registered_model("m")
        _send_until(sender, lambda: not registry.list_webhook_deliveries(status="PENDING"))
        [failed] = registry.list_webhook_deliveries(hook.id, status="FAILED")
        assert (failed.attempts, failed.last_status_code, failed.last_error) == (
            3,
            500,
            "HTTP 500",
        )
        log = registry.get_webhook_delivery(failed.id).attempt_log
        assert [(a.status_code, a.error) for a in log] == [(500, "HTTP 500")] * 3
        assert all(a.timestamp > 0 and a.duration_ms >= 0 for a in log)
        ids = [r.headers["X-Cairn-Delivery"] for r in receiver.received if r.path == "/hook"]
        assert ids.count(failed.event_id) == 3  # the same event id on every attempt

        again = registry.redeliver_webhook_delivery(failed.id)
        assert (again.status, again.attempts) == ("PENDING", 0)
        _send_until(sender, lambda: registry.get_webhook_delivery(failed.id).status != "PENDING")
        redelivered = registry.get_webhook_delivery(failed.id)
        assert redelivered.status == "DELIVERED"
        assert [a.status_code for a in redelivered.attempt_log] == [500, 500, 500, 200]

        ping = registry.test_webhook(hook.id)
        _send_until(sender, lambda: registry.get_webhook_delivery(ping.id).status == "DELIVERED")
        assert json.loads(receiver.received[-1].body)["event"] == "ping"
        registry.delete_webhook(hook.id)
        assert [w.id for w in registry.list_webhooks()] == [other.id]
        assert registry.list_webhook_deliveries(hook.id) == []


def test_an_unreachable_receiver_is_an_attempt_with_an_error(registry: SqlRegistryStore) -> None:
    from tests.server_process import free_port

    hook = registry.create_webhook(f"http://127.0.0.1:{free_port()}/", ["model_deleted"], SECRET)
    registry.create_registered_model("m")
    registry.delete_registered_model("m")
    WebhookSender(registry.engine).send_due()
    [delivery] = registry.list_webhook_deliveries(hook.id)
    assert delivery.attempts == 1 and delivery.last_status_code == 0
    assert delivery.status == "PENDING" and "Connect" in delivery.last_error
    [attempt] = registry.get_webhook_delivery(delivery.id).attempt_log
    assert attempt.status_code == 0 and "Connect" in attempt.error


def test_webhook_urls_events_and_secrets_are_checked(
    registry: SqlRegistryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_urls = [
        "file:///etc/passwd",
        "ftp://example.com/",
        "gopher://x",
        "http://",
        "http://u:p@example.com/",
        "http://exa mple.com/",
    ]
    for url in bad_urls:
        with pytest.raises(InvalidParameterValue):
            registry.create_webhook(url, ["alias_set"], SECRET)
    with pytest.raises(InvalidParameterValue, match="Unknown webhook event"):
        registry.create_webhook("https://example.com/", ["everything"], SECRET)
    with pytest.raises(InvalidParameterValue, match="secret"):
        registry.create_webhook("https://example.com/", ["alias_set"], "short")
    monkeypatch.setenv("CAIRN_WEBHOOK_ALLOW_PRIVATE", "false")
    private = [
        "http://127.0.0.1:8080/",
        "http://localhost/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://0.0.0.0/",
    ]
    for url in private:
        with pytest.raises(InvalidParameterValue, match="non-public"):
            registry.create_webhook(url, ["alias_set"], SECRET)
    # Also at send time: a delivery to a now-private address is refused, not posted.
    assert wh.send("http://127.0.0.1:1/", SECRET, "ping", "x", b"{}").error.startswith(
        "Webhook URL"
    )


def test_signatures() -> None:
    body = b'{"event":"ping"}'
    header = wh.sign("key", body)
    assert wh.verify("key", body, header)
    assert not wh.verify("other", body, header) and not wh.verify("key", body + b" ", header)
