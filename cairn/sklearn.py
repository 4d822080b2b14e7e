"""The scikit-learn flavor: `save_model`, `log_model`, `load_model`; loads as pyfunc too.

Models are saved with skops by default: skops rebuilds only types it knows to be safe, so such
a model loads without trust. skops leaves one common type out of its safe list: the tree
structure behind decision trees, random forests and gradient boosting, because a crafted file
could give node indices that scikit-learn later follows without bounds checks. Cairn accepts
it and checks every tree's indices itself right after loading, before the model can predict.
Any other type skops does not trust needs trust, as do pickle and cloudpickle files (opt-in
with `serialization_format=`). The file layout and MLmodel keys are MLflow's.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.exceptions import InvalidParameterValue, ModelIntegrityError
from cairn.models.directory import ModelSpec, save_model_directory

if TYPE_CHECKING:
    from cairn.models.mlmodel import Model
    from cairn.models.signature import ModelSignature
    from cairn.pyfunc.loading import LoadRequest
    from cairn.tracking.model_logging import ModelInfo

FLAVOR_NAME = "sklearn"
LOADER_MODULE = "mlflow.sklearn"
SERIALIZATION_FORMAT_SKOPS = "skops"
SERIALIZATION_FORMAT_CLOUDPICKLE = "cloudpickle"
SERIALIZATION_FORMAT_PICKLE = "pickle"
SUPPORTED_SERIALIZATION_FORMATS = (
    SERIALIZATION_FORMAT_SKOPS,
    SERIALIZATION_FORMAT_CLOUDPICKLE,
    SERIALIZATION_FORMAT_PICKLE,
)
_FILES = {SERIALIZATION_FORMAT_SKOPS: "model.skops"}
_PICKLE_FILE = "model.pkl"
TREE_TYPE = "sklearn.tree._tree.Tree"


def _model_spec(
    sk_model: Any,
    serialization_format: str,
    skops_trusted_types: Sequence[str] | None,
    pyfunc_predict_fn: str,
) -> ModelSpec:
    if serialization_format not in SUPPORTED_SERIALIZATION_FORMATS:
        raise InvalidParameterValue(
            f"Unknown serialization_format {serialization_format!r}; use one of "
            f"{', '.join(SUPPORTED_SERIALIZATION_FORMATS)}"
        )
    predict = getattr(sk_model, pyfunc_predict_fn, None)
    file_name = _FILES.get(serialization_format, _PICKLE_FILE)

    def write(directory: Path) -> Mapping[str, Any]:
        import sklearn

        keys: dict[str, Any] = {
            "pickled_model": file_name,
            "serialization_format": serialization_format,
            "sklearn_version": sklearn.__version__,
        }
        types = _dump(sk_model, directory / file_name, serialization_format)
        if serialization_format == SERIALIZATION_FORMAT_SKOPS:
            keys["skops_trusted_types"] = sorted({*types, *(skops_trusted_types or ())}) or None
        return keys

    modules = ["sklearn", "skops" if serialization_format == "skops" else "cloudpickle"]
    return ModelSpec(
        flavor=FLAVOR_NAME,
        write=write,
        loader_module=LOADER_MODULE if callable(predict) else None,
        pyfunc_config={"model_path": file_name, "predict_fn": pyfunc_predict_fn},
        requirement_modules=modules,
        predict=predict if callable(predict) else None,
    )


def _dump(sk_model: Any, path: Path, serialization_format: str) -> list[str]:
    """Write the estimator; for skops, return the types skops will not trust on its own."""
    if serialization_format == SERIALIZATION_FORMAT_SKOPS:
        import skops.io

        try:
            skops.io.dump(sk_model, path)
        except Exception as exc:
            raise InvalidParameterValue(
                f"skops cannot save this model ({exc}). Classes or functions defined inside "
                "other functions, lambdas and some third-party types cannot be saved with "
                "skops; save with serialization_format='cloudpickle' instead (loading it will "
                "then need trust)."
            ) from exc
        return list(skops.io.get_untrusted_types(file=path))
    with open(path, "wb") as f:
        if serialization_format == SERIALIZATION_FORMAT_CLOUDPICKLE:
            import cloudpickle

            cloudpickle.dump(sk_model, f)
        else:
            import pickle

            pickle.dump(sk_model, f, protocol=pickle.HIGHEST_PROTOCOL)
    return []


def save_model(
    sk_model: Any,
    path: str | os.PathLike[str],
    *,
    serialization_format: str = SERIALIZATION_FORMAT_SKOPS,
    skops_trusted_types: Sequence[str] | None = None,
    pyfunc_predict_fn: str = "predict",
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | str | os.PathLike[str] | None = None,
    extra_pip_requirements: Sequence[str] | str | os.PathLike[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    mlmodel: Model | None = None,
) -> Model:
    """Save a scikit-learn estimator as a model directory at `path` (skops by default).

    `pyfunc_predict_fn` picks the method pyfunc's predict calls (`predict_proba`, …). Without
    `signature`, one is inferred from `input_example` and the model's output on it.
    """
    return save_model_directory(
        path,
        _model_spec(sk_model, serialization_format, skops_trusted_types, pyfunc_predict_fn),
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        code_paths=code_paths,
        metadata=metadata,
        mlmodel=mlmodel,
    )


def log_model(
    sk_model: Any,
    name: str | None = None,
    *,
    artifact_path: str | None = None,
    **options: Any,
) -> ModelInfo:
    """Log an estimator to the active run (or, with no active run, the active experiment) as an
    MLflow 3 logged model. Options: `registered_model_name` (also register it), `tags`,
    `params`, `model_type`, `step`; everything else is `save_model`'s."""
    from cairn.tracking.model_logging import log_flavor_model

    return log_flavor_model(save_model, sk_model, name or artifact_path, options)


def load_model(
    model_uri: str | os.PathLike[str],
    *,
    trust: bool = False,
    dst_path: str | os.PathLike[str] | None = None,
) -> Any:
    """The scikit-learn estimator saved at `model_uri` (any model URI `cairn.pyfunc` takes)."""
    from cairn.pyfunc.loading import LoadRequest, flavor_config, open_model

    model_dir, model, source = open_model(model_uri, dst_path=dst_path)
    config = flavor_config(model, FLAVOR_NAME, source.model_uri)
    return _load_estimator(LoadRequest(model_dir, model, config, trust, source))


class _SklearnPredictor:
    def __init__(self, estimator: Any, predict_fn: str) -> None:
        self.raw_model = estimator
        method = getattr(estimator, predict_fn, None)
        if not callable(method):
            raise InvalidParameterValue(
                f"The model has no method {predict_fn!r} (MLmodel's predict_fn)"
            )
        self._predict = method

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self._predict(data)


def _load_pyfunc(request: LoadRequest) -> _SklearnPredictor:
    config = request.model.flavors.get(FLAVOR_NAME) or {}
    merged = {**config, **request.config}
    if "model_path" in request.config:
        merged["pickled_model"] = request.config["model_path"]
    load = type(request)(request.model_dir, request.model, merged, request.trusted, request.source)
    return _SklearnPredictor(
        _load_estimator(load), str(request.config.get("predict_fn") or "predict")
    )


def _load_estimator(request: LoadRequest) -> Any:
    from cairn.pyfunc.loading import model_file

    config = request.config
    file_name = str(config.get("pickled_model") or config.get("model_path") or "")
    if not file_name:
        raise InvalidParameterValue("The sklearn flavor names no model file (pickled_model)")
    path = model_file(request.model_dir, file_name)
    fmt = str(config.get("serialization_format") or SERIALIZATION_FORMAT_CLOUDPICKLE)
    if fmt == SERIALIZATION_FORMAT_SKOPS:
        return _load_skops(path, request)
    if fmt not in SUPPORTED_SERIALIZATION_FORMATS:
        raise InvalidParameterValue(f"Unknown sklearn serialization_format {fmt!r}")
    request.require_trust(f"the {fmt} scikit-learn model {file_name!r}")
    from cairn.pyfunc.loading import add_code_path

    add_code_path(request)
    with open(path, "rb") as f:
        if fmt == SERIALIZATION_FORMAT_CLOUDPICKLE:
            import cloudpickle

            return cloudpickle.load(f)
        import pickle

        return pickle.load(f)


def _load_skops(path: Path, request: LoadRequest) -> Any:
    with _without_array_api_backends():
        return _load_skops_file(path, request)


def _load_skops_file(path: Path, request: LoadRequest) -> Any:
    import skops.io

    untrusted = list(skops.io.get_untrusted_types(file=path))
    unsafe = sorted(t for t in untrusted if t != TREE_TYPE)
    if unsafe:
        # The model's own skops_trusted_types is not consulted: a crafted file would list the
        # very types it abuses.
        request.require_trust(
            f"the scikit-learn model {path.name!r}, which holds types skops does not trust "
            f"({', '.join(unsafe)})"
        )
    estimator = skops.io.load(path, trusted=untrusted)
    if TREE_TYPE in untrusted:
        check_trees(estimator)
    return estimator


def check_trees(estimator: Any) -> None:
    """Refuse decision trees whose node indices point outside their arrays.

    scikit-learn follows a tree's child and feature indices without bounds checks, so a
    crafted file could make `predict` read stray memory. Every tree reachable from `estimator`
    (forests, boosting stages, pipelines, meta-estimators) is checked."""
    for tree, n_inputs in _find_trees(estimator):
        problem = _tree_problem(tree, n_inputs)
        if problem:
            raise ModelIntegrityError(
                f"Refusing a scikit-learn model with a malformed tree: {problem}"
            )


def _find_trees(root: Any) -> list[tuple[Any, int | None]]:
    """Every tree under `root`, with the input width of the nearest estimator holding it."""
    import numpy as np
    from sklearn.tree._tree import Tree

    found: list[tuple[Any, int | None]] = []
    seen: set[int] = set()
    stack: list[tuple[Any, int | None]] = [(root, None)]
    while stack:
        item, width = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Tree):
            found.append((item, width))
        elif isinstance(item, np.ndarray):
            if item.dtype == object:
                stack.extend((child, width) for child in item.ravel().tolist())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend((child, width) for child in item)
        elif isinstance(item, dict):
            stack.extend((child, width) for child in item.values())
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            attributes = vars(item)
            own = attributes.get("n_features_in_")
            inner = int(own) if isinstance(own, (int, np.integer)) else width
            stack.extend((child, inner) for child in attributes.values())
    return found


def _tree_problem(tree: Any, n_inputs: int | None) -> str | None:
    import numpy as np

    n = int(tree.node_count)
    left, right = np.asarray(tree.children_left), np.asarray(tree.children_right)
    feature, value = np.asarray(tree.feature), np.asarray(tree.value)
    if n < 1 or any(len(a) != n for a in (left, right, feature)) or value.shape[0] != n:
        return f"node arrays do not have node_count={n} entries"
    leaf = left == -1
    if not np.array_equal(leaf, right == -1):
        return "a node has exactly one child"
    inner = ~leaf
    for name, children in (("left", left), ("right", right)):
        kids = children[inner]
        if kids.size and (kids.min() < 1 or kids.max() >= n):
            return f"a {name} child index lies outside 1..{n - 1}"
        # Children come after their parent in scikit-learn's layout: no cycles.
        if kids.size and np.any(kids <= np.nonzero(inner)[0]):
            return f"a {name} child index does not come after its parent"
    n_features = int(tree.n_features)
    if n_inputs is not None:
        n_features = min(n_features, n_inputs)
    feats = feature[inner]
    if feats.size and (feats.min() < 0 or feats.max() >= n_features):
        return f"a split feature index lies outside 0..{n_features - 1}"
    return None


class _RefuseBackends(importlib.abc.MetaPathFinder):
    """Refuses scikit-learn's vendored array-API wrappers of torch, CuPy, Dask and JAX."""

    NAMES = frozenset(
        f"sklearn.externals.array_api_compat.{b}" for b in ("torch", "cupy", "dask", "jax")
    )

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name in self.NAMES:
            raise ImportError(f"{name} is not needed to load a model")


@contextlib.contextmanager
def _without_array_api_backends() -> Iterator[None]:
    """Load time: importing skops runs `sklearn.utils.all_estimators()`, whose package walk
    imports every sub-package, including the array-API wrapper of torch, which imports torch
    (~1.5 s of a ~3.5 s model-server start when torch is installed). `all_estimators` skips
    those modules anyway, and the walk ignores packages that fail to import, so refusing
    them while a model loads changes nothing but the time; afterwards they import as
    usual."""
    finder = _RefuseBackends()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
