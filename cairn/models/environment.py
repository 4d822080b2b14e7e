"""A model's environment files: what to install to load it again elsewhere.

Three files sit beside the MLmodel file, the same three MLflow writes:

    requirements.txt    one pip requirement a line, e.g. cairn-ml==0.1.0
    python_env.yaml     python: 3.11.7
                        build_dependencies: [pip==24.0, setuptools==69.0.3, wheel==0.42.0]
                        dependencies: [-r requirements.txt]
    conda.yaml          name: cairn-env
                        channels: [conda-forge]
                        dependencies: [python=3.11.7, pip<=24.0, {pip: [<requirements>]}]

The requirements are listed once, in requirements.txt; python_env.yaml points at it and
conda.yaml repeats them because conda cannot follow `-r`.
"""

from __future__ import annotations

import importlib.metadata as metadata
import platform
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.version import __version__

REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_ENV_FILE = "conda.yaml"
CAIRN_DISTRIBUTION = "cairn-ml"
CONDA_ENV_NAME = "cairn-env"

_BUILD_TOOLS = ("pip", "setuptools", "wheel")


def _canonical(name: str) -> str:
    # PEP 503: "PyYAML", "pyyaml" and "py_yaml" name the same distribution.
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def infer_pip_requirements(
    modules: Iterable[str] | None = None,
    extra: Iterable[str] = (),
    *,
    include_cairn: bool = True,
) -> list[str]:
    """Pinned requirements (`name==version`) for the distributions providing `modules`.

    `modules` are importable names ("yaml", "sklearn.linear_model"); only the top-level
    package counts. Modules no installed distribution provides (the standard library, local
    code) are skipped. `cairn-ml` pinned to the running Cairn is included unless
    `include_cairn` is False. The result is deduplicated and sorted by name; `extra` follows,
    verbatim and in order.
    """
    providers = metadata.packages_distributions()
    pins: dict[str, str] = {}
    if include_cairn:
        pins[_canonical(CAIRN_DISTRIBUTION)] = f"{CAIRN_DISTRIBUTION}=={__version__}"
    for module in modules or ():
        top = module.strip().split(".", 1)[0]
        for distribution in providers.get(top, ()):
            key = _canonical(distribution)
            if key in pins:
                continue
            version = _installed_version(distribution)
            if version is not None:
                # A local build label ("2.13.0+cpu") names no release an index serves.
                pins[key] = f"{distribution}=={version.split('+', 1)[0]}"
    return [pins[key] for key in sorted(pins)] + list(extra)


def _check(requirements: Iterable[str]) -> list[str]:
    checked = []
    for requirement in requirements:
        if not isinstance(requirement, str) or not requirement.strip():
            raise InvalidParameterValue(f"Invalid requirement {requirement!r}: expected text.")
        if "\n" in requirement or "\r" in requirement:
            raise InvalidParameterValue(f"Invalid requirement {requirement!r}: one line each.")
        checked.append(requirement.strip())
    return checked


def _dump(path: Path, document: dict[str, Any]) -> None:
    path.write_text(
        yaml.safe_dump(document, sort_keys=False, default_flow_style=False), encoding="utf-8"
    )


def write_environment_files(
    model_dir: str | Path,
    requirements: Iterable[str],
    python_version: str | None = None,
) -> list[Path]:
    """Write requirements.txt, python_env.yaml and conda.yaml into `model_dir`.

    `python_version` defaults to the running interpreter's (e.g. "3.11.7"); pip, setuptools
    and wheel are pinned to their installed versions, or listed bare when not installed.
    Returns the three paths in that order.
    """
    reqs = _check(requirements)
    python = python_version or platform.python_version()
    directory = Path(model_dir)
    directory.mkdir(parents=True, exist_ok=True)

    build = []
    for tool in _BUILD_TOOLS:
        version = _installed_version(tool)
        build.append(f"{tool}=={version}" if version else tool)
    pip_version = _installed_version("pip")

    requirements_path = directory / REQUIREMENTS_FILE
    requirements_path.write_text("".join(f"{r}\n" for r in reqs), encoding="utf-8")

    python_env_path = directory / PYTHON_ENV_FILE
    _dump(
        python_env_path,
        {
            "python": python,
            "build_dependencies": build,
            "dependencies": [f"-r {REQUIREMENTS_FILE}"],
        },
    )

    conda_path = directory / CONDA_ENV_FILE
    _dump(
        conda_path,
        {
            "name": CONDA_ENV_NAME,
            "channels": ["conda-forge"],
            "dependencies": [
                f"python={python}",
                f"pip<={pip_version}" if pip_version else "pip",
                {"pip": reqs},
            ],
        },
    )
    return [requirements_path, python_env_path, conda_path]


def read_requirements(model_dir: str | Path) -> list[str]:
    """The requirements in `model_dir`'s requirements.txt, blank lines and comments left out."""
    path = Path(model_dir) / REQUIREMENTS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResourceDoesNotExist(f"No {REQUIREMENTS_FILE} in {model_dir}") from None
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]
