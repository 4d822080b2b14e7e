"""The MLproject file: a project's name, entry points with typed parameters, and environment.

The format is MLflow's:

    name: tutorial
    python_env: python_env.yaml        # or conda_env: conda.yaml, or docker_env: {image: ...}
    entry_points:
      main:
        parameters:
          alpha: {type: float, default: 0.5}
          data: path                   # a bare type: required
        command: "python train.py --alpha {alpha} --data {data}"

A directory without an MLproject file is a project too: it has no environment, and its entry
points are its `.py` and `.sh` files. Everything wrong with the file is reported when it is
loaded (an `InvalidParameterValue` naming the file), before anything runs.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass, field
from pathlib import Path
from shlex import quote
from typing import Any

from cairn.exceptions import InvalidParameterValue

MLPROJECT_FILE = "MLproject"
PARAMETER_TYPES = ("string", "float", "int", "path", "uri")
ENV_KEYS = ("python_env", "conda_env", "docker_env")
_KNOWN_KEYS = {"name", "entry_points", *ENV_KEYS}


@dataclass(frozen=True, slots=True)
class Parameter:
    """A declared parameter: its type, and its default (None when the value is required)."""

    name: str
    type: str = "string"
    default: str | None = None

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """A command template whose `{name}` placeholders are filled with parameter values."""

    name: str
    command: str
    parameters: dict[str, Parameter] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DockerEnv:
    """`docker_env`: the image, extra `host:container` volumes, and variables to pass in
    (a bare name copies the caller's value; `[NAME, value]` sets one)."""

    image: str
    volumes: tuple[str, ...] = ()
    environment: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class EnvDeclaration:
    """Which environment the MLproject declares: `kind` is one of ENV_KEYS."""

    kind: str
    path: Path | None = None  # the python_env / conda_env file
    docker: DockerEnv | None = None


@dataclass(frozen=True, slots=True)
class Project:
    directory: Path
    name: str | None = None
    entry_points: dict[str, EntryPoint] = field(default_factory=dict)
    env: EnvDeclaration | None = None
    has_mlproject: bool = False

    def entry_point(self, name: str) -> EntryPoint:
        """The declared entry point `name`, else the script file `name` (.py or .sh)."""
        found = self.entry_points.get(name)
        if found is not None:
            return found
        suffix = os.path.splitext(name)[1]
        if suffix in (".py", ".sh"):
            script = (self.directory / name).resolve()
            if not script.is_relative_to(self.directory) or not script.is_file():
                raise InvalidParameterValue(
                    f"Entry point {name!r}: no such script in the project ({self.directory})."
                )
            runner = "python" if suffix == ".py" else os.environ.get("SHELL") or "bash"
            return EntryPoint(name, f"{runner} {quote(name)}")
        declared = ", ".join(sorted(self.entry_points)) or "none"
        where = "its MLproject declares" if self.has_mlproject else "it has no MLproject file:"
        raise InvalidParameterValue(
            f"Unknown entry point {name!r} for the project in {self.directory}: {where} "
            f"{declared}. Give a declared entry point, or a .py or .sh file in the project."
        )


def find_mlproject(directory: Path) -> Path | None:
    """The MLproject file of `directory` (the name is matched case-insensitively, as MLflow
    does), or None."""
    exact = directory / MLPROJECT_FILE
    if exact.is_file():
        return exact
    for child in directory.iterdir():
        if child.name.lower() == MLPROJECT_FILE.lower() and child.is_file():
            return child
    return None


def load_project(directory: str | os.PathLike[str]) -> Project:
    """Read the project in `directory`; a directory without an MLproject file is a project
    with no environment whose entry points are its scripts."""
    root = Path(directory).resolve()
    if not root.is_dir():
        raise InvalidParameterValue(f"Project directory {root} does not exist.")
    path = find_mlproject(root)
    if path is None:
        return Project(root)
    import yaml  # deferred: only projects need it

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidParameterValue(f"{path} is not valid YAML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidParameterValue(f"{path} must be a YAML mapping (name, entry_points, …).")
    unknown = sorted(set(map(str, raw)) - _KNOWN_KEYS)
    if unknown:
        raise InvalidParameterValue(
            f"{path}: unknown key(s) {', '.join(unknown)}; an MLproject has "
            f"{', '.join(sorted(_KNOWN_KEYS))}."
        )
    name = raw.get("name")
    entry_points = _entry_points(path, raw.get("entry_points") or {})
    return Project(
        root,
        None if name is None else str(name),
        entry_points,
        _env_declaration(path, root, raw),
        has_mlproject=True,
    )


def _entry_points(path: Path, raw: Any) -> dict[str, EntryPoint]:
    if not isinstance(raw, dict):
        raise InvalidParameterValue(f"{path}: entry_points must be a mapping of name to entry.")
    found = {}
    for key, body in raw.items():
        name = str(key)
        if not isinstance(body, dict) or not isinstance(body.get("command"), str):
            raise InvalidParameterValue(
                f"{path}: entry point {name!r} must be a mapping with a `command` string."
            )
        params = body.get("parameters") or {}
        if not isinstance(params, dict):
            raise InvalidParameterValue(
                f"{path}: parameters of entry point {name!r} must be a mapping."
            )
        parameters = {str(k): _parameter(path, name, str(k), v) for k, v in params.items()}
        _check_placeholders(path, name, body["command"], parameters)
        found[name] = EntryPoint(name, body["command"], parameters)
    return found


def _parameter(path: Path, entry: str, name: str, raw: Any) -> Parameter:
    """`alpha: float`, or `alpha: {type: float, default: 0.5}` (type defaults to string)."""
    if isinstance(raw, str):
        kind, default = raw, None
    elif isinstance(raw, dict):
        kind = str(raw.get("type", "string"))
        value = raw.get("default")
        default = None if value is None else _scalar(value)
    elif raw is None:
        kind, default = "string", None
    else:
        raise InvalidParameterValue(
            f"{path}: parameter {name!r} of entry point {entry!r} must be a type name or a "
            "mapping with `type` and `default`."
        )
    if kind not in PARAMETER_TYPES:
        raise InvalidParameterValue(
            f"{path}: parameter {name!r} of entry point {entry!r} has unknown type {kind!r}; "
            f"types are {', '.join(PARAMETER_TYPES)}."
        )
    return Parameter(name, kind, default)


def _scalar(value: Any) -> str:
    # YAML gives bools and numbers; the command sees str() of them, as with MLflow.
    return str(value)


def _check_placeholders(path: Path, entry: str, command: str, params: dict[str, Any]) -> None:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(command) if f is not None]
    except ValueError as exc:
        raise InvalidParameterValue(
            f"{path}: the command of entry point {entry!r} is not a valid template ({exc}); "
            "write literal braces as {{ and }}."
        ) from None
    for name in fields:
        if name not in params:
            raise InvalidParameterValue(
                f"{path}: the command of entry point {entry!r} uses {{{name}}} but declares "
                f"no parameter {name!r}."
            )


def _env_declaration(path: Path, root: Path, raw: dict[str, Any]) -> EnvDeclaration | None:
    declared = [key for key in ENV_KEYS if raw.get(key) is not None]
    if len(declared) > 1:
        raise InvalidParameterValue(
            f"{path} declares {' and '.join(declared)}; a project has at most one environment."
        )
    if not declared:
        return None
    kind = declared[0]
    value = raw[kind]
    if kind == "docker_env":
        return EnvDeclaration(kind, docker=_docker_env(path, value))
    if not isinstance(value, str):
        raise InvalidParameterValue(f"{path}: {kind} must be the path of a YAML file.")
    env_file = (root / value).resolve()
    if not env_file.is_file():
        raise InvalidParameterValue(f"{path}: its {kind} file {value!r} does not exist.")
    return EnvDeclaration(kind, path=env_file)


def _docker_env(path: Path, raw: Any) -> DockerEnv:
    if not isinstance(raw, dict) or not isinstance(raw.get("image"), str):
        raise InvalidParameterValue(f"{path}: docker_env must be a mapping with an `image`.")
    volumes = raw.get("volumes") or []
    environment: list[tuple[str, str | None]] = []
    for item in raw.get("environment") or []:
        if isinstance(item, str):
            environment.append((item, None))
        elif isinstance(item, list) and len(item) == 2:
            environment.append((str(item[0]), str(item[1])))
        else:
            raise InvalidParameterValue(
                f"{path}: docker_env environment entries are NAME or [NAME, value]; got {item!r}."
            )
    return DockerEnv(raw["image"], tuple(str(v) for v in volumes), tuple(environment))
