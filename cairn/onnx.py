"""The ONNX flavor: `save_model`, `log_model`, `load_model`; loads as pyfunc on onnxruntime.

An ONNX file is a protobuf graph, not a pickle: loading it runs no Python code the file names,
so ONNX models load without trust. Large tensors are kept beside the graph as external data
(as MLflow does by default); their locations are checked to lie inside the model directory
before onnx or onnxruntime reads them. The file layout and MLmodel keys are MLflow's
(`model.onnx`, `onnx_version`, `providers`), and pyfunc predictions follow MLflow's shapes:
a DataFrame in gives a DataFrame out, anything else a dict of output name → array.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.exceptions import InvalidParameterValue
from cairn.models.directory import ModelSpec, save_model_directory

if TYPE_CHECKING:
    from cairn.models.mlmodel import Model
    from cairn.models.signature import ModelSignature
    from cairn.pyfunc.loading import LoadRequest
    from cairn.tracking.model_logging import ModelInfo

FLAVOR_NAME = "onnx"
LOADER_MODULE = "mlflow.onnx"
MODEL_FILE = "model.onnx"
CPU_PROVIDER = "CPUExecutionProvider"
# MLflow's default: GPU when the onnxruntime build has it, else CPU.
DEFAULT_PROVIDERS = ["CUDAExecutionProvider", CPU_PROVIDER]


def _model_spec(
    onnx_model: Any,
    providers: Sequence[str | Sequence[Any]] | None,
    session_options: Mapping[str, Any] | None,
    save_as_external_data: bool,
) -> ModelSpec:
    import onnx

    if not isinstance(onnx_model, onnx.ModelProto):
        raise InvalidParameterValue(
            f"cairn.onnx saves an onnx.ModelProto, got {type(onnx_model).__name__}"
        )
    _session_options(session_options)  # refuse bad options now, not at loading

    def write(directory: Path) -> Mapping[str, Any]:
        proto = onnx_model
        if save_as_external_data:
            # onnx moves tensors out of the proto it saves as external data: save a copy, so
            # the caller's model keeps its weights.
            proto = onnx.ModelProto()
            proto.CopyFrom(onnx_model)
        onnx.save_model(proto, directory / MODEL_FILE, save_as_external_data=save_as_external_data)
        return {
            "onnx_version": onnx.__version__,
            "data": MODEL_FILE,
            "providers": [p if isinstance(p, str) else list(p) for p in providers]
            if providers is not None
            else list(DEFAULT_PROVIDERS),
            "onnx_session_options": dict(session_options) if session_options else None,
        }

    def predict(data: Any) -> Any:
        import onnxruntime

        # Only to infer the output schema from the input example; a model past protobuf's
        # 2 GB limit cannot be serialised here and keeps an input-only signature.
        session = onnxruntime.InferenceSession(
            onnx_model.SerializeToString(), providers=[CPU_PROVIDER]
        )
        return _OnnxPredictor(session).predict(data)

    return ModelSpec(
        flavor=FLAVOR_NAME,
        write=write,
        loader_module=LOADER_MODULE,
        pyfunc_config={"data": MODEL_FILE},
        requirement_modules=["onnx", "onnxruntime"],
        predict=predict,
    )


def save_model(
    onnx_model: Any,
    path: str | os.PathLike[str],
    *,
    onnx_execution_providers: Sequence[str | Sequence[Any]] | None = None,
    onnx_session_options: Mapping[str, Any] | None = None,
    save_as_external_data: bool = True,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | str | os.PathLike[str] | None = None,
    extra_pip_requirements: Sequence[str] | str | os.PathLike[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    mlmodel: Model | None = None,
) -> Model:
    """Save an `onnx.ModelProto` as a model directory at `path`.

    `onnx_execution_providers` is recorded for loading (names or `(name, options)` pairs;
    MLflow's default prefers CUDA, then CPU); providers the loading onnxruntime lacks are
    skipped. `onnx_session_options` are MLflow's (`intra_op_num_threads`,
    `inter_op_num_threads`, `execution_mode`, `graph_optimization_level`,
    `extra_session_config`), applied to the session on loading. Tensors of 1 KB or more go
    to an external data file unless `save_as_external_data` is False. Without `signature`,
    one is inferred from `input_example` and the model's outputs on it.
    """
    return save_model_directory(
        path,
        _model_spec(
            onnx_model, onnx_execution_providers, onnx_session_options, save_as_external_data
        ),
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        code_paths=code_paths,
        metadata=metadata,
        mlmodel=mlmodel,
    )


def log_model(
    onnx_model: Any,
    name: str | None = None,
    *,
    artifact_path: str | None = None,
    **options: Any,
) -> ModelInfo:
    """Log an ONNX model to the active run (or, with no active run, the active experiment) as an
    MLflow 3 logged model. Options: `registered_model_name` (also register it), `tags`,
    `params`, `model_type`, `step`; everything else is `save_model`'s."""
    from cairn.tracking.model_logging import log_flavor_model

    return log_flavor_model(save_model, onnx_model, name or artifact_path, options)


def load_model(
    model_uri: str | os.PathLike[str], *, dst_path: str | os.PathLike[str] | None = None
) -> Any:
    """The `onnx.ModelProto` saved at `model_uri` (any model URI `cairn.pyfunc` takes),
    external data included."""
    import onnx

    from cairn.pyfunc.loading import flavor_config, open_model

    model_dir, model, source = open_model(model_uri, dst_path=dst_path)
    config = flavor_config(model, FLAVOR_NAME, source.model_uri)
    path = _model_file(model_dir, config)
    return onnx.load(str(path))


def _model_file(model_dir: Path, config: Mapping[str, Any]) -> Path:
    """The graph file, after checking that its external data lies inside the model."""
    import onnx
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    from cairn.pyfunc.loading import model_file

    path = model_file(model_dir, str(config.get("data") or MODEL_FILE))
    graph = onnx.load(str(path), load_external_data=False)
    # onnx has no public walk over every tensor (initializers and those inside attributes
    # and subgraphs); this private one has been stable since onnx 1.5.
    for tensor in onnx.external_data_helper._get_all_tensors(graph):
        if uses_external_data(tensor):
            location = ExternalDataInfo(tensor).location
            if not location or Path(location).is_absolute():
                raise InvalidParameterValue(
                    f"The ONNX tensor {tensor.name!r} names its external data "
                    f"{location!r}: it must be a relative path inside the model"
                )
            model_file(path.parent, location)
    return path


class _OnnxPredictor:
    """Feeds a session as MLflow's ONNX wrapper does, so both give the same answers."""

    def __init__(self, session: Any) -> None:
        self.raw_model = session
        self.inputs = [(i.name, i.type) for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import pandas as pd

        names = [name for name, _ in self.inputs]
        if isinstance(data, pd.DataFrame):
            if len(names) > 1:
                missing = [n for n in names if n not in data.columns]
                if missing:
                    raise InvalidParameterValue(
                        f"The ONNX model takes inputs {names}; the DataFrame lacks {missing}"
                    )
                feeds = {n: data[n].to_numpy() for n in names}
            else:
                feeds = {names[0]: data.to_numpy()}
        elif isinstance(data, Mapping):
            feeds = {str(k): np.asarray(v) for k, v in data.items()}
        elif isinstance(data, np.ndarray):
            if len(names) != 1:
                raise InvalidParameterValue(
                    f"An array can feed only a single-input ONNX model; this one takes "
                    f"{names}: pass a dict of arrays or a DataFrame with those columns"
                )
            feeds = {names[0]: data}
        else:
            raise InvalidParameterValue(
                "The ONNX model takes a DataFrame, a NumPy array or a dict of arrays, "
                f"not {type(data).__name__}"
            )
        for name, kind in self.inputs:
            # Doubles arrive from JSON and pandas where the graph wants floats (MLflow casts too).
            feed = feeds.get(name)
            if kind == "tensor(float)" and feed is not None and feed.dtype == np.float64:
                feeds[name] = feed.astype(np.float32)
        from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

        try:
            outputs = self.raw_model.run(self.output_names, feeds)
        except InvalidArgument as exc:  # the input, not the model: a client error
            raise InvalidParameterValue(f"The ONNX model refused its input: {exc}") from None
        if isinstance(data, pd.DataFrame):
            return pd.DataFrame(
                {
                    n: np.asarray(o).reshape(-1)
                    for n, o in zip(self.output_names, outputs, strict=True)
                }
            )
        return dict(zip(self.output_names, outputs, strict=True))


def _providers(config: Mapping[str, Any]) -> list[Any]:
    """The recorded providers this onnxruntime has, in order; CPU when none is."""
    import onnxruntime

    declared = config.get("providers") or DEFAULT_PROVIDERS
    if isinstance(declared, str):
        declared = [declared]
    available = set(onnxruntime.get_available_providers())
    usable = []
    for entry in declared:
        name = entry[0] if isinstance(entry, (list, tuple)) and entry else entry
        if isinstance(name, str) and name in available:
            usable.append(tuple(entry) if isinstance(entry, list) else entry)
    return usable or [CPU_PROVIDER]


_THREAD_OPTIONS = ("intra_op_num_threads", "inter_op_num_threads")
_EXECUTION_MODES = ("SEQUENTIAL", "PARALLEL")


def _session_options(options: Mapping[str, Any] | None) -> Any:
    """onnxruntime session options from MLflow's `onnx_session_options` dict."""
    import onnxruntime

    session = onnxruntime.SessionOptions()
    for key, value in (options or {}).items():
        if key in _THREAD_OPTIONS and isinstance(value, int) and value >= 0:
            setattr(session, key, value)
        elif key == "execution_mode" and str(value).upper() in _EXECUTION_MODES:
            session.execution_mode = getattr(onnxruntime.ExecutionMode, f"ORT_{value.upper()}")
        elif key == "graph_optimization_level" and value in (0, 1, 2, 99):
            session.graph_optimization_level = onnxruntime.GraphOptimizationLevel(value)
        elif key == "extra_session_config" and isinstance(value, Mapping):
            for name, setting in value.items():
                session.add_session_config_entry(str(name), str(setting))
        else:
            raise InvalidParameterValue(
                f"Unsupported ONNX session option {key}={value!r}: use intra_op_num_threads or "
                "inter_op_num_threads (>= 0), execution_mode ('sequential' or 'parallel'), "
                "graph_optimization_level (0, 1, 2 or 99) or extra_session_config (a dict)"
            )
    return session


def _load_pyfunc(request: LoadRequest) -> _OnnxPredictor:
    import onnxruntime

    config = request.model.flavors.get(FLAVOR_NAME) or {}
    path = _model_file(request.model_dir, {**config, **request.config})
    session = onnxruntime.InferenceSession(
        str(path),
        sess_options=_session_options(config.get("onnx_session_options")),
        providers=_providers(config),
    )
    return _OnnxPredictor(session)
