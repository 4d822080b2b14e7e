"""Writing a model directory: the one save path every flavor shares.

A flavor writes only its own files (the estimator, the ONNX graph, the pickled Python model)
and names the keys of its flavor section; everything around them is written here, the same
way for all flavors: code paths, the input example, the signature (inferred from the example
when not given), the environment files, the MLmodel file and, last, the checksums manifest.

The directory is built beside its destination and renamed into place, so a failed save leaves
nothing behind and a half-written model is never seen under the final name.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.exceptions import InvalidParameterValue, ResourceAlreadyExists
from cairn.models.environment import (
    CONDA_ENV_FILE,
    PYTHON_ENV_FILE,
    infer_pip_requirements,
    write_environment_files,
)
from cairn.models.input_example import save_input_example, validate_input_example
from cairn.models.integrity import write_manifest
from cairn.models.mlmodel import Model
from cairn.models.signature import ModelSignature, infer_signature

PYFUNC_FLAVOR = "python_function"
CODE_DIR = "code"

# `FlavorWriter(directory) -> flavor keys`: writes the flavor's own files into `directory`.
FlavorWriter = Callable[[Path], Mapping[str, Any]]


@dataclass
class ModelSpec:
    """What a flavor's `save_model` hands to `save_model_directory`."""

    flavor: str | None
    """The flavor's own MLmodel section; None for a model that is only a python_function
    (its keys then go into that section)."""
    write: FlavorWriter
    loader_module: str | None
    """The `python_function` loader; None for a flavor that cannot load as pyfunc."""
    pyfunc_config: dict[str, Any] = field(default_factory=dict)
    """Extra keys of the python_function section (e.g. `model_path`, `predict_fn`)."""
    requirement_modules: Sequence[str] = ()
    """Importable names whose distributions the model needs (pinned in requirements.txt)."""
    predict: Callable[[Any], Any] | None = None
    """Used to infer the output schema from the input example when no signature is given."""


def save_model_directory(
    path: str | os.PathLike[str],
    spec: ModelSpec,
    *,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Iterable[str] | str | os.PathLike[str] | None = None,
    extra_pip_requirements: Iterable[str] | str | os.PathLike[str] | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    metadata: Mapping[str, Any] | None = None,
    mlmodel: Model | None = None,
) -> Model:
    """Write a complete model directory at `path` and return its MLmodel description.

    `path` must not exist or be an empty directory. `pip_requirements` replaces the inferred
    requirements (a list or a requirements file); `extra_pip_requirements` adds to them.
    `mlmodel` is a `Model` to fill in (log_model passes one carrying run and model ids).
    """
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ResourceAlreadyExists(f"Model path {str(target)!r} already exists and is not empty")
    if pip_requirements is not None and extra_pip_requirements is not None:
        raise InvalidParameterValue(
            "Give pip_requirements or extra_pip_requirements, not both: the first replaces "
            "the inferred requirements, the second adds to them."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.saving-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        model = mlmodel or Model()
        flavor_keys = dict(spec.write(staging))
        if code_paths:
            _copy_code_paths(code_paths, staging / CODE_DIR)
            flavor_keys["code"] = CODE_DIR
        if spec.flavor is not None:
            model.add_flavor(spec.flavor, **flavor_keys)
        if spec.loader_module is not None:
            pyfunc_keys = dict(spec.pyfunc_config)
            if spec.flavor is None:
                pyfunc_keys.update(flavor_keys)  # a pyfunc-only model: its keys go here
            elif code_paths:
                pyfunc_keys["code"] = CODE_DIR
            model.add_flavor(
                PYFUNC_FLAVOR,
                loader_module=spec.loader_module,
                python_version=platform.python_version(),
                env={"conda": CONDA_ENV_FILE, "virtualenv": PYTHON_ENV_FILE},
                **pyfunc_keys,
            )
        if input_example is not None:
            model.saved_input_example_info = save_input_example(staging, input_example)
            if signature is None:
                signature = _signature_from_example(input_example, spec.predict)
        if signature is not None:
            if input_example is not None:
                validate_input_example(input_example, signature)
            model.signature = signature
        if metadata is not None:
            model.metadata = dict(metadata)
        write_environment_files(
            staging, _requirements(spec, pip_requirements, extra_pip_requirements)
        )
        model.model_size_bytes = _size(staging)
        model.save(staging)
        write_manifest(staging)
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return model


def _signature_from_example(example: Any, predict: Callable[[Any], Any] | None) -> ModelSignature:
    """Input schema from the example; output schema from predicting on it when the flavor can
    (a model that fails on its own example keeps an input-only signature)."""
    output = None
    if predict is not None:
        with contextlib.suppress(Exception):
            output = predict(example)
    try:
        return infer_signature(example, output)
    except Exception:
        return infer_signature(example)


def _requirements(
    spec: ModelSpec,
    replace: Iterable[str] | str | os.PathLike[str] | None,
    extra: Iterable[str] | str | os.PathLike[str] | None,
) -> list[str]:
    if replace is not None:
        return _requirement_list(replace)
    return infer_pip_requirements(
        spec.requirement_modules, _requirement_list(extra) if extra is not None else ()
    )


def _requirement_list(value: Iterable[str] | str | os.PathLike[str]) -> list[str]:
    """A list as given, or the lines of a requirements file when given a path."""
    if isinstance(value, (str, os.PathLike)):
        text = Path(value).read_text(encoding="utf-8")
        lines = (line.strip() for line in text.splitlines())
        return [line for line in lines if line and not line.startswith("#")]
    return list(value)


def _copy_code_paths(paths: Sequence[str | os.PathLike[str]], destination: Path) -> None:
    """Copy each file or package directory into `code/`, keeping its base name."""
    destination.mkdir()
    for item in paths:
        source = Path(item)
        if not source.exists():
            raise InvalidParameterValue(f"Code path {str(source)!r} does not exist")
        dest = destination / source.name
        if dest.exists():
            raise InvalidParameterValue(f"Two code paths are named {source.name!r}")
        if source.is_dir():
            shutil.copytree(
                source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), symlinks=False
            )
        else:
            shutil.copy2(source, dest)


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
