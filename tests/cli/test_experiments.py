"""`cairn experiments`: the full life of an experiment through the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cairn.tracking.client import CairnClient
from tests.cli.support import Cli, RunCairn, experiment_named


def _listed(cli: Cli, *args: str) -> dict[str, dict[str, Any]]:
    result = cli("experiments", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    return {e["name"]: e for e in json.loads(result.stdout)}


def test_create_prints_the_new_id(cli: Cli, client: CairnClient) -> None:
    result = cli("experiments", "create", "fraud", "--tag", "team=risk", "-t", "tier=1")
    assert result.exit_code == 0, result.output
    experiment = experiment_named(client, "fraud")
    assert f"with id {experiment.experiment_id}" in result.stdout
    assert experiment.tags == {"team": "risk", "tier": "1"}


def test_create_with_artifact_location(cli: Cli, client: CairnClient, tmp_path: Path) -> None:
    location = str(tmp_path / "elsewhere")
    result = cli("experiments", "create", "placed", "--artifact-location", location)
    assert result.exit_code == 0, result.output
    assert experiment_named(client, "placed").artifact_location.endswith("elsewhere")


def test_create_rejects_a_malformed_tag(cli: Cli) -> None:
    result = cli("experiments", "create", "x", "--tag", "no-equals-sign")
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output


def test_duplicate_name_is_a_clean_error(cli: Cli) -> None:
    assert cli("experiments", "create", "twice").exit_code == 0
    result = cli("experiments", "create", "twice")
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "twice" in result.stderr
    assert "Traceback" not in result.output


def test_list_as_table_and_json(cli: Cli) -> None:
    cli("experiments", "create", "alpha")
    cli("experiments", "create", "beta")
    table = cli("experiments", "list")
    assert table.exit_code == 0
    assert "alpha" in table.stdout and "beta" in table.stdout
    assert {"alpha", "beta"} <= set(_listed(cli))
    assert _listed(cli)["alpha"]["lifecycle_stage"] == "active"


def test_list_with_a_filter(cli: Cli) -> None:
    cli("experiments", "create", "fraud-a")
    cli("experiments", "create", "churn")
    assert set(_listed(cli, "--filter", "name LIKE 'fraud%'")) == {"fraud-a"}


def test_rename(cli: Cli, client: CairnClient) -> None:
    experiment_id = client.create_experiment("old")
    result = cli("experiments", "rename", experiment_id, "new")
    assert result.exit_code == 0, result.output
    assert client.get_experiment(experiment_id).name == "new"
    assert "new" in _listed(cli) and "old" not in _listed(cli)


def test_delete_and_restore(cli: Cli, client: CairnClient) -> None:
    experiment_id = client.create_experiment("fleeting")
    assert cli("experiments", "delete", experiment_id).exit_code == 0
    assert "fleeting" not in _listed(cli)
    assert _listed(cli, "--view", "deleted")["fleeting"]["lifecycle_stage"] == "deleted"
    assert "fleeting" in _listed(cli, "--view", "all")
    deleted_table = cli("experiments", "list", "--view", "deleted")
    assert "fleeting" in deleted_table.stdout and "deleted" in deleted_table.stdout

    assert cli("experiments", "restore", experiment_id).exit_code == 0
    assert _listed(cli)["fleeting"]["lifecycle_stage"] == "active"


def test_delete_unknown_experiment(cli: Cli) -> None:
    result = cli("experiments", "delete", "987654")
    assert result.exit_code == 1
    assert "987654" in result.stderr


def test_empty_listing_says_so(cli: Cli) -> None:
    result = cli("experiments", "list", "--view", "deleted")
    assert result.exit_code == 0
    assert "No experiments found" in result.stdout


def test_lifecycle_through_the_console_script(cairn_subprocess: RunCairn) -> None:
    created = cairn_subprocess("experiments", "create", "via-process")
    assert created.returncode == 0, created.stderr
    experiment_id = created.stdout.strip().rsplit(" ", 1)[-1]
    assert cairn_subprocess("experiments", "rename", experiment_id, "renamed").returncode == 0
    assert cairn_subprocess("experiments", "delete", experiment_id).returncode == 0
    listed = cairn_subprocess("experiments", "list", "--view", "deleted", "--json")
    assert [e["name"] for e in json.loads(listed.stdout)] == ["renamed"]
