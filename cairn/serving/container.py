"""A Docker build context that serves one model with `cairn models serve`.

    DIR/Dockerfile          FROM python:3.11-slim, a venv with the model's requirements,
                            the model in /opt/model, serve.sh as the entrypoint
    DIR/requirements.txt    the model's requirements, its cairn-ml line pinned to the wheel
    DIR/wheels/             a wheel of the running Cairn (cairn-ml is not on PyPI)
    DIR/model_dir/          the model's files, checksums verified on the way in
    DIR/serve.sh            `cairn models serve -m /opt/model --host 0.0.0.0 --port 8080`
    DIR/.dockerignore

The wheel is built from the source tree the running Cairn was imported from, so the image
serves with exactly the code that wrote the context. The model's own requirements.txt stays
as it was saved (its checksum is in the model's manifest); the context's copy is the one
installed. serve.sh reads PORT, CAIRN_HOST, CAIRN_MODEL_DIR and CAIRN_VENV, so the same
script runs outside a container too, and passes its arguments on to `cairn models serve`.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cairn.exceptions import CairnException, InvalidParameterValue
from cairn.models.environment import (
    CAIRN_DISTRIBUTION,
    PYTHON_ENV_FILE,
    REQUIREMENTS_FILE,
    read_requirements,
)

if TYPE_CHECKING:
    from cairn.tracking.client import CairnClient

MODEL_DIR = "model_dir"
WHEELS_DIR = "wheels"
ENTRYPOINT = "serve.sh"
IMAGE_MODEL_DIR = "/opt/model"
IMAGE_VENV = "/opt/venv"
DEFAULT_PORT = 8080
MIN_PYTHON = (3, 11)  # Cairn's requires-python

# MLflow's models list mlflow itself; Cairn serves them without it.
_DROPPED = re.compile(r"^\s*mlflow(-skinny)?\s*([<>=!~\[;@ ]|$)", re.IGNORECASE)
_CAIRN_LINE = re.compile(r"^\s*cairn[-_.]ml\s*(\[[^\]]*\])?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ContainerContext:
    """What `build_context` wrote, and notes worth showing the user."""

    directory: Path
    dockerfile: Path
    wheel: Path
    requirements: list[str]
    base_image: str
    notes: list[str] = field(default_factory=list)


def build_context(
    model_uri: str,
    directory: str | os.PathLike[str],
    *,
    base_image: str | None = None,
    port: int = DEFAULT_PORT,
    trust: bool = False,
    client: CairnClient | None = None,
) -> ContainerContext:
    """Write a build context for an image serving `model_uri` into `directory` (created; an
    existing one must be empty). `base_image` defaults to `python:<major.minor>-slim` of the
    Python the model was saved with (at least 3.11); `trust` adds `--trust` to the command.
    On failure nothing is left in `directory`."""
    if not 1 <= port <= 65535:
        raise InvalidParameterValue(f"Port {port} is not between 1 and 65535")
    target = Path(directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidParameterValue(
            f"{str(target)!r} already exists and is not an empty directory: give a new one"
        )
    source = cairn_source_root()
    target.mkdir(parents=True, exist_ok=True)
    try:
        return _build(model_uri, target, source, base_image, port, trust, client)
    except BaseException:
        for child in target.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise


def _build(
    model_uri: str,
    target: Path,
    source: Path,
    base_image: str | None,
    port: int,
    trust: bool,
    client: CairnClient | None,
) -> ContainerContext:
    from cairn.models.directory import PYFUNC_FLAVOR
    from cairn.pyfunc.loading import open_model

    notes: list[str] = []
    model_dir = target / MODEL_DIR
    with tempfile.TemporaryDirectory(prefix="cairn-model-") as scratch:
        found, model, _ = open_model(model_uri, dst_path=scratch, client=client)
        if PYFUNC_FLAVOR not in model.flavors:
            raise InvalidParameterValue(
                f"The model at {model_uri!r} cannot be served: its MLmodel has no "
                f"{PYFUNC_FLAVOR} flavor (flavors: {', '.join(model.flavors) or 'none'})"
            )
        shutil.copytree(found, model_dir, ignore=shutil.ignore_patterns("__pycache__"))
    # The image's server runs as a non-root user: files saved 0600 would be unreadable.
    for path in (model_dir, *model_dir.rglob("*")):
        path.chmod(path.stat().st_mode | (0o555 if path.is_dir() else 0o444))
    wheel = build_wheel(source, target / WHEELS_DIR)
    version = wheel.name.split("-")[1]
    requirements = image_requirements(model_dir, version, notes)
    (target / REQUIREMENTS_FILE).write_text("".join(f"{r}\n" for r in requirements))
    image = base_image or default_base_image(model_dir, notes)
    dockerfile = target / "Dockerfile"
    dockerfile.write_text(dockerfile_text(image, port, model_uri, wheel.name))
    entrypoint = target / ENTRYPOINT
    entrypoint.write_text(entrypoint_text(port, trust))
    entrypoint.chmod(0o755)
    (target / ".dockerignore").write_text("**/__pycache__\n**/*.pyc\n**/.DS_Store\n")
    return ContainerContext(target, dockerfile, wheel, requirements, image, notes)


def cairn_source_root() -> Path:
    """The project directory (with pyproject.toml) the running Cairn was imported from."""
    import cairn

    root = Path(cairn.__file__).resolve().parent.parent
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        project = {}
    if project.get("project", {}).get("name") != CAIRN_DISTRIBUTION:
        raise InvalidParameterValue(
            f"Cannot build a wheel of Cairn: it was imported from {str(root / 'cairn')!r}, "
            f"which is not in a source tree with the pyproject.toml of {CAIRN_DISTRIBUTION}. "
            "The image installs Cairn from a wheel built here (cairn-ml is not on PyPI): run "
            "this from a source install (pip install -e <cairn checkout>)"
        )
    return root


def build_wheel(source: Path, wheels_dir: Path) -> Path:
    """A wheel of the Cairn project at `source`, built into `wheels_dir`.

    The sources are copied out first, so the build leaves nothing (build/, egg-info) in
    the source tree. Without network access the build needs setuptools and wheel installed
    beside pip, where it runs without build isolation."""
    import importlib.util

    wheels_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cairn-wheel-") as scratch:
        tree = Path(scratch) / "src"
        tree.mkdir()
        for name in ("pyproject.toml", "README.md", "setup.cfg", "setup.py", "MANIFEST.in"):
            if (source / name).is_file():
                shutil.copy2(source / name, tree / name)
        shutil.copytree(
            source / "cairn", tree / "cairn", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
        if importlib.util.find_spec("setuptools") and importlib.util.find_spec("wheel"):
            command.append("--no-build-isolation")
        command += ["--wheel-dir", str(wheels_dir), str(tree)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip().splitlines()[-15:]
        raise CairnException("Building the Cairn wheel failed:\n" + "\n".join(output))
    wheels = sorted(wheels_dir.glob("cairn_ml-*.whl"))
    if not wheels:
        raise CairnException(f"Building the Cairn wheel left no wheel in {str(wheels_dir)!r}")
    return wheels[-1]


def image_requirements(model_dir: Path, version: str, notes: list[str]) -> list[str]:
    """The model's requirements with `cairn-ml==version` (the wheel's) in place of its own
    cairn-ml line, and without mlflow (Cairn serves MLflow's models itself)."""
    try:
        saved = read_requirements(model_dir)
    except CairnException:
        notes.append(f"The model has no {REQUIREMENTS_FILE}: the image gets Cairn only")
        saved = []
    pinned = f"{CAIRN_DISTRIBUTION}=={version}"
    out: list[str] = []
    for line in saved:
        cairn_line = _CAIRN_LINE.match(line)
        if cairn_line:
            extras = cairn_line.group(1) or ""
            if line.replace(" ", "") != f"{CAIRN_DISTRIBUTION}{extras}=={version}":
                notes.append(f"The model asks for {line!r}; the image gets the wheel of {pinned}")
            pinned = f"{CAIRN_DISTRIBUTION}{extras}=={version}"
        elif _DROPPED.match(line):
            notes.append(f"Left out {line!r}: Cairn serves MLflow's models without MLflow")
        else:
            out.append(line)
    return [pinned, *out]


def default_base_image(model_dir: Path, notes: list[str]) -> str:
    """`python:<major.minor>-slim` for the Python the model was saved with, at least 3.11."""
    import yaml

    version = ""
    try:
        env = yaml.safe_load((model_dir / PYTHON_ENV_FILE).read_text())
        version = str(env.get("python", "")) if isinstance(env, dict) else ""
    except (OSError, yaml.YAMLError):
        pass
    found = re.match(r"(\d+)\.(\d+)", version)
    if found is None:
        major, minor = sys.version_info[:2]
        notes.append(f"The model names no Python version; using this one's ({major}.{minor})")
    else:
        major, minor = int(found.group(1)), int(found.group(2))
        if (major, minor) < MIN_PYTHON:
            notes.append(
                f"The model was saved with Python {version}; Cairn needs "
                f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]}, which the image gets"
            )
            major, minor = MIN_PYTHON
    return f"python:{major}.{minor}-slim"


def dockerfile_text(base_image: str, port: int, model_uri: str, wheel: str) -> str:
    """The Dockerfile of the context; `wheel` is the file name of Cairn's wheel."""
    version = wheel.split("-")[1]
    return f"""\
# Serves the model {_one_line(model_uri)} with Cairn {version}.
# Written by `cairn models generate-dockerfile` on Python {platform.python_version()}.
#   docker build -t my-model .
#   docker run -p {port}:{port} my-model        # more arguments go to `cairn models serve`
FROM {base_image}

ENV PYTHONUNBUFFERED=1 \\
    PYTHONDONTWRITEBYTECODE=1 \\
    PIP_NO_CACHE_DIR=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The model's requirements in a virtualenv of their own. cairn-ml is not on PyPI: the wheel
# in {WHEELS_DIR}/ satisfies the cairn-ml line of requirements.txt. It is named explicitly,
# so no package index can offer another cairn-ml in its place.
RUN python -m venv {IMAGE_VENV}
ENV PATH="{IMAGE_VENV}/bin:$PATH"
COPY {WHEELS_DIR}/ /tmp/cairn-build/{WHEELS_DIR}/
COPY {REQUIREMENTS_FILE} /tmp/cairn-build/{REQUIREMENTS_FILE}
RUN pip install --find-links /tmp/cairn-build/{WHEELS_DIR} \\
        /tmp/cairn-build/{WHEELS_DIR}/{wheel} \\
        -r /tmp/cairn-build/{REQUIREMENTS_FILE} \\
    && rm -rf /tmp/cairn-build

COPY {MODEL_DIR}/ {IMAGE_MODEL_DIR}/
COPY {ENTRYPOINT} /usr/local/bin/{ENTRYPOINT}

# Not root: a numeric user works on any base image.
USER 10001:10001
ENV PORT={port}
EXPOSE {port}
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \\
    CMD ["python", "-c", "{_healthcheck(port)}"]
ENTRYPOINT ["/usr/local/bin/{ENTRYPOINT}"]
"""


def entrypoint_text(port: int, trust: bool) -> str:
    """serve.sh: the image's entrypoint; it also runs outside a container, given the
    environment variables below."""
    trust_line = "    --trust \\\n" if trust else ""
    return f"""\
#!/bin/sh
# Serves the model with `cairn models serve`; arguments are passed on (e.g. --workers 2).
# PORT ({port}), CAIRN_HOST (0.0.0.0), CAIRN_MODEL_DIR ({IMAGE_MODEL_DIR}) and
# CAIRN_VENV ({IMAGE_VENV}) override the defaults.
set -eu
exec "${{CAIRN_VENV:-{IMAGE_VENV}}}/bin/cairn" models serve \\
    --model-uri "${{CAIRN_MODEL_DIR:-{IMAGE_MODEL_DIR}}}" \\
    --host "${{CAIRN_HOST:-0.0.0.0}}" \\
    --port "${{PORT:-{port}}}" \\
{trust_line}    "$@"
"""


def _healthcheck(port: int) -> str:
    """Python code that fails unless /ping answers (slim images have no curl)."""
    url = f"'http://127.0.0.1:%s/ping' % os.environ.get('PORT', '{port}')"
    return f"import os, urllib.request; urllib.request.urlopen({url}, timeout=4)"


def _one_line(uri: str) -> str:
    """The URI for a comment: one line, without a password it may carry."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(uri)
        if parts.password is not None:
            host = parts.netloc.rpartition("@")[2]
            uri = parts._replace(netloc=f"{parts.username}:***@{host}").geturl()
    except ValueError:
        pass
    return " ".join(uri.split())
