"""Choosing, checking and preparing the environment a project's command runs in.

`plan_environment` decides everything that can fail cheaply — which manager, whether its
tool exists, which interpreter, the spec's digest — before a run is created; `EnvPlan.prepare`
then builds the environment (or finds it in the cache) and says how to run inside it.

| the project declares | default manager | also accepted |
|---|---|---|
| python_env | virtualenv | uv, conda, local |
| conda_env | conda | virtualenv and uv (from its python and pip parts), local |
| docker_env | docker | local |
| nothing | local | virtualenv, uv (the running Python's version, no packages), conda |

`local` runs in the interpreter that runs Cairn: its directory comes first on PATH, so
`python` in a command is that interpreter. `virtualenv` uses uv when it is found, else the
standard `venv` and pip.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.exceptions import ExecutionException, InvalidParameterValue
from cairn.projects import bridge, builders, env_cache
from cairn.projects.env_spec import (
    CondaEnvSpec,
    PythonEnvSpec,
    default_python_env,
    digest,
    load_conda_env,
    load_python_env,
    python_env_from_conda,
)
from cairn.projects.interpreters import find_interpreter
from cairn.projects.spec import DockerEnv, Project

ENV_MANAGERS = ("local", "virtualenv", "uv", "conda")
_DEFAULT_MANAGER = {"python_env": "virtualenv", "conda_env": "conda", "docker_env": "docker"}


@dataclass(frozen=True)
class PreparedEnv:
    """How to run a command in a ready environment."""

    manager: str
    env_dir: Path | None = None
    path_prefix: tuple[str, ...] = ()
    variables: dict[str, str] = field(default_factory=dict)
    built: bool = False
    docker: tuple[str, DockerEnv] | None = None

    def apply(self, env: Mapping[str, str]) -> dict[str, str]:
        """`env` with this environment's PATH entries and variables."""
        out = {k: v for k, v in env.items() if k != "PYTHONHOME"}
        if self.path_prefix:
            out["PATH"] = os.pathsep.join([*self.path_prefix, env.get("PATH", os.defpath)])
        out.update(self.variables)
        return out


@dataclass(frozen=True)
class EnvPlan:
    manager: str
    """What mlflow.project.env records: local, virtualenv, uv, conda or docker."""
    digest: str | None
    """SHA-256 of the environment's normalized specification; None for local."""
    description: str
    _prepare: Callable[[], PreparedEnv]

    def prepare(self) -> PreparedEnv:
        return self._prepare()


def plan_environment(project: Project, env_manager: str | None) -> EnvPlan:
    """Check that `project` can run with `env_manager` (None: the project's default)."""
    if env_manager is not None and env_manager not in ENV_MANAGERS:
        raise InvalidParameterValue(
            f"Unknown env manager {env_manager!r}; choose one of {', '.join(ENV_MANAGERS)}."
        )
    kind = project.env.kind if project.env else None
    manager = env_manager or (_DEFAULT_MANAGER[kind] if kind else "local")
    if manager == "local":
        return _local_plan()
    if kind == "docker_env":
        if manager != "docker":
            raise InvalidParameterValue(
                f"The project declares a docker_env, which --env-manager {manager} cannot "
                "build; run it in its image (the default) or with --env-manager local."
            )
        assert project.env is not None and project.env.docker is not None
        return _docker_plan(project.env.docker)
    env_file = project.env.path if project.env else None
    if manager == "conda":
        if kind == "conda_env":
            assert env_file is not None
            return _conda_plan(load_conda_env(env_file))
        return _conda_plan(load_python_env(env_file) if env_file else default_python_env())
    if kind == "conda_env":
        assert env_file is not None
        spec = python_env_from_conda(load_conda_env(env_file))
    else:
        spec = load_python_env(env_file) if env_file else default_python_env()
    return _virtualenv_plan(spec, manager)


def _local_plan() -> EnvPlan:
    scripts = str(Path(sys.executable).parent)
    return EnvPlan(
        "local", None, "the running Python", lambda: PreparedEnv("local", path_prefix=(scripts,))
    )


def _virtualenv_plan(spec: PythonEnvSpec, manager: str) -> EnvPlan:
    uv = builders.find_uv()
    if manager == "uv" and uv is None:
        raise ExecutionException(
            "--env-manager uv needs uv, and no `uv` executable was found (on PATH, beside "
            "the running Python, or in CAIRN_UV_EXECUTABLE). Install it (pip install uv), "
            "or use --env-manager virtualenv."
        )
    interpreter = find_interpreter(spec.python, uv)
    paths = bridge.bridge_paths(spec, interpreter.version)
    if not paths and not spec.names_package(*bridge.CAIRN_DISTRIBUTIONS):
        print(bridge.notice(interpreter.version_text), file=sys.stderr)
    spec_digest = digest(spec.normalized(manager))
    key = _cache_key(spec_digest, interpreter.path, interpreter.version_text, *paths)
    tool = "uv" if uv else "venv + pip"
    description = f"{spec_digest[:12]} ({manager} via {tool}, Python {interpreter.version_text})"

    def build(env_dir: Path) -> dict[str, Any]:
        if uv:
            builders.build_with_uv(env_dir, spec, interpreter, uv)
        else:
            builders.build_with_pip(env_dir, spec, interpreter)
        bridged = bridge.install(env_dir, paths)
        return _facts(spec.normalized(manager), spec_digest, tool, interpreter.path, bridged)

    def prepare() -> PreparedEnv:
        env_dir, built = env_cache.get_or_build(key, build, description)
        return PreparedEnv(
            manager,
            env_dir,
            (str(builders.env_bin(env_dir)),),
            {"VIRTUAL_ENV": str(env_dir)},
            built,
        )

    return EnvPlan(manager, spec_digest, description, prepare)


def _conda_plan(spec: PythonEnvSpec | CondaEnvSpec) -> EnvPlan:
    conda = builders.find_conda()
    if conda is None:
        raise ExecutionException(
            "This project needs conda (a conda_env, or --env-manager conda), and no `conda` "
            "executable was found (CAIRN_CONDA_HOME / MLFLOW_CONDA_HOME, $CONDA_EXE, PATH). "
            "Install Miniforge or Miniconda, or run the project with --env-manager virtualenv "
            "or local."
        )
    python = None
    if isinstance(spec, PythonEnvSpec):
        python = tuple(int(p) for p in spec.python.split("."))
    paths = bridge.bridge_paths(spec if isinstance(spec, PythonEnvSpec) else None, python)
    spec_digest = digest(spec.normalized("conda"))
    key = _cache_key(spec_digest, conda, *paths)
    description = f"{spec_digest[:12]} (conda)"

    def build(env_dir: Path) -> dict[str, Any]:
        if isinstance(spec, PythonEnvSpec):
            builders.build_conda_from_python_env(env_dir, spec, conda)
        else:
            builders.build_conda_from_file(env_dir, spec, conda)
        bridged = bridge.install(env_dir, paths)
        return _facts(spec.normalized("conda"), spec_digest, "conda", conda, bridged)

    def prepare() -> PreparedEnv:
        env_dir, built = env_cache.get_or_build(key, build, description)
        return PreparedEnv(
            "conda",
            env_dir,
            (str(builders.env_bin(env_dir)),),
            {"CONDA_PREFIX": str(env_dir), "CONDA_DEFAULT_ENV": str(env_dir)},
            built,
        )

    return EnvPlan("conda", spec_digest, description, prepare)


def _docker_plan(env: DockerEnv) -> EnvPlan:
    from cairn.projects.docker import check_docker

    docker = check_docker()
    normalized = {
        "manager": "docker",
        "image": env.image,
        "volumes": list(env.volumes),
        "environment": [list(e) for e in env.environment],
    }
    spec_digest = digest(normalized)
    return EnvPlan(
        "docker",
        spec_digest,
        f"image {env.image}",
        lambda: PreparedEnv("docker", docker=(docker, env)),
    )


def _cache_key(spec_digest: str, *context: str) -> str:
    """The spec digest (so the cache directory matches the run's tag) plus a short hash of
    what else shapes the built environment: the interpreter and the Cairn bridge."""
    extra = hashlib.sha256("\0".join(context).encode("utf-8")).hexdigest()
    return f"{spec_digest[:16]}-{extra[:8]}"


def _facts(
    normalized: dict[str, Any], spec_digest: str, tool: str, built_with: str, bridged: bool
) -> dict[str, Any]:
    return {
        "spec": normalized,
        "digest": spec_digest,
        "tool": tool,
        "built_with": built_with,
        "cairn_bridge": bridged,
    }
