"""Building an environment into a directory: virtualenv (uv, or venv + pip) and conda.

Each builder runs its tools with their output captured; when a step fails the error carries
the command and the end of its output, so a bad requirement reads as pip's own complaint.
After the packages, `bridge.install` may make the running Cairn importable (see there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from cairn import settings
from cairn.exceptions import ExecutionException
from cairn.projects.env_spec import CondaEnvSpec, PythonEnvSpec
from cairn.projects.interpreters import Interpreter

_TAIL_LINES = 40


def find_uv() -> str | None:
    """uv per CAIRN_UV_EXECUTABLE ("none" hides it), else on PATH, else beside this Python."""
    configured = settings.UV_EXECUTABLE.get()
    if configured:
        if configured.strip().lower() == "none":
            return None
        return shutil.which(configured) or (configured if os.path.isfile(configured) else None)
    found = shutil.which("uv")
    if found:
        return found
    import sysconfig

    # `pip install uv` into the environment running Cairn, which need not be on PATH.
    for directory in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        candidate = directory / ("uv.exe" if os.name == "nt" else "uv")
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def find_conda() -> str | None:
    """conda per CAIRN_CONDA_HOME / MLFLOW_CONDA_HOME, else $CONDA_EXE, else on PATH."""
    home = settings.CONDA_HOME.get()
    if home:
        candidate = Path(home) / "bin" / "conda"
        return str(candidate) if candidate.is_file() else None
    exe = os.environ.get("CONDA_EXE")
    if exe and os.path.isfile(exe):
        return exe
    return shutil.which("conda")


def env_python(env_dir: Path) -> Path:
    if os.name == "nt":
        return env_dir / "Scripts" / "python.exe"
    return env_dir / "bin" / "python"


def env_bin(env_dir: Path) -> Path:
    return env_python(env_dir).parent


def build_with_uv(env_dir: Path, spec: PythonEnvSpec, interpreter: Interpreter, uv: str) -> None:
    run_step(
        [
            uv,
            "venv",
            "--no-config",
            "--no-python-downloads",
            "--quiet",
            "--python",
            interpreter.path,
            str(env_dir),
        ],
        "uv venv",
    )
    python = str(env_python(env_dir))
    for group in (spec.build_dependencies, spec.dependencies):
        if group:
            run_step(
                [uv, "pip", "install", "--no-config", "--python", python, *group],
                "uv pip install",
                cwd=spec.base_dir,
            )


def build_with_pip(env_dir: Path, spec: PythonEnvSpec, interpreter: Interpreter) -> None:
    run_step([interpreter.path, "-m", "venv", str(env_dir)], "python -m venv")
    pip_install(env_dir, spec)


def pip_install(env_dir: Path, spec: PythonEnvSpec) -> None:
    python = str(env_python(env_dir))
    for group in (spec.build_dependencies, spec.dependencies):
        if group:
            run_step(
                [
                    python,
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    *group,
                ],
                "pip install",
                cwd=spec.base_dir,
            )


def build_conda_from_python_env(env_dir: Path, spec: PythonEnvSpec, conda: str) -> None:
    run_step(
        [
            conda,
            "create",
            "--yes",
            "--quiet",
            "--prefix",
            str(env_dir),
            f"python={spec.python}",
            "pip",
        ],
        "conda create",
    )
    pip_install(env_dir, spec)


def build_conda_from_file(env_dir: Path, spec: CondaEnvSpec, conda: str) -> None:
    run_step(
        [conda, "env", "create", "--quiet", "--prefix", str(env_dir), "--file", str(spec.path)],
        "conda env create",
        cwd=spec.path.parent,
    )


def run_step(command: Sequence[str], what: str, cwd: Path | None = None) -> str:
    """Run one build step; its output, or `ExecutionException` with the end of it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "VIRTUAL_ENV")}
    try:
        done = subprocess.run(
            list(command),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise ExecutionException(
            f"Building the environment: {what} could not start: {exc}"
        ) from None
    if done.returncode != 0:
        tail = "\n".join(done.stdout.strip().splitlines()[-_TAIL_LINES:])
        raise ExecutionException(
            f"Building the environment failed: {what} exited with status {done.returncode}.\n"
            f"$ {' '.join(command)}\n{tail}"
        )
    return done.stdout
