"""A model's signature (inputs, outputs, params) and its inference from example data.

In the MLmodel file the signature is a map whose three values are JSON *strings* (or null):

    signature:
      inputs: '[{"type": "double", "name": "x", "required": true}]'
      outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]'
      params: '[{"name": "k", "type": "long", "default": 1, "shape": null}]'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cairn.exceptions import InvalidParameterValue
from cairn.models.schema import (
    ColSpec,
    DataType,
    ParamSchema,
    ParamSpec,
    RichType,
    Schema,
    TensorSpec,
)


class ModelSignature:
    """What a model takes and returns: an input schema, an optional output schema and an
    optional schema of inference parameters."""

    __slots__ = ("inputs", "outputs", "params")

    def __init__(
        self,
        inputs: Schema | None = None,
        outputs: Schema | None = None,
        params: ParamSchema | None = None,
    ) -> None:
        if inputs is None and outputs is None:
            raise InvalidParameterValue("A signature needs inputs or outputs")
        self.inputs = inputs
        self.outputs = outputs
        self.params = params

    def to_dict(self) -> dict[str, str | None]:
        """The MLmodel `signature` map: each value a JSON string, or None."""
        return {
            "inputs": self.inputs.to_json() if self.inputs else None,
            "outputs": self.outputs.to_json() if self.outputs else None,
            "params": self.params.to_json() if self.params else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelSignature:
        """Read an MLmodel `signature` map (values may be JSON strings or already parsed)."""

        def parse(key: str, kind: type[Schema] | type[ParamSchema]) -> Any:
            value = d.get(key)
            if value is None:
                return None
            return kind.from_json(value) if isinstance(value, str) else kind.from_dict(value)

        return cls(parse("inputs", Schema), parse("outputs", Schema), parse("params", ParamSchema))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ModelSignature)
            and self.inputs == other.inputs
            and self.outputs == other.outputs
            and self.params == other.params
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ModelSignature(inputs={self.inputs!r}, outputs={self.outputs!r}, "
            f"params={self.params!r})"
        )


def infer_signature(
    model_input: Any = None,
    model_output: Any = None,
    params: Mapping[str, Any] | None = None,
) -> ModelSignature:
    """A signature describing example data.

    `model_input` / `model_output` may be a pandas DataFrame or Series (column specs), a NumPy
    array (one tensor, first dimension -1), a dict of arrays (named tensors), a dict of
    scalars or lists (one column each), a list of dicts (rows), a list of strings, or a single
    scalar. `params` maps each parameter name to its default; a list default gives shape (-1,).
    """
    return ModelSignature(
        infer_schema(model_input) if model_input is not None else None,
        infer_schema(model_output) if model_output is not None else None,
        infer_param_schema(params) if params else None,
    )


def infer_schema(data: Any) -> Schema:
    """The schema of one piece of example data (see `infer_signature` for what is accepted)."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return _frame_schema(data)
    if isinstance(data, pd.Series):
        name = None if data.name is None else str(data.name)
        spec = _frame_schema(data.to_frame(name="_")).inputs[0]
        assert isinstance(spec, ColSpec)
        return Schema([ColSpec(spec.type, name, spec.required)])
    if isinstance(data, np.ndarray):
        return Schema([_tensor_spec(data, None)])
    if isinstance(data, Mapping):
        if not data:
            raise InvalidParameterValue("Cannot infer a schema from an empty dict")
        if all(isinstance(v, np.ndarray) for v in data.values()):
            return Schema([_tensor_spec(v, str(k)) for k, v in data.items()])
        return Schema([ColSpec(_value_type(v, str(k)), str(k)) for k, v in data.items()])
    if isinstance(data, (list, tuple)):
        if not data:
            raise InvalidParameterValue("Cannot infer a schema from an empty list")
        if all(isinstance(row, Mapping) for row in data):
            return _frame_schema(pd.DataFrame(list(data)))
        if all(isinstance(v, str) for v in data):
            return Schema([ColSpec(DataType.string)])
        return Schema([_tensor_spec(np.asarray(data), None)])
    return Schema([ColSpec(DataType.of_value(data))])


def _frame_schema(df: Any) -> Schema:
    from cairn.data.schema import ColSpec as DataColSpec
    from cairn.data.schema import infer_pandas_schema

    try:
        inferred = infer_pandas_schema(df)
    except ValueError as exc:
        raise InvalidParameterValue(str(exc)) from None
    specs = []
    for spec in inferred.inputs:
        assert isinstance(spec, DataColSpec)
        specs.append(ColSpec(DataType(spec.type), spec.name, spec.required))
    return Schema(specs)


def _tensor_spec(array: Any, name: str | None) -> TensorSpec:
    shape = (-1, *array.shape[1:]) if array.ndim else ()
    dtype = "object" if array.dtype.hasobject else str(array.dtype)
    return TensorSpec(dtype, shape, name)


def _value_type(value: Any, name: str) -> DataType | RichType:
    """A dict value's column type: a scalar's own type, or an array of its elements' type."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        items = {DataType.of_value(v) for v in value}
        if len(items) != 1:
            raise InvalidParameterValue(
                f"Cannot infer a type for {name!r}: its elements are of types {sorted(items)}"
            )
        return RichType.array(items.pop())
    return DataType.of_value(value)


def infer_param_schema(params: Mapping[str, Any]) -> ParamSchema:
    """One `ParamSpec` per entry, its value kept as the default."""
    specs = []
    for name, value in params.items():
        if value is None:
            raise InvalidParameterValue(f"Param {name!r}: cannot infer a type from None")
        if isinstance(value, (list, tuple)):
            types = {DataType.of_value(v) for v in value}
            if len(types) != 1:
                raise InvalidParameterValue(
                    f"Param {name!r}: a list default needs elements of one type, got "
                    f"{sorted(t.value for t in types) or 'an empty list'}"
                )
            specs.append(ParamSpec(name, types.pop(), list(value), (-1,)))
        else:
            specs.append(ParamSpec(name, DataType.of_value(value), value))
    return ParamSchema(specs)
