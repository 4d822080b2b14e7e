"""`NumpyDataset` and `from_numpy`: arrays (or dicts of arrays) described for `log_input`."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from cairn.data.dataset import Dataset
from cairn.data.digest import array_digest
from cairn.data.schema import Schema, infer_tensor_schema
from cairn.data.sources import DatasetSource, resolve_source
from cairn.exceptions import InvalidParameterValue


class NumpyDataset(Dataset):
    """Features as an array or a dict of named arrays, with optional targets."""

    def __init__(
        self,
        features: Any,
        source: DatasetSource,
        targets: Any = None,
        name: str | None = None,
        digest: str | None = None,
    ) -> None:
        self._features = _as_arrays(features)
        if isinstance(self._features, dict) and not self._features:
            raise InvalidParameterValue("NumpyDataset features must not be an empty dict.")
        self._targets = None if targets is None else _as_arrays(targets)
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        return array_digest(self._features, self._targets)

    @property
    def features(self) -> Any:
        return self._features

    @property
    def targets(self) -> Any:
        return self._targets

    @property
    def profile(self) -> dict[str, Any]:
        first = _first(self._features)
        profile: dict[str, Any] = {
            "num_rows": int(first.shape[0]) if first.ndim else 1,
            "num_elements": _size(self._features),
            "features_shape": _shapes(self._features),
        }
        if self._targets is not None:
            profile["targets_shape"] = _shapes(self._targets)
        return profile

    @cached_property
    def schema(self) -> dict[str, Schema | None]:
        """Tensor specs of the features and the targets."""
        targets = None if self._targets is None else infer_tensor_schema(self._targets)
        return {"features": infer_tensor_schema(self._features), "targets": targets}

    def schema_json(self) -> str:
        specs = {k: None if v is None else v.to_json() for k, v in self.schema.items()}
        return json.dumps({"mlflow_tensorspec": specs})


def from_numpy(
    features: Any,
    source: DatasetSource | str | os.PathLike[str] | None = None,
    targets: Any = None,
    name: str | None = None,
    digest: str | None = None,
) -> NumpyDataset:
    """Describe array features (and targets) for `log_input`; `source` as in `from_pandas`."""
    return NumpyDataset(features, resolve_source(source), targets, name, digest)


def _as_arrays(data: Any) -> Any:
    import numpy as np

    if isinstance(data, Mapping):
        return {str(k): np.asarray(v) for k, v in data.items()}
    return np.asarray(data)


def _first(data: Any) -> Any:
    return next(iter(data.values())) if isinstance(data, dict) else data


def _size(data: Any) -> int:
    if isinstance(data, dict):
        return sum(int(v.size) for v in data.values())
    return int(data.size)


def _shapes(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: list(v.shape) for k, v in data.items()}
    return list(data.shape)
