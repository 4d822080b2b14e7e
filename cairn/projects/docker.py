"""Running a `docker_env` project: its command inside the declared image, the project mounted.

The project directory is mounted at /mlflow/projects/code (MLflow's path, which scripts may
rely on) and is the working directory. The container joins the host network, so a tracking
server on localhost is reachable; a SQLite tracking database and a local artifact root are
mounted at their own paths, so the same URIs work inside. The image must provide Python and
Cairn (or MLflow, against a tracking server) for the script's own logging.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from cairn.exceptions import ExecutionException
from cairn.projects.spec import DockerEnv
from cairn.tracking.tracking_uri import sqlite_file

CONTAINER_PROJECT_DIR = "/mlflow/projects/code"
_INFO_TIMEOUT_S = 30


def check_docker() -> str:
    """The docker executable, after checking its daemon answers; else a clear error."""
    docker = shutil.which("docker")
    if docker is None:
        raise ExecutionException(
            "This project declares a docker_env, and no `docker` executable was found on "
            "PATH. Install Docker, or run it with --env-manager local."
        )
    try:
        done = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=_INFO_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExecutionException(
            f"This project declares a docker_env; `docker info` failed: {exc}"
        ) from None
    if done.returncode != 0 or not done.stdout.strip():
        reason = (done.stderr.strip() or done.stdout.strip()).splitlines()
        said = reason[-1] if reason else f"exit status {done.returncode}"
        raise ExecutionException(
            "This project declares a docker_env, but Docker is not usable here (`docker info`: "
            f"{said}). Start the Docker daemon, or run it with --env-manager local."
        )
    return docker


def docker_command(
    docker: str,
    env: DockerEnv,
    project_dir: Path,
    command: str,
    child_env: Mapping[str, str],
    passed: list[str],
    docker_args: Mapping[str, str | bool] | None,
) -> list[str]:
    """`docker run …` for `command`; `passed` are the variables copied in from `child_env`."""
    argv = [docker, "run", "--rm", "--network", "host", "--init"]
    argv += ["-v", f"{project_dir}:{CONTAINER_PROJECT_DIR}", "-w", CONTAINER_PROJECT_DIR]
    for mount in _tracking_mounts(child_env):
        argv += ["-v", f"{mount}:{mount}"]
    for volume in env.volumes:
        argv += ["-v", volume]
    for name in passed:
        argv += ["-e", name]  # the value comes from docker's own environment (child_env)
    for name, value in env.environment:
        argv += ["-e", name if value is None else f"{name}={value}"]
    for flag, arg in (docker_args or {}).items():
        option = f"-{flag}" if len(flag) == 1 else f"--{flag}"
        argv += [option] if arg is True else [option, str(arg)]
    return [*argv, env.image, "sh", "-c", command]


def _tracking_mounts(child_env: Mapping[str, str]) -> list[str]:
    mounts = []
    db_file = sqlite_file(child_env.get("CAIRN_TRACKING_URI", ""))
    if db_file is not None:
        mounts.append(str(db_file.resolve().parent))
    root = child_env.get("CAIRN_ARTIFACT_ROOT", "")
    if root and Path(root).is_absolute():
        mounts.append(root)
    return sorted(set(mounts))
