"""Enforcement at predict time: what is converted, what is refused, and what the error says."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from cairn.exceptions import InvalidParameterValue, SchemaEnforcementError
from cairn.models import (
    ColSpec,
    DataType,
    ParamSchema,
    ParamSpec,
    RichType,
    Schema,
    TensorSpec,
    enforce_params,
    enforce_schema,
)

SCHEMA = Schema(
    [
        ColSpec("long", "age"),
        ColSpec("double", "income"),
        ColSpec("string", "city"),
        ColSpec("boolean", "member", required=False),
    ]
)


def test_errors_are_invalid_parameter_values() -> None:
    assert issubclass(SchemaEnforcementError, InvalidParameterValue)
    assert SchemaEnforcementError.error_code == "INVALID_PARAMETER_VALUE"


def test_matching_input_comes_back_in_schema_order() -> None:
    df = pd.DataFrame({"city": ["x"], "income": [1.0], "age": [3], "member": [True]})
    out = enforce_schema(df, SCHEMA)
    assert list(out.columns) == ["age", "income", "city", "member"]
    assert out["age"].dtype == np.int64


def test_missing_required_column_is_named_with_its_type() -> None:
    with pytest.raises(SchemaEnforcementError, match=r"'income' \(double\)"):
        enforce_schema(pd.DataFrame({"age": [1], "city": ["x"]}), SCHEMA)


def test_optional_column_may_be_absent() -> None:
    out = enforce_schema(pd.DataFrame({"age": [1], "income": [2.0], "city": ["x"]}), SCHEMA)
    assert list(out.columns) == ["age", "income", "city"]


def test_extra_columns_are_dropped() -> None:
    df = pd.DataFrame({"age": [1], "income": [2.0], "city": ["x"], "noise": [9]})
    assert "noise" not in enforce_schema(df, SCHEMA).columns


@pytest.mark.parametrize(
    ("values", "target", "dtype"),
    [
        (np.array([1, 2], dtype="int32"), "long", "int64"),
        (np.array([1, 2], dtype="int64"), "double", "float64"),
        (np.array([1, 2], dtype="int32"), "double", "float64"),
        (np.array([1, 2], dtype="int16"), "float", "float32"),
        (np.array([1.5], dtype="float32"), "double", "float64"),
        (np.array([1, 2], dtype="int8"), "integer", "int32"),
    ],
)
def test_safe_widening_is_allowed(values: np.ndarray, target: str, dtype: str) -> None:
    out = enforce_schema(pd.DataFrame({"c": values}), Schema([ColSpec(target, "c")]))
    assert out["c"].dtype == np.dtype(dtype)


@pytest.mark.parametrize(
    ("values", "target"),
    [
        (np.array([1.5, 2.0]), "long"),
        (np.array([1.0, 2.0]), "long"),  # integral floats too: MLflow refuses them as well
        (np.array([1, 2], dtype="int64"), "integer"),
        (np.array([1.5]), "float"),
        (np.array([1, 2]), "string"),
        (np.array([True]), "long"),
        (np.array([1]), "boolean"),
        (np.array(["a"], dtype=object), "double"),
    ],
)
def test_lossy_conversions_are_refused_naming_column_and_type(
    values: np.ndarray, target: str
) -> None:
    with pytest.raises(SchemaEnforcementError, match=f"Column 'c' should be of type {target}"):
        enforce_schema(pd.DataFrame({"c": values}), Schema([ColSpec(target, "c")]))


def test_json_style_object_columns_are_converted_when_safe() -> None:
    df = pd.DataFrame(
        {"n": pd.Series([1, 2], dtype=object), "x": pd.Series([1, 2.5], dtype=object)}
    )
    out = enforce_schema(df, Schema([ColSpec("long", "n"), ColSpec("double", "x")]))
    assert out["n"].dtype == np.int64 and out["x"].tolist() == [1.0, 2.5]


def test_strings_parse_into_datetime_columns() -> None:
    out = enforce_schema(pd.DataFrame({"t": ["2024-01-02"]}), Schema([ColSpec("datetime", "t")]))
    assert out["t"].iloc[0] == pd.Timestamp("2024-01-02")
    with pytest.raises(SchemaEnforcementError, match="'t' should be of type datetime"):
        enforce_schema(pd.DataFrame({"t": ["not a date"]}), Schema([ColSpec("datetime", "t")]))


def test_binary_columns_hold_bytes() -> None:
    schema = Schema([ColSpec("binary", "b")])
    assert enforce_schema(pd.DataFrame({"b": [b"\x00"]}), schema)["b"].iloc[0] == b"\x00"
    with pytest.raises(SchemaEnforcementError, match="binary"):
        enforce_schema(pd.DataFrame({"b": ["text"]}), schema)


def test_missing_values_in_a_required_column_are_refused() -> None:
    with pytest.raises(SchemaEnforcementError, match=r"'s'.*missing values"):
        enforce_schema(pd.DataFrame({"s": ["a", None]}), Schema([ColSpec("string", "s")]))


def test_missing_values_in_an_optional_int_column_use_a_nullable_dtype() -> None:
    df = pd.DataFrame({"n": pd.Series([1, None], dtype=object)})
    out = enforce_schema(df, Schema([ColSpec("long", "n", required=False)]))
    assert str(out["n"].dtype) == "Int64"


def test_nan_is_a_value_of_a_required_double_column() -> None:
    out = enforce_schema(pd.DataFrame({"x": [1.0, np.nan]}), Schema([ColSpec("double", "x")]))
    assert np.isnan(out["x"].iloc[1])


def test_dicts_and_records_are_accepted_as_frames() -> None:
    schema = Schema([ColSpec("long", "a"), ColSpec("string", "b")])
    assert enforce_schema({"a": 1, "b": "x"}, schema).shape == (1, 2)
    assert enforce_schema({"a": [1, 2], "b": ["x", "y"]}, schema).shape == (2, 2)
    assert enforce_schema([{"a": 1, "b": "x"}], schema).shape == (1, 2)


def test_unnamed_columns_match_by_position() -> None:
    out = enforce_schema(["a", "b"], Schema([ColSpec("string")]))
    assert out.iloc[:, 0].tolist() == ["a", "b"]
    with pytest.raises(SchemaEnforcementError, match="column 0 should be of type long"):
        enforce_schema(pd.DataFrame({"x": [1.5]}), Schema([ColSpec("long")]))


def test_rich_columns_pass_through_unchecked() -> None:
    schema = Schema([ColSpec(RichType.array(DataType.double), "v")])
    out = enforce_schema(pd.DataFrame({"v": [[1.0, 2.0]]}), schema)
    assert out["v"].iloc[0] == [1.0, 2.0]


TENSOR = Schema([TensorSpec("float64", (-1, 3))])


def test_tensor_of_right_shape_and_safe_dtype_is_converted() -> None:
    out = enforce_schema(np.ones((4, 3), dtype="int32"), TENSOR)
    assert out.dtype == np.float64 and out.shape == (4, 3)
    assert enforce_schema([[1.0, 2.0, 3.0]], TENSOR).shape == (1, 3)


def test_wrong_tensor_shape_names_the_expected_shape() -> None:
    with pytest.raises(SchemaEnforcementError, match=r"should have shape \[-1, 3\].*got \[2, 4\]"):
        enforce_schema(np.ones((2, 4)), TENSOR)
    with pytest.raises(SchemaEnforcementError, match="shape"):
        enforce_schema(np.ones(3), TENSOR)


def test_lossy_tensor_dtype_is_refused() -> None:
    with pytest.raises(SchemaEnforcementError, match="should have dtype int32, got float64"):
        enforce_schema(np.ones((2,)), Schema([TensorSpec("int32", (-1,))]))


def test_named_tensors_are_checked_by_name() -> None:
    schema = Schema([TensorSpec("float32", (-1, 2), "a"), TensorSpec("int64", (-1,), "b")])
    out = enforce_schema({"a": np.ones((1, 2), dtype="float32"), "b": [1], "c": [0]}, schema)
    assert set(out) == {"a", "b"}
    with pytest.raises(SchemaEnforcementError, match="'b'"):
        enforce_schema({"a": np.ones((1, 2), dtype="float32")}, schema)
    with pytest.raises(SchemaEnforcementError, match="Tensor 'a' should have shape"):
        enforce_schema({"a": np.ones((1, 3), dtype="float32"), "b": [1]}, schema)


PARAMS = ParamSchema(
    [
        ParamSpec("k", DataType.long, 3),
        ParamSpec("temperature", DataType.double, 0.7),
        ParamSpec("stop", DataType.string, ["."], (-1,)),
        ParamSpec("greedy", DataType.boolean, False),
        ParamSpec("since", DataType.datetime, dt.datetime(2024, 1, 1)),
    ]
)


def test_params_missing_from_the_request_take_their_defaults() -> None:
    assert enforce_params({"k": 5}, PARAMS) == {
        "k": 5,
        "temperature": 0.7,
        "stop": ["."],
        "greedy": False,
        "since": dt.datetime(2024, 1, 1),
    }


def test_params_are_converted_safely_and_unknown_ones_dropped() -> None:
    got = enforce_params(
        {"temperature": 1, "since": "2025-02-03T00:00:00", "k": np.int64(2), "other": 1}, PARAMS
    )
    assert got["temperature"] == 1.0 and isinstance(got["temperature"], float)
    assert got["since"] == dt.datetime(2025, 2, 3)
    assert got["k"] == 2 and "other" not in got


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"k": 1.5}, "Param 'k' should be of type long"),
        ({"k": True}, "Param 'k' should be of type long"),
        ({"greedy": "yes"}, "Param 'greedy' should be of type boolean"),
        ({"stop": "."}, "Param 'stop' should be a list of string"),
        ({"stop": [1]}, "Param 'stop' should be of type string"),
        ({"since": "soon"}, "Param 'since' should be of type datetime"),
    ],
)
def test_params_of_the_wrong_type_are_refused_by_name(params: dict, message: str) -> None:
    with pytest.raises(SchemaEnforcementError, match=message):
        enforce_params(params, PARAMS)


def test_without_a_param_schema_params_are_dropped() -> None:
    assert enforce_params({"k": 1}, None) == {}


def test_pandas_nullable_dtypes_follow_the_same_rules() -> None:
    optional = Schema([ColSpec("long", "n", required=False)])
    nullable = pd.DataFrame({"n": pd.array([1, None], dtype="Int64")})
    assert str(enforce_schema(nullable, optional)["n"].dtype) == "Int64"
    widened = enforce_schema(
        pd.DataFrame({"n": pd.array([1, 2], dtype="Int32")}), Schema([ColSpec("double", "n")])
    )
    assert widened["n"].dtype == np.float64
    with pytest.raises(SchemaEnforcementError, match=r"'n'.*required"):
        enforce_schema(nullable, Schema([ColSpec("long", "n")]))


def test_unnamed_rows_match_named_columns_by_position() -> None:
    out = enforce_schema(np.array([[1, 2]]), Schema([ColSpec("long", "a"), ColSpec("double", "b")]))
    assert out.to_dict("records") == [{"a": 1, "b": 2.0}]
    with pytest.raises(SchemaEnforcementError, match="Expected 2 columns"):
        enforce_schema(np.array([[1, 2, 3]]), Schema([ColSpec("long", "a"), ColSpec("long", "b")]))
