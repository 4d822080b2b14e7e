"""Schemas and param schemas: MLflow's JSON shapes, every type, round trips and validation."""

from __future__ import annotations

import json

import pytest

from cairn.exceptions import InvalidParameterValue
from cairn.models import ColSpec, DataType, ParamSchema, ParamSpec, RichType, Schema, TensorSpec

SCALAR_TYPES = ["boolean", "integer", "long", "float", "double", "string", "binary", "datetime"]


@pytest.mark.parametrize("type_name", SCALAR_TYPES)
def test_every_scalar_column_type_round_trips(type_name: str) -> None:
    written = [{"type": type_name, "name": "c", "required": True}]
    schema = Schema.from_json(json.dumps(written))
    assert schema.inputs == [ColSpec(DataType(type_name), "c")]
    assert schema.to_dict() == written
    assert Schema.from_json(schema.to_json()) == schema


def test_column_spec_shape_matches_mlflow() -> None:
    assert ColSpec(DataType.double, "f1").to_dict() == {
        "type": "double",
        "name": "f1",
        "required": True,
    }
    assert ColSpec("string").to_dict() == {"type": "string", "required": True}


def test_optional_columns_keep_required_false() -> None:
    schema = Schema([ColSpec(DataType.long, "a"), ColSpec(DataType.string, "b", required=False)])
    assert Schema.from_json(schema.to_json()).inputs[1] == ColSpec(DataType.string, "b", False)
    assert schema.required_input_names() == ["a"]


def test_required_defaults_to_true_when_absent() -> None:
    assert Schema.from_dict([{"type": "long", "name": "a"}]).inputs[0] == ColSpec("long", "a")


@pytest.mark.parametrize(
    "rich",
    [
        {"type": "array", "items": {"type": "double"}},
        {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
        {
            "type": "object",
            "properties": {
                "a": {"type": "long", "required": True},
                "b": {"type": "string", "required": False},
            },
        },
        {"type": "map", "values": {"type": "double"}},
        {"type": "any"},
    ],
)
def test_rich_types_round_trip_unchanged(rich: dict) -> None:
    written = [{**rich, "name": "x", "required": False}]
    schema = Schema.from_dict(written)
    spec = schema.inputs[0]
    assert isinstance(spec, ColSpec) and isinstance(spec.type, RichType)
    assert spec.type.kind == rich["type"]
    assert spec.name == "x" and spec.required is False
    assert schema.to_dict() == written


def test_tensor_spec_shape_matches_mlflow() -> None:
    spec = TensorSpec("int64", [-1])
    assert spec.to_dict() == {"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}
    named = Schema([TensorSpec("float32", (-1, 28, 28), "image")])
    assert Schema.from_json(named.to_json()) == named
    assert named.is_tensor_spec and named.has_input_names


def test_unknown_type_is_refused_with_its_name() -> None:
    with pytest.raises(InvalidParameterValue, match="'decimal'"):
        Schema.from_dict([{"type": "decimal", "name": "a"}])


def test_a_schema_cannot_mix_columns_and_tensors() -> None:
    with pytest.raises(InvalidParameterValue, match="mix"):
        Schema([ColSpec("long", "a"), TensorSpec("int64", (-1,), "b")])


def test_a_schema_names_all_inputs_or_none() -> None:
    with pytest.raises(InvalidParameterValue, match="named"):
        Schema([ColSpec("long", "a"), ColSpec("long")])


def test_an_empty_schema_is_refused() -> None:
    with pytest.raises(InvalidParameterValue):
        Schema([])


def test_param_schema_round_trips_with_defaults_and_shapes() -> None:
    written = [
        {"name": "k", "type": "long", "default": 1, "shape": None},
        {"name": "temperature", "type": "double", "default": 0.5, "shape": None},
        {"name": "stop", "type": "string", "default": ["a", "b"], "shape": [-1]},
    ]
    schema = ParamSchema.from_json(json.dumps(written))
    assert schema.params[2] == ParamSpec("stop", DataType.string, ["a", "b"], (-1,))
    assert schema.to_dict() == written
    assert ParamSchema.from_json(schema.to_json()) == schema


def test_param_shape_must_be_scalar_or_one_dimensional() -> None:
    with pytest.raises(InvalidParameterValue, match="shape"):
        ParamSpec("k", DataType.long, [[1]], (-1, 2))


def test_param_names_are_unique() -> None:
    with pytest.raises(InvalidParameterValue, match="Duplicated"):
        ParamSchema([ParamSpec("k", DataType.long, 1), ParamSpec("k", DataType.long, 2)])


def test_reprs_name_the_specs() -> None:
    assert "ColSpec" in repr(Schema([ColSpec("long", "a")]))
    assert "ParamSpec" in repr(ParamSchema([ParamSpec("k", DataType.long, 1)]))


def test_data_types_know_their_numpy_dtypes() -> None:
    assert DataType.integer.numpy_dtype == "int32"
    assert DataType.long.numpy_dtype == "int64"
    assert DataType.float.numpy_dtype == "float32"
    assert DataType.double.numpy_dtype == "float64"
