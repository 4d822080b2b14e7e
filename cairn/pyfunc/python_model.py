"""Custom Python models: a `PythonModel` subclass with `load_context` and `predict`, saved
with cloudpickle beside the artifacts it needs, in MLflow's layout (MLflow loads it, and
Cairn loads MLflow's).

The model object is pickled, so loading one needs trust (see `cairn.pyfunc.trust`).
"""

from __future__ import annotations

import inspect
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.exceptions import InvalidParameterValue
from cairn.models.directory import ModelSpec, save_model_directory

if TYPE_CHECKING:
    from cairn.models.mlmodel import Model
    from cairn.models.signature import ModelSignature
    from cairn.pyfunc.loading import LoadRequest
    from cairn.tracking.model_logging import ModelInfo

LOADER_MODULE = "mlflow.pyfunc.model"  # MLflow's name: MLflow loads Cairn's custom models
PYTHON_MODEL_FILE = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"


class PythonModelContext:
    """What `load_context` and `predict` get: local paths of the model's artifacts by name, and
    the model's configuration."""

    def __init__(
        self, artifacts: Mapping[str, str], model_config: Mapping[str, Any] | None = None
    ) -> None:
        self.artifacts = dict(artifacts)
        self.model_config = dict(model_config or {})

    def __repr__(self) -> str:
        return f"PythonModelContext(artifacts={self.artifacts!r})"


@dataclass(frozen=True)
class _TypeHints:
    input: Any = None
    output: Any = None


class PythonModel:
    """Subclass and define `predict(self, context, model_input, params=None)` (or, as MLflow 3
    allows, `predict(self, model_input, params=None)`). `load_context` runs once when the model
    is loaded: open files from `context.artifacts` there."""

    @property
    def predict_type_hints(self) -> _TypeHints:
        """Asked for by MLflow's loader when MLflow loads a Cairn model; none are declared (the
        signature says what the model takes)."""
        return _TypeHints()

    def load_context(self, context: PythonModelContext) -> None:
        """Prepare the model (read artifacts, build lookup tables); does nothing by default."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define predict()")


def _takes_context(python_model: Any) -> bool:
    """Whether predict's first parameter is the context (MLflow's classic form)."""
    try:
        parameters = list(inspect.signature(python_model.predict).parameters)
    except (TypeError, ValueError):
        return True
    return bool(parameters) and parameters[0] == "context"


class _PythonModelPredictor:
    def __init__(self, python_model: Any, context: PythonModelContext) -> None:
        self.raw_model = python_model
        self._context = context
        self._with_context = _takes_context(python_model)
        self._with_params = "params" in _parameters(python_model.predict)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        args: list[Any] = [self._context, data] if self._with_context else [data]
        if self._with_params:
            return self.raw_model.predict(*args, params=params)
        return self.raw_model.predict(*args)


def _parameters(function: Any) -> list[str]:
    try:
        return list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return []


def model_spec(
    python_model: Any,
    artifacts: Mapping[str, str | os.PathLike[str]] | None,
    model_config: Mapping[str, Any] | None,
) -> ModelSpec:
    """The save description of a custom model; pickles it and copies its artifacts."""
    if not callable(getattr(python_model, "predict", None)):
        raise InvalidParameterValue(
            f"python_model must be a PythonModel (an object with predict), got "
            f"{type(python_model).__name__}"
        )
    import cloudpickle

    sources = dict(artifacts or {})

    def write(directory: Path) -> Mapping[str, Any]:
        with open(directory / PYTHON_MODEL_FILE, "wb") as f:
            cloudpickle.dump(python_model, f)
        keys: dict[str, Any] = {
            "python_model": PYTHON_MODEL_FILE,
            "cloudpickle_version": cloudpickle.__version__,
        }
        if sources:
            keys["artifacts"] = _copy_artifacts(sources, directory / ARTIFACTS_DIR)
        if model_config:
            keys["model_config"] = dict(model_config)
        return keys

    return ModelSpec(
        flavor=None,
        write=write,
        loader_module=LOADER_MODULE,
        requirement_modules=("cloudpickle",),
        predict=_example_predictor(python_model, artifacts, model_config),
    )


def _example_predictor(
    python_model: Any,
    artifacts: Mapping[str, str | os.PathLike[str]] | None,
    model_config: Mapping[str, Any] | None,
) -> Any:
    """Predict on the input example to infer the output schema, as the saved model would."""

    def predict(example: Any) -> Any:
        local = {name: os.fspath(path) for name, path in (artifacts or {}).items()}
        context = PythonModelContext(local, model_config)
        python_model.load_context(context)
        return _PythonModelPredictor(python_model, context).predict(example)

    return predict


def _copy_artifacts(
    sources: Mapping[str, str | os.PathLike[str]], destination: Path
) -> dict[str, dict[str, str]]:
    """Copy each artifact (a local path or any artifact URI) under `artifacts/`."""
    destination.mkdir()
    entries: dict[str, dict[str, str]] = {}
    for name, uri in sources.items():
        if not name or "/" in name or name in (".", ".."):
            raise InvalidParameterValue(f"Invalid artifact name {name!r}")
        local = _local_copy(os.fspath(uri), destination / name)
        rel = local.relative_to(destination.parent).as_posix()
        entries[name] = {"path": rel, "uri": os.fspath(uri)}
    return entries


def _local_copy(uri: str, slot: Path) -> Path:
    from cairn.tracking.model_download import local_model_path

    slot.mkdir()
    local = local_model_path(uri)
    if local is None:
        from cairn.tracking.fluent import client

        return Path(client().download_artifact_uri(uri, slot))
    if not local.exists():
        raise InvalidParameterValue(f"Artifact {uri!r} does not exist")
    target = slot / local.name
    if local.is_dir():
        shutil.copytree(local, target)
    else:
        shutil.copy2(local, target)
    return target


def save_model(
    path: str | os.PathLike[str],
    python_model: Any,
    *,
    artifacts: Mapping[str, str | os.PathLike[str]] | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | str | os.PathLike[str] | None = None,
    extra_pip_requirements: Sequence[str] | str | os.PathLike[str] | None = None,
    model_config: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    mlmodel: Model | None = None,
) -> Model:
    """Save a custom `PythonModel` (pickled with cloudpickle) and its artifacts at `path`."""
    return save_model_directory(
        path,
        model_spec(python_model, artifacts, model_config),
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        code_paths=code_paths,
        metadata=metadata,
        mlmodel=mlmodel,
    )


def log_model(
    name: str | None = None,
    python_model: Any = None,
    *,
    artifact_path: str | None = None,
    **options: Any,
) -> ModelInfo:
    """Log a custom `PythonModel` to the active run (or, with no active run, the active
    experiment). Options: `registered_model_name` (also register it), `tags`, `params`,
    `model_type`, `step`; everything else is `save_model`'s (`artifacts`, `code_paths`, …)."""
    from cairn.tracking.model_logging import log_flavor_model

    if python_model is None:
        raise InvalidParameterValue("log_model needs python_model (a PythonModel instance)")

    def save(model: Any, directory: Path, **kwargs: Any) -> Model:
        return save_model(directory, model, **kwargs)

    return log_flavor_model(save, python_model, name or artifact_path, options)


def _load_pyfunc(request: LoadRequest) -> _PythonModelPredictor:
    from cairn.pyfunc.loading import add_code_path, model_file

    config = request.config
    if "model_code_path" in config:
        raise InvalidParameterValue(
            "This model was saved from code (MLflow's models-from-code); Cairn cannot load that "
            "kind of model yet"
        )
    name = config.get("python_model")
    if not name:
        raise InvalidParameterValue("The python_function flavor names no python_model file")
    path = model_file(request.model_dir, str(name))
    request.require_trust(f"the custom Python model {name!r}")
    add_code_path(request)
    import cloudpickle

    with open(path, "rb") as f:
        if config.get("python_model_compression"):
            raise InvalidParameterValue(
                f"Compressed Python models ({config['python_model_compression']}) are not supported"
            )
        python_model = cloudpickle.load(f)
    artifacts = {
        key: str(model_file(request.model_dir, str(entry["path"])))
        for key, entry in (config.get("artifacts") or {}).items()
    }
    context = PythonModelContext(artifacts, config.get("model_config"))
    python_model.load_context(context)
    return _PythonModelPredictor(python_model, context)
