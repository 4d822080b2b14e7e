"""Loading any model as a Python function: `load_model(uri).predict(data, params)`.

Every flavor that can predict registers a loader under the `loader_module` names it writes in
the python_function section of MLmodel. Cairn writes MLflow's names (`mlflow.sklearn`, …), so
MLflow loads Cairn's models, and maps both MLflow's and its own names to its own loaders, so
Cairn loads MLflow's models without importing MLflow. A loader module Cairn does not know is
imported only for a trusted model: importing a module a file names runs its code.

Order of checks on load: the checksums manifest (when the model has one), then trust (for
pickle-based files), then the flavor's own loading.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cairn.exceptions import InvalidParameterValue
from cairn.models.directory import PYFUNC_FLAVOR
from cairn.models.enforce import enforce_params, enforce_schema
from cairn.models.integrity import verify_manifest
from cairn.models.mlmodel import Model
from cairn.pyfunc.trust import Provenance, require_trust

if TYPE_CHECKING:
    from cairn.models.schema import ParamSchema, Schema
    from cairn.tracking.client import CairnClient

logger = logging.getLogger(__name__)


class Predictor(Protocol):
    """What a flavor's loader returns: the model, ready to predict."""

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class LoadRequest:
    """Everything a flavor's loader may need."""

    model_dir: Path
    model: Model
    config: Mapping[str, Any]
    """The python_function section of MLmodel."""
    trusted: bool
    source: Provenance

    def require_trust(self, what: str) -> None:
        require_trust(self.trusted, what, self.source)


Loader = Callable[[LoadRequest], Predictor]

# loader_module written in MLmodel -> "module:function" of Cairn's loader for it.
_LOADERS: dict[str, str] = {
    "mlflow.sklearn": "cairn.sklearn:_load_pyfunc",
    "cairn.sklearn": "cairn.sklearn:_load_pyfunc",
    "mlflow.pyfunc.model": "cairn.pyfunc.python_model:_load_pyfunc",
    "cairn.pyfunc.python_model": "cairn.pyfunc.python_model:_load_pyfunc",
    "mlflow.onnx": "cairn.onnx:_load_pyfunc",
    "cairn.onnx": "cairn.onnx:_load_pyfunc",
    "mlflow.pytorch": "cairn.pytorch:_load_pyfunc",
    "cairn.pytorch": "cairn.pytorch:_load_pyfunc",
}


def _loader(name: str, request: LoadRequest) -> Loader:
    target = _LOADERS.get(name)
    if target is not None:
        module_name, _, function = target.partition(":")
        loader: Loader = getattr(importlib.import_module(module_name), function)
        return loader
    request.require_trust(f"a model whose loader module is {name!r} (importing it runs its code)")
    return _foreign_loader(name)


def _foreign_loader(name: str) -> Loader:
    """MLflow's convention for custom loader modules: `_load_pyfunc(<data path>)`."""

    def load(request: LoadRequest) -> Predictor:
        add_code_path(request)
        module = importlib.import_module(name)
        data = request.config.get("data") or request.config.get("model_path") or ""
        impl = module._load_pyfunc(str(request.model_dir / data))
        return _ParamsAdapter(impl)

    return load


class _ParamsAdapter:
    """A foreign model's predict, called with params only when it takes them."""

    def __init__(self, impl: Any) -> None:
        self._impl = impl

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        if params:
            return self._impl.predict(data, params=params)
        return self._impl.predict(data)


def add_code_path(request: LoadRequest) -> None:
    """Make the model's saved code importable (pickles of its classes refer to it)."""
    code = request.config.get("code")
    if code:
        path = str(request.model_dir / code)
        if path not in sys.path:
            sys.path.insert(0, path)


def model_file(root: Path, rel: str) -> Path:
    """`root/rel` resolved, refused when it leads outside the model directory (a `..` in
    MLmodel, or a symlink leading out): flavors open only what the model holds."""
    from cairn.artifacts.paths import is_inside

    path = root / rel
    if not is_inside(root, path):
        raise InvalidParameterValue(f"Model file {rel!r} lies outside the model directory")
    return path.resolve()


class PyFuncModel:
    """A loaded model: `predict` checks the input and params against the signature, then calls
    the flavor's model."""

    def __init__(self, metadata: Model, impl: Predictor, model_dir: Path) -> None:
        self.metadata = metadata
        self.model_dir = model_dir
        self._impl = impl

    @property
    def loader_module(self) -> str:
        return str(self.metadata.flavors[PYFUNC_FLAVOR].get("loader_module", ""))

    def get_input_schema(self) -> Schema | None:
        sig = self.metadata.signature
        return sig.inputs if sig is not None else None

    def get_output_schema(self) -> Schema | None:
        sig = self.metadata.signature
        return sig.outputs if sig is not None else None

    def get_params_schema(self) -> ParamSchema | None:
        sig = self.metadata.signature
        return sig.params if sig is not None else None

    def get_raw_model(self) -> Any:
        """The flavor's own model object (the estimator, the PythonModel, the session)."""
        return getattr(self._impl, "raw_model", self._impl)

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        """Predict on `data` (DataFrame, array, dict of arrays, list of rows). Raises
        `SchemaEnforcementError` naming the column, tensor or param that does not fit."""
        schema = self.get_input_schema()
        if schema is not None:
            data = enforce_schema(data, schema)
        params_schema = self.get_params_schema()
        if params and params_schema is None:
            logger.warning(
                "Ignoring params %s: the model's signature declares no params", sorted(params)
            )
        checked = enforce_params(params, params_schema)
        return self._impl.predict(data, checked or None)

    def __repr__(self) -> str:
        return f"<PyFuncModel {self.loader_module} from {str(self.model_dir)!r}>"


def load_model(
    model_uri: str | os.PathLike[str],
    *,
    trust: bool = False,
    dst_path: str | os.PathLike[str] | None = None,
    client: CairnClient | None = None,
) -> PyFuncModel:
    """Load the model at `model_uri` as a Python function.

    URIs: a local path, `file:`, `runs:/<run_id>/<path>`, `models:/<name>/<version|stage|
    latest>`, `models:/<name>@<alias>`, `models:/m-<id>`, or an artifact URI. Pickle-based
    models load only with `trust=True` or from a source listed in
    CAIRN_TRUSTED_MODEL_SOURCES; the model's checksums are verified first either way.
    """
    model_dir, model, source = open_model(model_uri, dst_path=dst_path, client=client)
    config = model.flavors.get(PYFUNC_FLAVOR)
    if config is None:
        raise InvalidParameterValue(
            f"The model at {source.model_uri!r} cannot be loaded as a Python function: its "
            f"MLmodel has no {PYFUNC_FLAVOR} flavor (flavors: {', '.join(model.flavors) or 'none'})"
        )
    name = str(config.get("loader_module") or "")
    if not name:
        raise InvalidParameterValue(
            f"The {PYFUNC_FLAVOR} flavor of {source.model_uri!r} names no loader"
        )
    request = LoadRequest(model_dir, model, config, trust, source)
    return PyFuncModel(model, _loader(name, request)(request), model_dir)


def open_model(
    model_uri: str | os.PathLike[str],
    *,
    dst_path: str | os.PathLike[str] | None = None,
    client: CairnClient | None = None,
) -> tuple[Path, Model, Provenance]:
    """Download (when remote) and verify a model: its directory, MLmodel and provenance.

    Every flavor's `load_model` starts here, so checksums are checked before any file of the
    model is read by a flavor."""
    from cairn.tracking.model_download import download_model

    uri = os.fspath(model_uri)
    downloaded = download_model(uri, dst_path, client)
    if not verify_manifest(downloaded.path):
        logger.info("%s has no checksums manifest (not saved by Cairn): not verified", uri)
    model = Model.load(downloaded.path)
    return downloaded.path, model, Provenance(uri, downloaded.store_uris)


def flavor_config(model: Model, flavor: str, model_uri: str) -> Mapping[str, Any]:
    """A flavor's section of MLmodel, or a clear error naming the flavors the model has."""
    config = model.flavors.get(flavor)
    if config is None:
        raise InvalidParameterValue(
            f"The model at {model_uri!r} has no {flavor!r} flavor "
            f"(flavors: {', '.join(model.flavors) or 'none'})"
        )
    return config
