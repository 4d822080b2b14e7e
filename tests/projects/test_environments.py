"""Choosing the environment: defaults per declaration, and clear errors when a tool is missing.

conda is not installed here, so a stand-in `conda` (a script that records its arguments and
makes a plain venv) checks the commands Cairn gives it; docker's daemon is checked with a
stand-in `docker` whose `info` fails, as it does on a machine where the daemon is down.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

import cairn
from cairn.exceptions import ExecutionException, InvalidParameterValue
from cairn.projects.docker import CONTAINER_PROJECT_DIR, check_docker, docker_command
from cairn.projects.environments import plan_environment
from cairn.projects.spec import DockerEnv, load_project
from cairn.tracking.client import CairnClient


def _project(root: Path, env_lines: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "MLproject").write_text(
        f"name: p\n{env_lines}entry_points:\n  main:\n    command: python step.py\n"
    )
    (root / "step.py").write_text(
        "import os, sys, cairn\n\nwith cairn.start_run():\n"
        "    cairn.set_tag('python', sys.executable)\n"
        "    cairn.set_tag('conda_prefix', os.environ.get('CONDA_PREFIX', ''))\n"
    )
    (root / "python_env.yaml").write_text('python: "{}.{}"\n'.format(*sys.version_info[:2]))
    (root / "conda.yaml").write_text("name: p\ndependencies:\n  - pip\n")
    return root


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.parametrize(
    "env_lines, manager",
    [
        ("", "local"),
        ("python_env: python_env.yaml\n", "virtualenv"),
        ("conda_env: conda.yaml\n", "conda"),
    ],
)
def test_default_manager_follows_the_declaration(
    tmp_path: Path, env_lines: str, manager: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _executable(tmp_path / "conda-home" / "bin" / "conda", "#!/bin/sh\nexit 1\n")
    monkeypatch.setenv("CAIRN_CONDA_HOME", str(tmp_path / "conda-home"))
    plan = plan_environment(load_project(_project(tmp_path / "p", env_lines)), None)
    assert plan.manager == manager
    assert (plan.digest is None) == (manager == "local")


def test_unknown_env_manager(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValue, match="Unknown env manager 'pip'"):
        plan_environment(load_project(_project(tmp_path, "")), "pip")


def test_conda_missing_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    project = load_project(_project(tmp_path, "conda_env: conda.yaml\n"))
    with pytest.raises(ExecutionException, match="no `conda` executable was found"):
        plan_environment(project, None)
    with pytest.raises(ExecutionException, match="no `conda` executable was found"):
        plan_environment(load_project(_project(tmp_path / "q", "")), "conda")


def test_uv_manager_needs_uv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_UV_EXECUTABLE", "none")
    project = load_project(_project(tmp_path, "python_env: python_env.yaml\n"))
    with pytest.raises(ExecutionException, match="--env-manager uv needs uv"):
        plan_environment(project, "uv")


def test_docker_env_cannot_be_built_as_a_virtualenv(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path, "docker_env: {image: 'python:3.11'}\n"))
    with pytest.raises(InvalidParameterValue, match="docker_env, which --env-manager virtualenv"):
        plan_environment(project, "virtualenv")
    assert plan_environment(project, "local").manager == "local"


def test_docker_without_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ExecutionException, match="no `docker` executable was found"):
        check_docker()


def test_docker_whose_daemon_is_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _executable(
        tmp_path / "bin" / "docker",
        "#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
        "Is the docker daemon running?' >&2\nexit 1\n",
    )
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    project = load_project(_project(tmp_path / "p", "docker_env: {image: 'python:3.11'}\n"))
    with pytest.raises(ExecutionException, match=r"Docker is not usable here.*Cannot connect"):
        plan_environment(project, None)


def test_the_docker_command(tmp_path: Path) -> None:
    env = DockerEnv("python:3.11", ("/data:/data",), (("HOME", None), ("MODE", "fast")))
    child_env = {"CAIRN_TRACKING_URI": f"sqlite:///{tmp_path}/db/cairn.db", "CAIRN_RUN_ID": "r"}
    argv = docker_command(
        "docker", env, tmp_path, "python x.py", child_env, ["CAIRN_RUN_ID"], {"gpus": "all"}
    )
    assert argv[:2] == ["docker", "run"]
    assert f"{tmp_path}:{CONTAINER_PROJECT_DIR}" in argv
    assert f"{tmp_path / 'db'}:{tmp_path / 'db'}" in argv  # the SQLite database is reachable
    assert argv[argv.index("--gpus") + 1] == "all"
    for pair in (
        ["-e", "CAIRN_RUN_ID"],
        ["-e", "HOME"],
        ["-e", "MODE=fast"],
        ["-v", "/data:/data"],
    ):
        assert any(argv[i : i + 2] == pair for i in range(len(argv)))
    assert argv[-4:] == ["python:3.11", "sh", "-c", "python x.py"]


FAKE_CONDA = """#!{python}
import json, os, subprocess, sys

home = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(home, "calls.jsonl"), "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
prefix = sys.argv[sys.argv.index("--prefix") + 1]
subprocess.run([sys.executable, "-m", "venv", "--without-pip", prefix], check=True)
"""


def test_a_conda_env_project_is_built_with_conda(
    tmp_path: Path, tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "conda-home"
    _executable(home / "bin" / "conda", FAKE_CONDA.format(python=sys.executable))
    monkeypatch.setenv("CAIRN_CONDA_HOME", str(home))
    monkeypatch.setenv("CAIRN_ENV_CACHE_DIR", str(tmp_path / "envs"))
    project = _project(tmp_path / "p", "conda_env: conda.yaml\n")

    submitted = cairn.projects.run(str(project))

    [call] = [json.loads(line) for line in (home / "calls.jsonl").read_text().splitlines()]
    assert call[:2] == ["env", "create"]
    assert call[call.index("--file") + 1] == str(project / "conda.yaml")
    run = CairnClient(tracking_uri).get_run(submitted.run_id)
    assert run.data.tags["mlflow.project.env"] == "conda"
    assert len(run.data.tags["cairn.project.envDigest"]) == 64
    env_prefix = Path(call[call.index("--prefix") + 1])
    # The script ran with the environment's python, and could import cairn (the bridge).
    assert Path(run.data.tags["python"]).parent == env_prefix / "bin"
    assert run.data.tags["conda_prefix"] == str(env_prefix)
