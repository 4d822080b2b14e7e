"""Signatures: the MLmodel `signature` map and inference from example data."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from cairn.exceptions import InvalidParameterValue
from cairn.models import (
    ColSpec,
    DataType,
    ModelSignature,
    ParamSchema,
    ParamSpec,
    RichType,
    Schema,
    TensorSpec,
    infer_signature,
)


def test_to_dict_gives_json_strings_or_none() -> None:
    sig = ModelSignature(Schema([ColSpec("double", "f1")]))
    d = sig.to_dict()
    assert d == {
        "inputs": '[{"type": "double", "name": "f1", "required": true}]',
        "outputs": None,
        "params": None,
    }
    assert ModelSignature.from_dict(d) == sig


def test_from_dict_accepts_parsed_lists_too() -> None:
    sig = ModelSignature.from_dict(
        {"inputs": [{"type": "long", "name": "a"}], "outputs": None, "params": None}
    )
    assert sig.inputs == Schema([ColSpec("long", "a")])


def test_full_signature_round_trips() -> None:
    sig = ModelSignature(
        Schema([ColSpec("long", "a"), ColSpec("string", "b", required=False)]),
        Schema([TensorSpec("float64", (-1,))]),
        ParamSchema([ParamSpec("k", DataType.long, 3)]),
    )
    again = ModelSignature.from_dict(json.loads(json.dumps(sig.to_dict())))
    assert again == sig
    assert "ModelSignature(" in repr(again)


def test_a_signature_needs_inputs_or_outputs() -> None:
    with pytest.raises(InvalidParameterValue):
        ModelSignature()


def test_infer_from_a_dataframe_gives_one_column_per_column() -> None:
    df = pd.DataFrame(
        {
            "i32": np.array([1, 2], dtype="int32"),
            "i64": [1, 2],
            "f32": np.array([0.5, 1.5], dtype="float32"),
            "f64": [0.5, 1.5],
            "s": ["a", "b"],
            "b": [True, False],
            "bin": [b"x", b"y"],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )
    sig = infer_signature(df)
    assert sig.inputs == Schema(
        [
            ColSpec("integer", "i32"),
            ColSpec("long", "i64"),
            ColSpec("float", "f32"),
            ColSpec("double", "f64"),
            ColSpec("string", "s"),
            ColSpec("boolean", "b"),
            ColSpec("binary", "bin"),
            ColSpec("datetime", "t"),
        ]
    )
    assert sig.outputs is None and sig.params is None


def test_columns_with_missing_values_are_inferred_optional() -> None:
    sig = infer_signature(pd.DataFrame({"s": ["a", None]}))
    assert sig.inputs == Schema([ColSpec("string", "s", required=False)])


def test_infer_from_a_series_names_the_column() -> None:
    assert infer_signature(pd.Series([1.0], name="y")).inputs == Schema([ColSpec("double", "y")])
    assert infer_signature(pd.Series(["a"])).inputs == Schema([ColSpec("string")])


def test_infer_from_an_array_gives_a_tensor_with_any_batch_size() -> None:
    sig = infer_signature(np.zeros((5, 3), dtype="float32"), np.array([1, 2]))
    assert sig.inputs == Schema([TensorSpec("float32", (-1, 3))])
    assert sig.outputs == Schema([TensorSpec("int64", (-1,))])


def test_infer_from_a_dict_of_arrays_gives_named_tensors() -> None:
    sig = infer_signature({"image": np.zeros((2, 4, 4)), "mask": np.ones((2, 4), dtype=bool)})
    assert sig.inputs == Schema(
        [TensorSpec("float64", (-1, 4, 4), "image"), TensorSpec("bool", (-1, 4), "mask")]
    )


def test_infer_from_a_dict_of_values_gives_one_column_per_key() -> None:
    sig = infer_signature({"question": "why?", "top_k": 3, "weights": [0.1, 0.2]})
    assert sig.inputs == Schema(
        [
            ColSpec("string", "question"),
            ColSpec("long", "top_k"),
            ColSpec(RichType.array(DataType.double), "weights"),
        ]
    )


def test_infer_from_a_list_of_dicts_treats_them_as_rows() -> None:
    sig = infer_signature([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    assert sig.inputs == Schema([ColSpec("long", "a"), ColSpec("string", "b")])


def test_infer_from_strings_and_scalars() -> None:
    assert infer_signature("hello").inputs == Schema([ColSpec("string")])
    assert infer_signature(["a", "b"]).inputs == Schema([ColSpec("string")])
    assert infer_signature(1.5).inputs == Schema([ColSpec("double")])
    assert infer_signature(True).inputs == Schema([ColSpec("boolean")])
    assert infer_signature([[1, 2], [3, 4]]).inputs == Schema([TensorSpec("int64", (-1, 2))])


def test_infer_params_gives_types_defaults_and_list_shapes() -> None:
    when = dt.datetime(2024, 1, 1)
    sig = infer_signature(
        "x", "y", {"k": 3, "alpha": 0.5, "greedy": False, "stop": ["\n"], "at": when}
    )
    assert sig.params == ParamSchema(
        [
            ParamSpec("k", DataType.long, 3),
            ParamSpec("alpha", DataType.double, 0.5),
            ParamSpec("greedy", DataType.boolean, False),
            ParamSpec("stop", DataType.string, ["\n"], (-1,)),
            ParamSpec("at", DataType.datetime, when),
        ]
    )
    written = json.loads(sig.to_dict()["params"] or "")
    assert written[4]["default"] == "2024-01-01T00:00:00"


@pytest.mark.parametrize("bad", [None, [], [1, "a"]])
def test_params_of_no_single_type_are_refused_by_name(bad: object) -> None:
    with pytest.raises(InvalidParameterValue, match="'p'"):
        infer_signature("x", params={"p": bad})


def test_uninferable_input_is_refused() -> None:
    with pytest.raises(InvalidParameterValue):
        infer_signature(object())
    with pytest.raises(InvalidParameterValue):
        infer_signature({})
