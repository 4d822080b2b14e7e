"""`cairn runs`: listing with filters, order and columns; describe; delete and restore."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cairn.entities import Dataset, DatasetInput, InputTag
from cairn.tracking.client import CairnClient
from tests.cli.support import Cli, RunCairn, experiment_named


@pytest.fixture
def runs(client: CairnClient) -> dict[str, str]:
    """Three runs in experiment 'vision' (names -> ids) and one in 'audio'."""
    vision = client.create_experiment("vision")
    audio = client.create_experiment("audio")
    ids = {}
    for name, acc, model in (
        ("small", 0.71, "cnn"),
        ("medium", 0.85, "cnn"),
        ("large", 0.93, "vit"),
    ):
        run = client.create_run(vision, run_name=name, start_time=1_700_000_000_000)
        run_id = run.info.run_id
        client.log_metric(run_id, "acc", acc)
        client.log_metric(run_id, "loss", 1 - acc)
        client.log_param(run_id, "model", model)
        client.log_param(run_id, "lr", 0.01)
        client.set_tag(run_id, "team", "cv")
        client.set_terminated(run_id, end_time=1_700_000_090_000)
        ids[name] = run_id
    ids["speech"] = client.create_run(audio, run_name="speech").info.run_id
    return ids


def _json(cli: Cli, *args: str) -> Any:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _names(cli: Cli, *args: str) -> list[str]:
    return [r["info"]["run_name"] for r in _json(cli, "runs", "list", *args)]


def test_list_defaults_to_every_active_experiment(cli: Cli, runs: dict[str, str]) -> None:
    assert sorted(_names(cli)) == ["large", "medium", "small", "speech"]


def test_list_one_experiment_by_id_or_name(
    cli: Cli, client: CairnClient, runs: dict[str, str]
) -> None:
    vision = experiment_named(client, "vision").experiment_id
    assert sorted(_names(cli, "--experiment-id", vision)) == ["large", "medium", "small"]
    assert _names(cli, "--experiment-name", "audio") == ["speech"]


def test_list_with_filter_and_order(cli: Cli, runs: dict[str, str]) -> None:
    names = _names(cli, "--filter", "metrics.acc > 0.8", "--order-by", "metrics.acc DESC")
    assert names == ["large", "medium"]
    names = _names(cli, "-f", "params.model = 'cnn'", "-o", "metrics.acc ASC")
    assert names == ["small", "medium"]


def test_list_max_results_notes_that_more_exist(cli: Cli, runs: dict[str, str]) -> None:
    result = cli("runs", "list", "-n", "vision", "--max-results", "2", "-o", "metrics.acc DESC")
    assert result.exit_code == 0, result.output
    assert runs["large"] in result.stdout and runs["small"] not in result.stdout
    assert "--max-results" in result.stderr


def test_json_uses_the_entity_dicts(cli: Cli, client: CairnClient, runs: dict[str, str]) -> None:
    listed = _json(cli, "runs", "list", "-n", "vision", "-f", "attributes.run_name = 'large'")
    assert listed == [client.get_run(runs["large"]).to_dict()]


def test_table_shows_info_metrics_and_params(cli: Cli, runs: dict[str, str]) -> None:
    result = cli("runs", "list", "-n", "vision")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for header in ("Run ID", "Name", "Status", "Start", "Duration"):
        assert header in out
    for column in ("metrics.acc", "metrics.loss", "params.lr", "params.model"):
        assert column in out
    assert runs["medium"] in out and "FINISHED" in out and "0.85" in out and "vit" in out
    assert "1m 30s" in out  # 90 s between start and end


def test_table_columns_can_be_chosen(cli: Cli, runs: dict[str, str]) -> None:
    result = cli("runs", "list", "-n", "vision", "--columns", "metrics.acc,params.model")
    assert result.exit_code == 0, result.output
    assert "metrics.acc" in result.stdout and "params.model" in result.stdout
    assert "metrics.loss" not in result.stdout and "params.lr" not in result.stdout
    tagged = cli("runs", "list", "-n", "vision", "-c", "tags.team")
    assert "tags.team" in tagged.stdout and "cv" in tagged.stdout


def test_table_caps_columns_and_puts_sort_keys_first(cli: Cli, runs: dict[str, str]) -> None:
    result = cli("runs", "list", "-n", "vision", "--max-columns", "1", "-o", "params.lr")
    assert result.exit_code == 0, result.output
    assert "params.lr" in result.stdout and "metrics.acc" not in result.stdout
    assert "3 more" in result.stderr and "--columns" in result.stderr


def test_narrow_terminal_drops_columns_with_a_note(runs: dict[str, str]) -> None:
    from typer.testing import CliRunner

    from cairn.cli.main import app

    result = CliRunner(env={"COLUMNS": "100"}).invoke(app, ["runs", "list", "-n", "vision"])
    assert result.exit_code == 0, result.output
    assert runs["small"] in result.stdout and "FINISHED" in result.stdout
    assert max(len(line.rstrip()) for line in result.stdout.splitlines()) <= 100
    assert "widen the terminal" in result.stderr


def test_table_prints_user_values_verbatim(cli: Cli, client: CairnClient) -> None:
    run_id = client.create_run(client.create_experiment("markup"), run_name="[bold]x").info.run_id
    client.log_param(run_id, "note", "[red]not markup[/red] :smile:")
    out = cli("runs", "list").stdout + cli("runs", "describe", run_id).stdout
    assert "[bold]x" in out and "[red]not markup[/red] :smile:" in out


def test_bad_filter_points_at_the_position(cli: Cli, runs: dict[str, str]) -> None:
    result = cli("runs", "list", "--filter", "metrics.acc >> 0.5")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error:")
    assert "position" in result.stderr and "^" in result.stderr
    assert "Traceback" not in result.output


def test_bad_filter_from_the_console_script(
    cairn_subprocess: RunCairn, runs: dict[str, str]
) -> None:
    proc = cairn_subprocess("runs", "list", "-f", "params.model = 'cnn' and")
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error:")
    assert "position" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_experiment_name(cli: Cli) -> None:
    result = cli("runs", "list", "--experiment-name", "nope")
    assert result.exit_code == 1
    assert "nope" in result.stderr


def test_no_runs(cli: Cli, client: CairnClient) -> None:
    client.create_experiment("empty")
    result = cli("runs", "list")
    assert result.exit_code == 0
    assert "No runs found" in result.stdout
    assert _json(cli, "runs", "list") == []


def test_describe(cli: Cli, client: CairnClient, runs: dict[str, str]) -> None:
    run_id = runs["large"]
    client.log_metric(run_id, "acc", 0.95, step=7)
    dataset = Dataset(name="imagenet-mini", digest="abc123", source_type="local", source="/d")
    client.log_inputs(run_id, [DatasetInput(dataset, (InputTag("mlflow.data.context", "train"),))])
    result = cli("runs", "describe", run_id)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert run_id in out and "large" in out and "vision" in out and "FINISHED" in out
    assert "Params" in out and "vit" in out
    assert "Metrics" in out and "0.95" in out and "7" in out
    assert "Tags" in out and "team" in out
    assert "Inputs" in out and "imagenet-mini" in out and "train" in out


def test_describe_json(cli: Cli, client: CairnClient, runs: dict[str, str]) -> None:
    described = _json(cli, "runs", "describe", runs["small"])
    assert described == client.get_run(runs["small"]).to_dict()
    assert {p["key"]: p["value"] for p in described["data"]["params"]}["model"] == "cnn"


def test_delete_and_restore(cli: Cli, runs: dict[str, str]) -> None:
    run_id = runs["small"]
    assert cli("runs", "delete", run_id).exit_code == 0
    assert "small" not in _names(cli)
    assert _names(cli, "--view", "deleted") == ["small"]
    assert "small" in _names(cli, "--view", "all")
    assert cli("runs", "restore", run_id).exit_code == 0
    assert "small" in _names(cli)


def test_runs_of_a_deleted_experiment_show_in_the_deleted_view(
    cli: Cli, client: CairnClient, runs: dict[str, str]
) -> None:
    client.delete_experiment(experiment_named(client, "audio").experiment_id)
    assert "speech" not in _names(cli)
    assert "speech" in _names(cli, "--view", "deleted")


def test_list_from_the_console_script(cairn_subprocess: RunCairn, runs: dict[str, str]) -> None:
    proc = cairn_subprocess("runs", "list", "-n", "vision", "-o", "metrics.acc DESC", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [r["info"]["run_id"] for r in json.loads(proc.stdout)] == [
        runs["large"],
        runs["medium"],
        runs["small"],
    ]
