"""`cairn models`: registered models, versions, stages and aliases through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cairn.tracking.client import CairnClient
from tests.cli.support import Cli


@pytest.fixture
def registered(client: CairnClient, tmp_path: Path) -> str:
    """Model `fraud` with versions 1 (Production, @champion) and 2, and model `churn`."""
    files = tmp_path / "model"
    files.mkdir()
    (files / "MLmodel").write_text("flavors: {}\n")
    run_id = client.create_run("0").info.run_id
    client.log_artifacts(run_id, files, "model")
    client.create_registered_model("fraud", tags={"team": "risk"}, description="catches fraud")
    client.create_registered_model("churn")
    for _ in range(2):
        client.create_model_version("fraud", f"runs:/{run_id}/model", run_id=run_id)
    client.transition_model_version_stage("fraud", "1", "Production")
    client.set_registered_model_alias("fraud", "champion", "1")
    return run_id


def test_list_as_table_and_json(cli: Cli, registered: str) -> None:
    table = cli("models", "list")
    assert table.exit_code == 0, table.output
    assert "fraud" in table.stdout and "Production: 1" in table.stdout
    assert "@champion: 1" in table.stdout and "team=risk" in table.stdout
    listed = json.loads(cli("models", "list", "--json", "--filter", "name LIKE 'fr%'").stdout)
    assert [m["name"] for m in listed] == ["fraud"]
    assert listed[0]["aliases"] == [{"alias": "champion", "version": "1"}]


def test_describe_shows_the_model_and_its_versions(cli: Cli, registered: str) -> None:
    result = cli("models", "describe", "fraud")
    assert result.exit_code == 0, result.output
    assert "catches fraud" in result.stdout and "@champion -> version 1" in result.stdout
    assert registered in result.stdout
    described = json.loads(cli("models", "describe", "fraud", "--json").stdout)
    assert [v["version"] for v in described["versions"]] == ["2", "1"]


def test_versions_with_an_extra_filter(cli: Cli, registered: str) -> None:
    found = json.loads(
        cli("models", "versions", "fraud", "--json", "-f", "version_number > 1").stdout
    )
    assert [v["version"] for v in found] == ["2"]
    table = cli("models", "versions", "fraud")
    assert "Production" in table.stdout and "@champion" in table.stdout


def test_transition_and_alias(cli: Cli, client: CairnClient, registered: str) -> None:
    moved = cli("models", "transition", "fraud", "2", "production", "--archive-existing")
    assert moved.exit_code == 0, moved.output
    assert "stage Production" in moved.stdout
    assert client.get_model_version("fraud", "1").current_stage == "Archived"

    assert cli("models", "alias", "fraud", "champion", "2").exit_code == 0
    shown = cli("models", "alias", "fraud", "champion")
    assert "models:/fraud@champion -> version 2" in shown.stdout
    assert cli("models", "alias", "fraud", "champion", "--delete").exit_code == 0
    assert client.get_registered_model("fraud").aliases == {}


def test_delete_a_version_then_the_model(cli: Cli, client: CairnClient, registered: str) -> None:
    refused = cli("models", "delete", "fraud")  # no confirmation on stdin: nothing happens
    assert refused.exit_code == 1
    assert client.get_registered_model("fraud").name == "fraud"
    assert cli("models", "delete", "fraud", "--version", "2", "--yes").exit_code == 0
    assert [v.version for v in client.search_model_versions("name = 'fraud'")] == ["1"]
    assert cli("models", "delete", "fraud", "-y").exit_code == 0
    assert [m.name for m in client.search_registered_models()] == ["churn"]


def test_errors_are_clean_messages(cli: Cli, registered: str) -> None:
    for args in (
        ("models", "describe", "ghost"),
        ("models", "transition", "fraud", "1", "Live"),
        ("models", "alias", "fraud", "latest", "1"),
    ):
        result = cli(*args)
        assert result.exit_code == 1, args
        assert "Error:" in result.stderr and "Traceback" not in result.output


def test_download_by_model_uri(cli: Cli, registered: str, tmp_path: Path) -> None:
    for uri in ("models:/fraud/1", "models:/fraud/Production", "models:/fraud@champion"):
        target = tmp_path / uri.replace("/", "_").replace(":", "").replace("@", "_")
        result = cli("models", "download", uri, "--dst", str(target))
        assert result.exit_code == 0, result.output
        assert (target / "MLmodel").read_text() == "flavors: {}\n"
    bad = cli("models", "download", "models:/fraud", "--dst", str(tmp_path / "x"))
    assert bad.exit_code == 1 and "Invalid model URI" in bad.stderr
