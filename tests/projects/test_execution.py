"""`cairn.projects.run` end to end: the run it records, the environments it runs in, bad input
answered before anything runs, failures, git versions, nesting and a remote tracking server.

Every test runs a real child process against a real SQLite file (or the real server).
Environment-building tests are marked slow; they share one cache per test process, so the
sample project's environment is built once per session and reused.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import cairn
from cairn.entities import Run, RunStatus
from cairn.exceptions import ExecutionException, InvalidParameterValue
from cairn.projects.env_spec import digest, load_python_env
from cairn.projects.execution import child_environment
from cairn.tracking.client import CairnClient
from tests.projects.support import git, make_repo


def _run(client: CairnClient, project: Path | str, **kw: Any) -> Run:
    submitted = cairn.projects.run(str(project), **kw)
    assert submitted.get_status() == "FINISHED"
    return client.get_run(submitted.run_id)


def _all_runs(client: CairnClient) -> list[Run]:
    experiments = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(experiments))


# -- what a run records --------------------------------------------------------------------


def test_local_run_records_source_params_and_the_scripts_own_logging(
    client: CairnClient, sample_project: Path
) -> None:
    run = _run(client, sample_project, env_manager="local", parameters={"alpha": 0.25})

    assert run.info.status is RunStatus.FINISHED and run.info.end_time is not None
    assert run.data.params == {
        "alpha": "0.25",
        "steps": "3",
        "label": "plain run",
        "exit_code": "0",
        "six_version": "not installed",  # logged by the script: local builds nothing
    }
    assert run.data.metrics["score"] == 0.75
    tags = run.data.tags
    assert tags["mlflow.source.name"] == str(sample_project)
    assert tags["mlflow.source.type"] == "PROJECT"
    assert tags["mlflow.project.entryPoint"] == "main"
    assert tags["mlflow.project.env"] == "local"
    assert tags["mlflow.project.backend"] == "local"
    assert "cairn.project.envDigest" not in tags
    assert tags["sample.label"] == "plain run"
    # `python` in the command is the interpreter running Cairn.
    assert Path(tags["sample.python"]).parent == Path(sys.executable).parent


def test_the_script_resumes_the_run_and_the_exit_status_decides(
    client: CairnClient, sample_project: Path
) -> None:
    # train.py ends its `with cairn.start_run()` block normally (FINISHED), then exits 3.
    with pytest.raises(ExecutionException, match="failed: its command exited with status 3"):
        cairn.projects.run(str(sample_project), env_manager="local", parameters={"exit_code": 3})
    [run] = _all_runs(client)
    assert run.info.status is RunStatus.FAILED
    assert run.data.metrics["score"] == 1.5  # what the script logged is kept


def test_an_exception_in_the_script_fails_the_run(client: CairnClient, tmp_path: Path) -> None:
    (tmp_path / "crash.py").write_text(
        "import cairn\n\nwith cairn.start_run():\n    cairn.log_metric('m', 1)\n"
        "    raise SystemExit('boom')\n"
    )
    submitted = cairn.projects.run(str(tmp_path), "crash.py", synchronous=False)
    assert submitted.wait() is False
    assert submitted.get_status() == "FAILED"
    run = client.get_run(submitted.run_id)
    assert run.info.status is RunStatus.FAILED and run.data.metrics["m"] == 1


def test_undeclared_parameters_are_passed_on_and_recorded(
    client: CairnClient, sample_project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run = _run(client, sample_project, env_manager="local", parameters={"epochs": 7, "note": "a b"})
    assert run.data.params["epochs"] == "7" and run.data.params["note"] == "a b"
    assert run.data.tags["sample.passed_on"] == "--epochs 7 --note a b"
    assert "'epochs' is not a declared parameter of entry point 'main'" in capfd.readouterr().err


def test_a_directory_without_mlproject_runs_a_script(client: CairnClient, tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(
        "import sys, cairn\n\ncairn.log_param('argv', ' '.join(sys.argv[1:]))\n"
    )
    run = _run(client, tmp_path, entry_point="job.py", parameters={"lr": 0.1})
    assert run.data.params == {"lr": "0.1", "argv": "--lr 0.1"}
    assert run.data.tags["mlflow.project.entryPoint"] == "job.py"
    assert run.data.tags["mlflow.project.env"] == "local"


def test_experiment_and_run_name(client: CairnClient, sample_project: Path) -> None:
    run = _run(
        client, sample_project, env_manager="local", experiment_name="proj", run_name="first"
    )
    experiment = client.get_experiment_by_name("proj")
    assert experiment is not None and run.info.experiment_id == experiment.experiment_id
    assert run.info.run_name == "first"
    again = _run(client, sample_project, env_manager="local", experiment_id=run.info.experiment_id)
    assert again.info.experiment_id == run.info.experiment_id


def test_path_parameters_may_be_run_artifacts(client: CairnClient, sample_project: Path) -> None:
    source = client.create_run("0")
    client.log_text(source.info.run_id, "rows: 42\n", "data/train.txt")
    uri = f"runs:/{source.info.run_id}/data/train.txt"

    run = _run(
        client,
        sample_project,
        entry_point="with_data",
        env_manager="local",
        parameters={"data": uri, "source": "s3://bucket/raw"},
    )
    assert run.data.tags["sample.data"] == "rows: 42"
    assert run.data.params["data"] == uri  # recorded as given, not the temporary copy
    assert run.data.tags["sample.source"] == "s3://bucket/raw"


def test_local_path_parameters_are_absolute(
    client: CairnClient, sample_project: Path, tmp_path: Path
) -> None:
    (tmp_path / "input.txt").write_text("local rows\n")
    run = _run(
        client,
        sample_project,
        entry_point="with_data",
        env_manager="local",
        parameters={"data": "input.txt", "source": "file:///x"},  # relative to the caller's cwd
    )
    assert run.data.params["data"] == str(tmp_path / "input.txt")
    assert run.data.tags["sample.data"] == "local rows"


# -- bad input is answered before anything runs --------------------------------------------


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"entry_point": "nope"}, "Unknown entry point 'nope'"),
        ({"entry_point": "with_data", "parameters": {"source": "s3://b"}}, "parameter.*data"),
        ({"parameters": {"alpha": "high"}}, "'high' is not a number"),
        ({"parameters": {"steps": "2.5"}}, "'2.5' is not a whole number"),
        (
            {"entry_point": "with_data", "parameters": {"data": ".", "source": "no-scheme"}},
            "has no scheme",
        ),
        (
            {"entry_point": "with_data", "parameters": {"data": "missing", "source": "s3://b"}},
            "does not exist",
        ),
        ({"env_manager": "pip"}, "Unknown env manager"),
        ({"version": "main"}, "needs a git repository"),
        ({"experiment_name": "a", "experiment_id": "0"}, "not both"),
        ({"backend": "kubernetes"}, "Backend 'kubernetes' is not supported"),
    ],
)
def test_bad_input_creates_no_run(
    client: CairnClient, sample_project: Path, kw: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidParameterValue, match=message):
        cairn.projects.run(str(sample_project), **{"env_manager": "local", **kw})
    assert _all_runs(client) == []


def test_a_missing_tool_creates_no_run(
    client: CairnClient, sample_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_UV_EXECUTABLE", "none")
    monkeypatch.setenv("PATH", "/nonexistent")
    for manager, message in (("uv", "needs uv"), ("conda", "no `conda` executable")):
        with pytest.raises(ExecutionException, match=message):
            cairn.projects.run(str(sample_project), env_manager=manager)
    assert _all_runs(client) == []


# -- cancelling ----------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_for_tag(client: CairnClient, run_id: str, key: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = client.get_run(run_id).data.tags.get(key)
        if value is not None:
            return value
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} never got tag {key}")


def test_cancel_ends_the_process_group_and_marks_the_run_killed(
    client: CairnClient, sample_project: Path
) -> None:
    submitted = cairn.projects.run(
        str(sample_project), "wait", env_manager="local", synchronous=False
    )
    assert submitted.get_status() == "RUNNING"
    grandchild = int(wait_for_tag(client, submitted.run_id, "sample.grandchild_pid"))
    assert _alive(grandchild)

    submitted.cancel()

    assert submitted.get_status() == "KILLED"
    assert client.get_run(submitted.run_id).info.status is RunStatus.KILLED
    deadline = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild), "the command's own child outlived the cancel"
    submitted.cancel()  # a second cancel is harmless
    assert submitted.wait() is False


# -- nesting -------------------------------------------------------------------------------


def test_runs_started_inside_a_run_are_nested_workflow_steps(
    client: CairnClient, sample_project: Path
) -> None:
    cairn.set_experiment("workflow")
    with cairn.start_run(run_name="pipeline") as parent:
        first = cairn.projects.run(str(sample_project), env_manager="local")
        second = cairn.projects.run(
            str(sample_project), env_manager="local", parameters={"alpha": 2}
        )
        assert cairn.active_run() is not None  # the caller's run is untouched
    for step in (first, second):
        run = client.get_run(step.run_id)
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.experiment_id == parent.info.experiment_id
    assert client.get_run(parent.info.run_id).info.status is RunStatus.FINISHED
    assert client.get_run(second.run_id).data.metrics["score"] == 6.0


# -- git -----------------------------------------------------------------------------------


def test_a_git_project_runs_at_the_given_commit(client: CairnClient, tmp_path: Path) -> None:
    repo, first, second = make_repo(tmp_path)

    old = _run(client, f"file://{repo}#sub", version=first)
    assert old.data.tags["step"] == "first"
    assert old.data.tags["mlflow.source.git.commit"] == first
    assert old.data.tags["mlflow.source.git.repoURL"] == str(repo)
    assert old.data.tags["mlflow.gitRepoURL"] == str(repo)
    assert old.data.tags["mlflow.source.name"] == f"{repo}#sub"

    current = _run(client, f"{repo}#sub")  # a local work tree runs in place
    assert current.data.tags["step"] == "second"
    assert current.data.tags["mlflow.source.git.commit"] == second
    assert current.data.tags["mlflow.source.git.branch"] == "main"


def test_the_clone_is_removed_when_the_run_ends(client: CairnClient, tmp_path: Path) -> None:
    repo, _, _ = make_repo(tmp_path)
    (repo / "sub" / "where.py").write_text("import os, cairn\ncairn.set_tag('cwd', os.getcwd())\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "where")
    run = _run(client, f"{repo}#sub", entry_point="where.py", version="main")
    assert not Path(run.data.tags["cwd"]).exists()


# -- the child's environment ---------------------------------------------------------------


def test_child_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_ARTIFACT_ROOT", "relative/artifacts")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://elsewhere")
    monkeypatch.setenv("CAIRN_EXPERIMENT_NAME", "other")
    db = CairnClient("sqlite:///relative.db")
    env = child_environment(db, "r1", "7", "main")
    assert env["CAIRN_TRACKING_URI"] == f"sqlite:///{tmp_path / 'relative.db'}"
    assert env["CAIRN_RUN_ID"] == env["MLFLOW_RUN_ID"] == "r1"
    assert env["CAIRN_EXPERIMENT_ID"] == env["MLFLOW_EXPERIMENT_ID"] == "7"
    assert env["CAIRN_PROJECT_ENTRY_POINT"] == "main"
    assert env["CAIRN_ARTIFACT_ROOT"] == str(tmp_path / "relative" / "artifacts")
    # MLflow's client cannot use a Cairn database: it must not be pointed at one.
    assert "MLFLOW_TRACKING_URI" not in env and "CAIRN_EXPERIMENT_NAME" not in env
    server = CairnClient("http://127.0.0.1:1")
    assert child_environment(server, "r1", "7", "main")["MLFLOW_TRACKING_URI"] == (
        "http://127.0.0.1:1"
    )


def test_logging_over_http_to_a_tracking_server(live_server: Any, tmp_path: Path) -> None:
    """Both Cairn and the real MLflow client in the script log into the run, over HTTP."""
    project = tmp_path / "remote"
    project.mkdir()
    (project / "with_cairn.py").write_text(
        "import cairn\n\nwith cairn.start_run():\n    cairn.log_metric('cairn_metric', 1.0)\n"
    )
    (project / "with_mlflow.py").write_text(
        "import mlflow\n\nwith mlflow.start_run():\n    mlflow.log_metric('mlflow_metric', 2.0)\n"
    )
    remote = CairnClient(live_server.url)
    experiment = f"remote-{os.getpid()}-{id(project)}"
    for script in ("with_cairn.py", "with_mlflow.py"):
        submitted = cairn.projects.run(
            str(project), script, experiment_name=experiment, tracking_uri=live_server.url
        )
        run = remote.get_run(submitted.run_id)
        assert run.info.status is RunStatus.FINISHED
        assert run.data.tags["mlflow.project.entryPoint"] == script
    runs = remote.search_runs([remote.get_experiment_by_name(experiment).experiment_id])
    metrics = {k for r in runs for k in r.data.metrics}
    assert metrics == {"cairn_metric", "mlflow_metric"}


# -- built environments (slow: they install a package from PyPI) ---------------------------


def _env_record(python_tag: str) -> dict[str, Any]:
    env_dir = Path(python_tag).parent.parent
    return json.loads((env_dir.parent / "cairn-env.json").read_text())


@pytest.mark.slow
def test_virtualenv_with_uv_is_built_once_and_reused(
    client: CairnClient, sample_project: Path, env_cache: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    first = _run(client, sample_project, parameters={"alpha": 1})
    second = _run(client, sample_project, parameters={"alpha": 2})

    for run in (first, second):
        assert run.data.params["six_version"] == "1.16.0"
        assert run.data.tags["mlflow.project.env"] == "virtualenv"
    python = first.data.tags["sample.python"]
    assert python == second.data.tags["sample.python"]
    assert Path(python).is_relative_to(env_cache)
    assert Path(first.data.tags["sample.six_file"]).is_relative_to(env_cache)
    spec = load_python_env(sample_project / "python_env.yaml")
    assert first.data.tags["cairn.project.envDigest"] == digest(spec.normalized("virtualenv"))
    record = _env_record(python)
    assert record["tool"] == "uv" and record["cairn_bridge"] is True
    assert "using cached environment" in capfd.readouterr().err
    builds = [
        p
        for p in env_cache.glob("*/cairn-env.json")
        if not p.parent.is_symlink() and record["digest"] in p.read_text()
    ]
    assert len(builds) == 1, "the environment was built more than once"


@pytest.mark.slow
def test_virtualenv_without_uv_uses_venv_and_pip(
    client: CairnClient,
    sample_project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CAIRN_UV_EXECUTABLE", "none")
    monkeypatch.setenv("CAIRN_ENV_CACHE_DIR", str(tmp_path / "pip-envs"))
    run = _run(client, sample_project)
    assert run.data.params["six_version"] == "1.16.0"
    assert _env_record(run.data.tags["sample.python"])["tool"] == "venv + pip"
    assert (Path(run.data.tags["sample.python"]).parent / "pip").exists()
    assert "virtualenv via venv + pip" in capfd.readouterr().err


@pytest.mark.slow
def test_uv_env_manager(client: CairnClient, sample_project: Path) -> None:
    run = _run(client, sample_project, env_manager="uv")
    assert run.data.params["six_version"] == "1.16.0"
    assert run.data.tags["mlflow.project.env"] == "uv"
    spec = load_python_env(sample_project / "python_env.yaml")
    assert run.data.tags["cairn.project.envDigest"] == digest(spec.normalized("uv"))


@pytest.mark.slow
def test_a_failed_build_marks_the_run_failed(client: CairnClient, tmp_path: Path) -> None:
    (tmp_path / "MLproject").write_text(
        "python_env: python_env.yaml\nentry_points:\n  main:\n    command: python -c pass\n"
    )
    (tmp_path / "python_env.yaml").write_text(
        'python: "{}.{}"\ndependencies: [cairn-no-such-package-xyz==0.0.1]\n'.format(
            *sys.version_info[:2]
        )
    )
    with pytest.raises(ExecutionException, match="Building the environment failed"):
        cairn.projects.run(str(tmp_path))
    [run] = _all_runs(client)
    assert run.info.status is RunStatus.FAILED
