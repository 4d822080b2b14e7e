"""Cairn: an open-source ML lifecycle platform, wire-compatible with MLflow.

The fluent API mirrors MLflow's, so `import cairn as mlflow` runs a typical training script
unchanged:

    import cairn

    with cairn.start_run(run_name="baseline"):
        cairn.log_params({"lr": 0.01, "epochs": 10})
        cairn.log_metric("loss", 0.42, step=1)

`import cairn` must stay fast: nothing here imports pandas, NumPy or SQLAlchemy. Heavy
submodules (`cairn.data`, `cairn.artifacts`, …) load on first attribute access.
"""

import importlib as _importlib
from types import ModuleType as _ModuleType

from cairn import entities, exceptions
from cairn.exceptions import CairnException, MlflowException
from cairn.tracking.client import CairnClient, MlflowClient
from cairn.tracking.fluent import (
    active_run,
    create_experiment,
    delete_experiment,
    delete_run,
    end_run,
    get_experiment,
    get_experiment_by_name,
    get_parent_run,
    get_run,
    last_active_run,
    restore_run,
    set_experiment,
    set_experiment_tag,
    set_experiment_tags,
    start_run,
)
from cairn.tracking.fluent_logging import (
    delete_tag,
    flush,
    flush_async_logging,
    get_artifact_uri,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    set_tag,
    set_tags,
)
from cairn.tracking.fluent_registry import register_model
from cairn.tracking.fluent_search import search_experiments, search_runs
from cairn.tracking.run_context import ActiveRun
from cairn.tracking.tracking_uri import get_tracking_uri, is_tracking_uri_set, set_tracking_uri
from cairn.version import __version__

# Submodules reachable as attributes (`cairn.data.from_pandas(...)`) without importing them
# here: each pulls in heavy dependencies or is rarely needed.
_LAZY_SUBMODULES = frozenset(
    {
        "artifacts",
        "data",
        "models",
        "onnx",
        "projects",
        "pyfunc",
        "pytorch",
        "registry",
        "search",
        "settings",
        "sklearn",
        "store",
        "tracking",
    }
)


def __getattr__(name: str) -> _ModuleType:
    if name in _LAZY_SUBMODULES:
        return _importlib.import_module(f"cairn.{name}")
    raise AttributeError(f"module 'cairn' has no attribute {name!r}")


__all__ = [
    "ActiveRun",
    "CairnClient",
    "CairnException",
    "MlflowClient",
    "MlflowException",
    "__version__",
    "active_run",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "entities",
    "exceptions",
    "flush",
    "flush_async_logging",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_parent_run",
    "get_run",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "register_model",
    "restore_run",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
