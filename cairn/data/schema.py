"""Dataset schemas in MLflow's JSON shapes, inferred from DataFrames and arrays.

Column-based (DataFrames): `[{"type": "long", "name": "x", "required": true}, …]` with MLflow's
type names (boolean, integer, long, float, double, string, binary, datetime). Tensor-based
(arrays): `[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}]`, the
first dimension (the rows) written as -1 so any number of rows matches.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ColSpec:
    type: str
    name: str | None = None
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            d["name"] = self.name
        d["required"] = self.required
        return d


@dataclass(frozen=True, slots=True)
class TensorSpec:
    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "tensor", "tensor-spec": {"dtype": self.dtype}}
        d["tensor-spec"]["shape"] = list(self.shape)
        if self.name is not None:
            d["name"] = self.name
        return d


@dataclass(frozen=True, slots=True)
class Schema:
    inputs: tuple[ColSpec | TensorSpec, ...]

    def to_dict(self) -> list[dict[str, Any]]:
        return [spec.to_dict() for spec in self.inputs]

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def input_names(self) -> list[str | None]:
        return [spec.name for spec in self.inputs]


def infer_pandas_schema(df: Any) -> Schema:
    """A column-based schema; raises ValueError for columns of no supported type."""
    return Schema(tuple(_colspec(str(name), df[name]) for name in df.columns))


def _colspec(name: str, series: Any) -> ColSpec:
    from pandas.api import types

    dtype = series.dtype
    has_missing = bool(series.isna().any())
    if types.is_bool_dtype(dtype):
        return ColSpec("boolean", name, not has_missing)
    if types.is_integer_dtype(dtype):
        small = dtype.itemsize <= (4 if types.is_signed_integer_dtype(dtype) else 2)
        return ColSpec("integer" if small else "long", name, not has_missing)
    if types.is_float_dtype(dtype):
        return ColSpec("float" if dtype.itemsize <= 4 else "double", name)  # NaN is a value
    if types.is_datetime64_any_dtype(dtype):
        return ColSpec("datetime", name, not has_missing)
    values = series.dropna()
    if isinstance(dtype, types.CategoricalDtype):
        values = values.astype(object)
    elif types.is_string_dtype(dtype) and not types.is_object_dtype(dtype):
        return ColSpec("string", name, not has_missing)
    return ColSpec(_object_type(name, values), name, not has_missing)


def _object_type(name: str, values: Any) -> str:
    kinds = {type(v) for v in values.head(1000)}
    checks = (
        ("string", (str,)),
        ("binary", (bytes, bytearray)),
        ("boolean", (bool,)),
        ("long", (int,)),
        ("double", (float, int)),
    )
    for type_name, allowed in checks:
        if kinds and all(issubclass(k, allowed) for k in kinds):
            return type_name
    if not kinds:
        return "string"  # an all-missing column: MLflow's choice too
    raise ValueError(f"Cannot infer a schema type for column {name!r} holding {kinds}")


def infer_tensor_schema(data: Any) -> Schema:
    """A tensor-based schema for an array, or for a dict of named arrays."""
    import numpy as np

    if isinstance(data, Mapping):
        return Schema(tuple(_tensorspec(np.asarray(v), str(k)) for k, v in data.items()))
    return Schema((_tensorspec(np.asarray(data), None),))


def _tensorspec(array: Any, name: str | None) -> TensorSpec:
    shape = (-1, *array.shape[1:]) if array.ndim else ()
    dtype = "object" if array.dtype.hasobject else str(array.dtype)
    return TensorSpec(dtype, tuple(int(d) for d in shape), name)
