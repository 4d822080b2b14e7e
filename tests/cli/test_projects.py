"""`cairn run`: output streams through, the exit status is the command's, bad input is a
clean error, and Ctrl-C cancels the run (KILLED).

Projects run with `--env-manager local` here (nothing to build); the environment-building
paths are covered in tests/projects. One test builds the sample's environment through the
command line, into a cache of its own.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cairn.entities import Run, RunStatus
from cairn.tracking.client import CairnClient
from tests.cli.support import REPO, WIDE, Cli, RunCairn, cairn_command
from tests.projects.support import copy_sample


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_sample(tmp_path / "sample")


def _only_run(client: CairnClient) -> Run:
    experiments = [e.experiment_id for e in client.search_experiments()]
    [run] = client.search_runs(experiments)
    return run


def test_run_streams_output_and_records_the_run(
    cairn_subprocess: RunCairn, client: CairnClient, project: Path
) -> None:
    proc = cairn_subprocess(
        "run", str(project), "-P", "alpha=2", "-P", "label=from cli", "--env-manager", "local",
        "--experiment-name", "cli-projects", "--run-name", "first",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run = _only_run(client)
    assert f"sample: run {run.info.run_id} alpha=2.0 label=from cli" in proc.stdout
    assert f"cairn: run {run.info.run_id} FINISHED" in proc.stderr
    assert run.info.status is RunStatus.FINISHED and run.info.run_name == "first"
    assert run.data.params["alpha"] == "2" and run.data.params["label"] == "from cli"


def test_the_exit_status_is_the_commands(
    cairn_subprocess: RunCairn, client: CairnClient, project: Path
) -> None:
    proc = cairn_subprocess("run", str(project), "-P", "exit_code=4", "--env-manager", "local")
    assert proc.returncode == 4
    run = _only_run(client)
    assert run.info.status is RunStatus.FAILED
    assert f"cairn: run {run.info.run_id} FAILED" in proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["-e", "nope"], "Unknown entry point 'nope'"),
        (["-P", "alpha=fast"], "'fast' is not a number"),
        (["-P", "alpha"], "-P takes KEY=VALUE"),
        (["-P", "alpha=1", "-P", "alpha=2"], "-P alpha is given more than once"),
        (["-e", "with_data", "-P", "source=s3://b"], r"required parameter\(s\) data"),
        (["--version", "v1"], "needs a git repository"),
    ],
)
def test_bad_input_is_a_clean_error_and_runs_nothing(
    cli: Cli, client: CairnClient, project: Path, args: list[str], message: str
) -> None:
    result = cli("run", str(project), "--env-manager", "local", *args)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert re.search(message, result.stderr.replace("\n", " ")), result.stderr
    assert "Traceback" not in result.output
    assert list(client.search_runs([e.experiment_id for e in client.search_experiments()])) == []


def test_unknown_env_manager_is_refused_by_the_option(cli: Cli, project: Path) -> None:
    result = cli("run", str(project), "--env-manager", "pip")
    assert result.exit_code == 2
    assert "pip" in result.stderr


def test_ctrl_c_cancels_the_run(client: CairnClient, project: Path) -> None:
    env = {**os.environ, **WIDE, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [*cairn_command(), "run", str(project), "-e", "wait", "--env-manager", "local"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A terminal's Ctrl-C reaches a process with SIGINT's default disposition; some test
        # runners start workers with SIGINT ignored, which children would inherit.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        run: Run | None = None
        while time.monotonic() < deadline:
            experiments = [e.experiment_id for e in client.search_experiments()]
            runs = list(client.search_runs(experiments))
            if runs and "sample.grandchild_pid" in runs[0].data.tags:
                run = runs[0]
                break
            time.sleep(0.05)
        assert run is not None, "the project never started"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted; cancelling run" in err
    assert client.get_run(run.info.run_id).info.status is RunStatus.KILLED


@pytest.mark.slow
def test_run_builds_the_declared_environment(
    cairn_subprocess: RunCairn,
    client: CairnClient,
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAIRN_ENV_CACHE_DIR", str(tmp_path / "envs"))
    proc = cairn_subprocess("run", str(project))
    assert proc.returncode == 0, proc.stderr
    run = _only_run(client)
    assert run.data.params["six_version"] == "1.16.0"
    assert run.data.tags["mlflow.project.env"] == "virtualenv"
    assert "building environment" in proc.stderr
