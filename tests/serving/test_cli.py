"""`cairn models serve` options: defaults from settings, handed to the runner unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.serving import runner


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    monkeypatch.setattr(runner, "serve", lambda options: calls.append(options))
    return calls


def test_defaults(served: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "CAIRN_MODELS_WORKERS",
        "MLFLOW_MODELS_WORKERS",
        "CAIRN_SCORING_SERVER_REQUEST_TIMEOUT",
        "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT",
        "CAIRN_SCORING_SERVER_MAX_BODY_BYTES",
    ):
        monkeypatch.delenv(var, raising=False)
    result = CliRunner().invoke(app, ["models", "serve", "-m", "models:/iris/1"])
    assert result.exit_code == 0, result.output
    (options,) = served
    assert options.model_uri == "models:/iris/1"
    assert (options.host, options.port, options.workers, options.threads) == (
        "127.0.0.1",
        5000,
        1,
        1,
    )
    assert options.timeout == 60 and options.max_body_bytes == 10 * 1024 * 1024
    assert not options.trust and options.capture_file is None and options.log_requests
    assert options.fast_path


def test_settings_and_options(served: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_MODELS_WORKERS", "3")
    monkeypatch.setenv("MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT", "0")
    monkeypatch.setenv("CAIRN_SCORING_SERVER_MAX_BODY_BYTES", "1000")
    result = CliRunner().invoke(
        app,
        [
            "models",
            "serve",
            "-m",
            "m",
            "--trust",
            "--capture-file",
            "c.jsonl",
            "--capture-sample-rate",
            "0.25",
            "--no-log-requests",
            "--no-fast-path",
            "-h",
            "0.0.0.0",
            "-p",
            "9",
        ],
    )
    assert result.exit_code == 0, result.output
    (options,) = served
    assert options.workers == 3 and options.timeout is None and options.max_body_bytes == 1000
    assert options.trust and options.capture_file == "c.jsonl"
    assert options.capture_sample_rate == 0.25 and not options.log_requests
    assert not options.fast_path
    assert (options.host, options.port) == ("0.0.0.0", 9)


def test_bad_setting_is_a_clean_error(served: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_MODELS_WORKERS", "many")
    result = CliRunner().invoke(app, ["models", "serve", "-m", "m"])
    assert result.exit_code != 0 and "CAIRN_MODELS_WORKERS must be a whole number" in result.output
    assert not served


def test_rate_out_of_range(served: list[Any]) -> None:
    result = CliRunner().invoke(app, ["models", "serve", "-m", "m", "--capture-sample-rate", "2"])
    assert result.exit_code == 2 and not served


def test_env_manager_local_only(served: list[Any]) -> None:
    ok = CliRunner().invoke(app, ["models", "serve", "-m", "m", "--env-manager", "local"])
    assert ok.exit_code == 0 and len(served) == 1
    refused = CliRunner().invoke(app, ["models", "serve", "-m", "m", "--env-manager", "conda"])
    assert refused.exit_code != 0 and "--env-manager conda is not supported" in refused.output
