"""The PyTorch flavor: `save_model`, `log_model`, `load_model`; loads as pyfunc too.

A module is saved whole with `torch.save` (`data/model.pth`, cloudpickle by default, as
MLflow does), so its class is found again by name on loading and unpickling it runs whatever
code the file names: loading needs trust. A state dict alone cannot be rebuilt without the
class, so Cairn offers no "safe" variant of its own. MLflow 3 saves to `data/model.pt2`
(`torch.export`) by default; Cairn loads those too, with trust as well, because
`torch.export.load` unpickles parts of the archive. The file layout and MLmodel keys are
MLflow's, so each side loads the other's models. Inference runs on the CPU.
"""

from __future__ import annotations

import os
import pickle
import types
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

FLAVOR_NAME = "pytorch"
LOADER_MODULE = "mlflow.pytorch"
DATA_DIR = "data"
MODEL_FILE = "model.pth"
EXPORTED_FILE = "model.pt2"
PICKLE_MODULE_FILE = "pickle_module_info.txt"
# The name MLflow records for its cloudpickle shim; a model Cairn saves with cloudpickle is
# byte-for-byte what that shim writes, so recording the same name lets MLflow load it.
MLFLOW_PICKLE_MODULE = "mlflow.pytorch.pickle_module"
# Pickle modules whose files the standard unpickler reads (cloudpickle writes plain pickle).
_STANDARD_UNPICKLERS = {MLFLOW_PICKLE_MODULE, "cloudpickle", "pickle", "_pickle"}


def _cloudpickle_module() -> Any:
    """What `torch.save(pickle_module=...)` needs from cloudpickle: its pickler, under MLflow's
    name (cloudpickle itself has no `Unpickler`, so MLflow could not load with it)."""
    import cloudpickle

    return types.SimpleNamespace(
        __name__=MLFLOW_PICKLE_MODULE,
        Pickler=cloudpickle.CloudPickler,
        Unpickler=pickle.Unpickler,
        dump=cloudpickle.dump,
        dumps=cloudpickle.dumps,
        load=pickle.load,
        loads=pickle.loads,
    )


def _model_spec(
    pytorch_model: Any, pickle_module: Any, save_kwargs: Mapping[str, Any]
) -> ModelSpec:
    import torch

    if not isinstance(pytorch_model, torch.nn.Module):
        raise InvalidParameterValue(
            f"cairn.pytorch saves a torch.nn.Module, got {type(pytorch_model).__name__}"
        )
    pickler = pickle_module or _cloudpickle_module()

    def write(directory: Path) -> Mapping[str, Any]:
        data = directory / DATA_DIR
        data.mkdir()
        (data / PICKLE_MODULE_FILE).write_text(pickler.__name__)
        if isinstance(pytorch_model, torch.jit.ScriptModule):
            torch.jit.save(pytorch_model, str(data / MODEL_FILE))
        else:
            torch.save(pytorch_model, data / MODEL_FILE, pickle_module=pickler, **save_kwargs)
        return {"model_data": DATA_DIR, "pytorch_version": str(torch.__version__)}

    modules = ["torch"] if pickle_module is not None else ["torch", "cloudpickle"]
    return ModelSpec(
        flavor=FLAVOR_NAME,
        write=write,
        loader_module=LOADER_MODULE,
        pyfunc_config={
            "data": DATA_DIR,
            "pickle_module_name": pickler.__name__,
            "config": {"device": None},
        },
        requirement_modules=modules,
        predict=_TorchPredictor(pytorch_model).predict,
    )


def save_model(
    pytorch_model: Any,
    path: str | os.PathLike[str],
    *,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | str | os.PathLike[str] | None = None,
    extra_pip_requirements: Sequence[str] | str | os.PathLike[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    mlmodel: Model | None = None,
    pickle_module: Any = None,
    **kwargs: Any,
) -> Model:
    """Save a `torch.nn.Module` (or TorchScript module) whole as a model directory at `path`.

    The module's class must be importable where it is loaded: list its source in `code_paths`
    unless an installed package provides it. `pickle_module` replaces cloudpickle for
    `torch.save`; `kwargs` go to `torch.save`. `input_example` may be tensors (saved as
    arrays). Without `signature`, one is inferred from the example and the module's output.
    """
    return save_model_directory(
        path,
        _model_spec(pytorch_model, pickle_module, kwargs),
        signature=signature,
        input_example=_numpy_example(input_example),
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        code_paths=code_paths,
        metadata=metadata,
        mlmodel=mlmodel,
    )


def _numpy_example(example: Any) -> Any:
    """A tensor (or dict of tensors) example as arrays: what input examples can hold."""
    import torch

    if isinstance(example, torch.Tensor):
        return example.detach().cpu().numpy()
    if isinstance(example, Mapping):
        return {k: _numpy_example(v) for k, v in example.items()}
    return example


def log_model(
    pytorch_model: Any,
    name: str | None = None,
    *,
    artifact_path: str | None = None,
    **options: Any,
) -> ModelInfo:
    """Log a module to the active run (or, with no active run, the active experiment) as an
    MLflow 3 logged model. Options: `registered_model_name` (also register it), `tags`,
    `params`, `model_type`, `step`; everything else is `save_model`'s."""
    from cairn.tracking.model_logging import log_flavor_model

    return log_flavor_model(save_model, pytorch_model, name or artifact_path, options)


def load_model(
    model_uri: str | os.PathLike[str],
    *,
    trust: bool = False,
    dst_path: str | os.PathLike[str] | None = None,
    map_location: Any = "cpu",
) -> Any:
    """The module saved at `model_uri` (any model URI `cairn.pyfunc` takes), in eval mode.

    Needs `trust=True` (or a trusted source): the file is a pickle."""
    from cairn.pyfunc.loading import LoadRequest, flavor_config, open_model

    model_dir, model, source = open_model(model_uri, dst_path=dst_path)
    config = flavor_config(model, FLAVOR_NAME, source.model_uri)
    request = LoadRequest(model_dir, model, config, trust, source)
    return _load_module(request, str(config.get("model_data") or DATA_DIR), map_location)


def _load_module(request: LoadRequest, data: str, map_location: Any) -> Any:
    import torch

    from cairn.pyfunc.loading import add_code_path, model_file

    directory = model_file(request.model_dir, data)
    if directory.is_file():  # MLflow also accepts a `data` naming the file itself
        directory, path, name = directory.parent, directory, data
    else:
        path, name = directory / MODEL_FILE, f"{data}/{MODEL_FILE}"
    if not path.exists() and (directory / EXPORTED_FILE).exists():
        request.require_trust(
            f"the exported PyTorch program '{data}/{EXPORTED_FILE}' (torch.export.load "
            "unpickles parts of it)"
        )
        return torch.export.load(str(directory / EXPORTED_FILE)).module()
    if not path.exists():
        raise InvalidParameterValue(
            f"The PyTorch model has neither {data}/{MODEL_FILE} nor {data}/{EXPORTED_FILE}"
        )
    request.require_trust(f"the PyTorch model {name!r}")
    add_code_path(request)
    module = torch.load(
        path,
        map_location=map_location,
        weights_only=False,
        pickle_module=_unpickler(directory / PICKLE_MODULE_FILE),
    )
    module.eval()
    return module


def _unpickler(info: Path) -> Any:
    """The pickle module named in `pickle_module_info.txt`: the standard one for the names
    whose files it reads (MLflow's shim among them, so loading needs no MLflow)."""
    import importlib

    name = info.read_text().strip() if info.exists() else "pickle"
    if name in _STANDARD_UNPICKLERS:
        return pickle
    # Trust was given already: importing the named module runs no more than unpickling would.
    return importlib.import_module(name)


class _TorchPredictor:
    """Runs the module on CPU tensors as MLflow's pytorch wrapper does: a DataFrame in (as
    float32) gives a DataFrame out with the same index, an array gives an array. A dict of
    arrays (a signature of named tensors) is passed as keyword arguments; params are passed
    to `forward` as keyword arguments, as MLflow does."""

    def __init__(self, module: Any) -> None:
        self.raw_model = module

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import pandas as pd
        import torch

        kwargs = dict(params or {})
        if isinstance(data, pd.DataFrame):
            args = [_tensor(data.to_numpy(dtype=np.float32))]
        elif isinstance(data, np.ndarray):
            args = [_tensor(data)]
        elif isinstance(data, Mapping):
            args = []
            kwargs.update({str(k): _tensor(np.asarray(v)) for k, v in data.items()})
        else:
            raise InvalidParameterValue(
                "The PyTorch model takes a DataFrame, a NumPy array or a dict of arrays, "
                f"not {type(data).__name__}"
            )
        with torch.inference_mode():
            output = self.raw_model(*args, **kwargs)
        if isinstance(output, Mapping):
            return {str(k): _numpy(v) for k, v in output.items()}
        result = _numpy(output)
        if isinstance(data, pd.DataFrame):
            return pd.DataFrame(result, index=data.index)
        return result


def _tensor(array: Any) -> Any:
    import torch

    # torch warns about (and must not write into) a read-only array: copy that one.
    return torch.from_numpy(array if array.flags.writeable else array.copy())


def _numpy(value: Any) -> Any:
    import torch

    if not isinstance(value, torch.Tensor):
        raise InvalidParameterValue(
            f"The PyTorch model returned {type(value).__name__}; pyfunc predictions need a "
            "tensor (or a dict of tensors)"
        )
    return value.detach().cpu().numpy()


def _load_pyfunc(request: LoadRequest) -> _TorchPredictor:
    data = str(request.config.get("data") or DATA_DIR)
    return _TorchPredictor(_load_module(request, data, "cpu"))
