"""Registry governance through a real `cairn server`: policies refusing a transition over
REST, the approval flow, the audit trail, and webhooks posted by the server's own sender
thread to a real local receiver (signature checked, a 500 retried)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from cairn.exceptions import PermissionDenied
from cairn.store import webhooks as wh
from cairn.tracking.client import CairnClient
from tests.webhook_receiver import webhook_receiver

SECRET = "server-test-secret"
SIGNED = 'flavors: {}\nsignature:\n  inputs: \'[{"type": "double"}]\'\n'
ENV = {
    "CAIRN_WEBHOOK_ALLOW_PRIVATE": "true",
    "CAIRN_WEBHOOK_BACKOFF": "0.1",
    "CAIRN_WEBHOOK_POLL_INTERVAL": "0.1",
    "CAIRN_WEBHOOK_MAX_ATTEMPTS": "3",
}


def test_policies_approvals_audit_and_webhooks_over_http(
    server_factory: Any, tmp_path: Path
) -> None:
    server = server_factory(env=ENV)
    client = CairnClient(server.url)
    files = tmp_path / "model"
    files.mkdir()
    (files / "MLmodel").write_text(SIGNED)
    run_id = client.create_run("0").info.run_id
    client.log_artifacts(run_id, files, "model")
    client.log_metric(run_id, "accuracy", 0.97)
    client.create_registered_model("fraud")

    with webhook_receiver() as receiver:
        hook = client.create_webhook(
            receiver.url, ["version_created", "transition_requested", "stage_transitioned"], SECRET
        )
        assert "secret" not in json.dumps([w.to_dict() for w in client.list_webhooks()])
        client.create_model_version("fraud", f"runs:/{run_id}/model", run_id=run_id)
        client.set_registry_policy(
            "fraud",
            {
                "stages": {
                    "Production": [
                        {"kind": "requires_signature"},
                        {"kind": "metric", "key": "accuracy", "op": ">=", "value": 0.9},
                        {"kind": "requires_approval"},
                    ]
                }
            },
        )
        # MLflow's own endpoint answers 403 PERMISSION_DENIED naming the rule.
        refused = httpx.post(
            f"{server.url}/api/2.0/mlflow/model-versions/transition-stage",
            json={"name": "fraud", "version": "1", "stage": "Production"},
        )
        assert refused.status_code == 403
        assert refused.json()["error_code"] == "PERMISSION_DENIED"
        assert "requires_approval" in refused.json()["message"]
        try:
            client.transition_model_version_stage("fraud", 1, "Production", comment="ship")
            raise AssertionError("the policy should refuse")
        except PermissionDenied as exc:
            assert "request the transition" in exc.message

        request = client.request_model_version_transition("fraud", 1, "Production", "ready")
        assert [r.id for r in client.list_transition_requests("fraud")] == [request.id]
        moved = client.approve_transition_request(request.id, "approved by risk")
        assert str(moved.current_stage) == "Production"
        assert client.list_transition_requests("fraud") == []

        trail = [(e.action, e.comment) for e in client.get_registry_audit("fraud")]
        assert [a for a, _ in trail] == [
            "CREATE_MODEL",
            "CREATE_VERSION",
            "SET_POLICY",
            "REFUSED_TRANSITION_STAGE",
            "REFUSED_TRANSITION_STAGE",
            "REQUEST_TRANSITION",
            "APPROVE_TRANSITION",
            "TRANSITION_STAGE",
        ]
        assert trail[-1] == ("TRANSITION_STAGE", "approved by risk")

        got = receiver.wait_for(3)
        events = [json.loads(r.body)["event"] for r in got]
        assert events == ["version_created", "transition_requested", "stage_transitioned"]
        for r in got:
            assert wh.verify(SECRET, r.body, r.headers["X-Cairn-Signature"])
        assert json.loads(got[2].body)["to_value"] == "Production"

        receiver.statuses = [500]
        ping = client.test_webhook(hook.id)
        receiver.wait_for(5)
        deadline = time.monotonic() + 10
        while client.list_webhook_deliveries(hook.id)[0].status != "DELIVERED":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        [latest, *_] = client.list_webhook_deliveries(hook.id)
        assert (latest.id, latest.event, latest.attempts) == (ping.id, "ping", 2)
        log = client.get_webhook_delivery(ping.id).attempt_log
        assert [a.status_code for a in log] == [500, 200]
        assert [d.status for d in client.list_webhook_deliveries(status="FAILED")] == []


def test_comment_and_policy_fields_are_optional_for_mlflow_clients(live_server: Any) -> None:
    client = CairnClient(live_server.url)
    name = f"plain-{time.monotonic_ns()}"
    client.create_registered_model(name)
    assert client.get_registry_policy(name) == {"stages": {}, "aliases": {}}
    audit = httpx.get(
        f"{live_server.url}/api/2.0/cairn/registry/audit", params={"name": name}
    ).json()
    assert [e["action"] for e in audit["entries"]] == ["CREATE_MODEL"]
