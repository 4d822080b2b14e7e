"""What a project's environment is made of, read from its files, and the digest that names it.

`python_env.yaml` (MLflow's format):

    python: "3.11"            # X.Y or X.Y.Z
    build_dependencies: [pip] # installed first
    dependencies:             # pip requirement lines; `-r file` / `-c file` are relative to
      - six==1.16.0           # this file, and their contents are part of the digest

A `conda.yaml` becomes a `PythonEnvSpec` when built with virtualenv or uv (its python version
and pip section; other conda packages cannot be installed by pip and are refused). The digest
is the SHA-256 of the spec in a canonical JSON form, so the same specification always names
the same environment, whichever file it came from.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.exceptions import InvalidParameterValue

_VERSION = re.compile(r"^\d+(\.\d+){1,2}$")
_REQUIREMENT_FILE = re.compile(r"^\s*(-r|--requirement|-c|--constraint)(\s+|=)(\S+)\s*$")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True, slots=True)
class PythonEnvSpec:
    python: str
    build_dependencies: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    base_dir: Path = field(default_factory=Path.cwd)
    """Where relative `-r`/`-c` files (and local paths) in the requirements are found."""
    files: tuple[tuple[str, str], ...] = ()
    """(requirement file as written, SHA-256 of its contents)."""

    def normalized(self, manager: str) -> dict[str, Any]:
        return {
            "manager": manager,
            "python": self.python,
            "build_dependencies": list(self.build_dependencies),
            "dependencies": list(self.dependencies),
            "files": dict(self.files),
        }

    def names_package(self, *names: str) -> bool:
        """Whether a requirement names one of `names` (compared as PyPI normalises them)."""
        wanted = {_canonical(n) for n in names}
        for line in (*self.build_dependencies, *self.dependencies):
            match = _NAME.match(line)
            if match and _canonical(match.group(1)) in wanted:
                return True
        return False


@dataclass(frozen=True, slots=True)
class CondaEnvSpec:
    path: Path
    content: dict[str, Any]

    def normalized(self, manager: str) -> dict[str, Any]:
        return {"manager": manager, "conda": self.content}


def digest(normalized: dict[str, Any]) -> str:
    """SHA-256 (hex) of a normalized spec in canonical JSON."""
    text = json.dumps(normalized, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_python_env(path: Path) -> PythonEnvSpec:
    raw = _yaml_mapping(path)
    unknown = sorted(set(map(str, raw)) - {"python", "build_dependencies", "dependencies"})
    if unknown:
        raise InvalidParameterValue(
            f"{path}: unknown key(s) {', '.join(unknown)}; a python_env file has python, "
            "build_dependencies and dependencies."
        )
    if raw.get("python") is None:
        raise InvalidParameterValue(f'{path} must give the Python version, e.g. python: "3.11".')
    python = _python_version(path, raw["python"])
    build = _requirements(path, raw.get("build_dependencies"), "build_dependencies")
    deps = _requirements(path, raw.get("dependencies"), "dependencies")
    return PythonEnvSpec(python, build, deps, path.parent, _referenced_files(path, build + deps))


def load_conda_env(path: Path) -> CondaEnvSpec:
    return CondaEnvSpec(path, _yaml_mapping(path))


def python_env_from_conda(spec: CondaEnvSpec) -> PythonEnvSpec:
    """The pip-installable part of a conda.yaml: its python version and pip section."""
    python = None
    pip_deps: list[str] = []
    conda_only: list[str] = []
    for item in spec.content.get("dependencies") or []:
        if isinstance(item, dict) and "pip" in item:
            pip_deps += [str(d) for d in item["pip"] or []]
            continue
        text = str(item).strip()
        name = re.split(r"[\s=<>!~]", text, maxsplit=1)[0].lower()
        if name == "python":
            version = text[len("python") :].strip().lstrip("=").strip().removesuffix(".*")
            python = version or None
        elif name not in ("pip", "setuptools", "wheel"):
            conda_only.append(text)
    if conda_only:
        raise InvalidParameterValue(
            f"{spec.path} lists conda packages that pip cannot install ({', '.join(conda_only)}); "
            "run the project with --env-manager conda, or move them to its pip section."
        )
    version = _python_version(spec.path, python) if python else current_python()
    deps = tuple(pip_deps)
    return PythonEnvSpec(version, (), deps, spec.path.parent, _referenced_files(spec.path, deps))


def current_python() -> str:
    return "{}.{}".format(*sys.version_info[:2])


def default_python_env() -> PythonEnvSpec:
    """The environment of a project that declares none, when a virtualenv is asked for:
    the running Python's major.minor and no packages."""
    return PythonEnvSpec(current_python())


def _yaml_mapping(path: Path) -> dict[str, Any]:
    import yaml  # deferred: only projects need it

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidParameterValue(f"Cannot read {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidParameterValue(f"{path} must be a YAML mapping.")
    return raw


def _python_version(path: Path, value: Any) -> str:
    text = str(value).strip()
    if not _VERSION.match(text):
        raise InvalidParameterValue(
            f'{path}: python version {value!r} is not X.Y or X.Y.Z (quote it: python: "3.10").'
        )
    return text


def _requirements(path: Path, value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise InvalidParameterValue(f"{path}: {key} must be a list of requirement strings.")
    return tuple(str(v).strip() for v in value)


def _referenced_files(path: Path, requirements: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    found = []
    for line in requirements:
        match = _REQUIREMENT_FILE.match(line)
        if match:
            file = path.parent / match.group(3)
            try:
                content = file.read_bytes()
            except OSError:
                raise InvalidParameterValue(
                    f"{path}: requirement file {match.group(3)!r} does not exist."
                ) from None
            found.append((match.group(3), hashlib.sha256(content).hexdigest()))
    return tuple(found)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
