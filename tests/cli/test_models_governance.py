"""`cairn models history|policy|request|approve|reject|requests|webhooks`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cairn.tracking.client import CairnClient
from tests.cli.support import Cli


@pytest.fixture
def model(client: CairnClient, tmp_path: Path) -> str:
    files = tmp_path / "model"
    files.mkdir()
    (files / "MLmodel").write_text("flavors: {}\n")
    run_id = client.create_run("0").info.run_id
    client.log_artifacts(run_id, files, "model")
    client.create_registered_model("fraud")
    client.create_model_version("fraud", f"runs:/{run_id}/model", run_id=run_id)
    return "fraud"


def test_history_as_table_and_json(cli: Cli, model: str) -> None:
    moved = cli("models", "transition", model, "1", "Staging", "--comment", "smoke ok")
    assert moved.exit_code == 0, moved.output
    assert cli("models", "alias", model, "champion", "1", "-m", "best").exit_code == 0
    table = cli("models", "history", model)
    assert table.exit_code == 0, table.output
    for text in ("CREATE_MODEL", "CREATE_VERSION", "TRANSITION_STAGE", "smoke ok", "SET_ALIAS"):
        assert text in table.stdout
    entries = json.loads(cli("models", "history", model, "--json").stdout)
    assert [e["action"] for e in entries] == [
        "CREATE_MODEL",
        "CREATE_VERSION",
        "TRANSITION_STAGE",
        "SET_ALIAS",
    ]
    assert entries[2]["from_value"] == "None" and entries[2]["to_value"] == "Staging"
    assert entries[3]["key"] == "champion" and entries[3]["comment"] == "best"
    last = json.loads(cli("models", "history", model, "--json", "-n", "1").stdout)
    assert [e["action"] for e in last] == ["SET_ALIAS"]


def test_policy_and_the_approval_flow(cli: Cli, model: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("stages:\n  Production:\n    - kind: requires_approval\n")
    assert cli("models", "policy", model, "--set", str(policy)).exit_code == 0
    shown = json.loads(cli("models", "policy", model).stdout)
    assert shown["stages"] == {"Production": [{"kind": "requires_approval"}]}

    refused = cli("models", "transition", model, "1", "Production")
    assert refused.exit_code != 0 and "requires_approval" in refused.output

    requested = cli("models", "request", model, "1", "Production", "-m", "please")
    assert requested.exit_code == 0, requested.output
    listed = json.loads(cli("models", "requests", model, "--json").stdout)
    assert [(r["id"], r["comment"]) for r in listed] == [(1, "please")]
    assert "please" in cli("models", "requests").stdout
    approved = cli("models", "approve", "1", "-m", "ok")
    assert approved.exit_code == 0 and "now in stage Production" in approved.stdout

    assert cli("models", "request", model, "1", "Production").exit_code == 0
    rejected = cli("models", "reject", "2", "--comment", "no")
    assert rejected.exit_code == 0, rejected.output
    every = json.loads(cli("models", "requests", "--status", "ALL", "--json").stdout)
    assert [r["status"] for r in every] == ["APPROVED", "REJECTED"]
    assert cli("models", "policy", model, "--delete").exit_code == 0
    assert json.loads(cli("models", "policy", model).stdout)["stages"] == {}


def test_webhooks_commands(cli: Cli, model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    refused = cli(
        "models", "webhooks", "add", "http://127.0.0.1:9/", "-e", "alias_set", "--secret", "x" * 10
    )
    assert refused.exit_code != 0 and "non-public" in refused.output
    monkeypatch.setenv("CAIRN_WEBHOOK_ALLOW_PRIVATE", "true")
    added = cli(
        "models", "webhooks", "add", "http://127.0.0.1:9/", "-e", "alias_set", "--secret", "x" * 10
    )
    assert added.exit_code == 0, added.output
    listed = json.loads(cli("models", "webhooks", "list", "--json").stdout)
    assert [(w["id"], w["events"]) for w in listed] == [(1, ["alias_set"])]
    assert "secret" not in listed[0]
    assert cli("models", "alias", model, "champion", "1").exit_code == 0
    pending = json.loads(cli("models", "webhooks", "deliveries", "--json").stdout)
    assert [(d["event"], d["status"]) for d in pending] == [("alias_set", "PENDING")]
    assert "alias_set" in cli("models", "webhooks", "deliveries", "--webhook", "1").stdout
    assert cli("models", "webhooks", "test", "1").exit_code == 0
    shown = cli("models", "webhooks", "delivery", "1")
    assert shown.exit_code == 0 and "alias_set" in shown.stdout and "PENDING" in shown.stdout
    as_json = json.loads(cli("models", "webhooks", "delivery", "1", "--json").stdout)
    assert as_json["attempt_log"] == [] and json.loads(as_json["payload"])["key"] == "champion"
    assert cli("models", "webhooks", "redeliver", "1").exit_code == 0
    assert cli("models", "webhooks", "delete", "1").exit_code == 0
    assert "No webhooks" in cli("models", "webhooks", "list").stdout
