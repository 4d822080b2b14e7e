"""Input examples: the files MLflow writes, read back, and checked against the signature."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cairn.exceptions import InvalidParameterValue, SchemaEnforcementError
from cairn.models import (
    infer_signature,
    load_input_example,
    save_input_example,
    validate_input_example,
)


def test_a_dataframe_is_saved_in_split_orient(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    info = save_input_example(tmp_path, df)
    assert info == {
        "artifact_path": "input_example.json",
        "type": "dataframe",
        "pandas_orient": "split",
        "serving_input_path": "serving_input_example.json",
    }
    assert json.loads((tmp_path / "input_example.json").read_text()) == {
        "columns": ["a", "b"],
        "data": [[1, "x"], [2, "y"]],
    }
    serving = json.loads((tmp_path / "serving_input_example.json").read_text())
    assert serving == {"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"], [2, "y"]]}}
    pd.testing.assert_frame_equal(load_input_example(tmp_path, info), df)


def test_records_and_dicts_of_scalars_are_saved_as_frames(tmp_path: Path) -> None:
    assert save_input_example(tmp_path, [{"a": 1}])["type"] == "dataframe"
    info = save_input_example(tmp_path, {"q": "hi", "n": 2})
    assert load_input_example(tmp_path, info).to_dict("records") == [{"q": "hi", "n": 2}]


def test_an_array_is_saved_as_tensor_inputs(tmp_path: Path) -> None:
    info = save_input_example(tmp_path, np.array([[1.0, 2.0]]))
    assert info["type"] == "ndarray"
    assert json.loads((tmp_path / "input_example.json").read_text()) == [[1.0, 2.0]]
    serving = json.loads((tmp_path / "serving_input_example.json").read_text())
    assert serving == {"inputs": [[1.0, 2.0]]}
    np.testing.assert_array_equal(load_input_example(tmp_path, info), np.array([[1.0, 2.0]]))


def test_a_dict_of_arrays_is_saved_as_named_tensors(tmp_path: Path) -> None:
    info = save_input_example(tmp_path, {"a": np.array([1, 2]), "b": np.zeros((1, 2))})
    loaded = load_input_example(tmp_path, info)
    assert set(loaded) == {"a", "b"} and loaded["b"].shape == (1, 2)


def test_mlflow_2_tensor_examples_under_inputs_are_read(tmp_path: Path) -> None:
    (tmp_path / "input_example.json").write_text('{"inputs": [[1, 2]]}')
    loaded = load_input_example(
        tmp_path, {"artifact_path": "input_example.json", "type": "ndarray"}
    )
    assert loaded.shape == (1, 2)


def test_other_json_is_saved_as_it_is(tmp_path: Path) -> None:
    info = save_input_example(tmp_path, ["a", "b"])
    assert info["type"] == "json_object"
    assert load_input_example(tmp_path, info) == ["a", "b"]
    with pytest.raises(InvalidParameterValue):
        save_input_example(tmp_path, object())


def test_an_example_is_validated_against_the_signature() -> None:
    df = pd.DataFrame({"a": [1], "b": ["x"]})
    signature = infer_signature(df)
    validate_input_example(df, signature)
    with pytest.raises(SchemaEnforcementError, match="'b'"):
        validate_input_example(pd.DataFrame({"a": [1]}), signature)


def test_a_loaded_example_still_matches_the_inferred_signature(tmp_path: Path) -> None:
    df = pd.DataFrame({"x": [0.5, 1.5], "n": [1, 2], "t": pd.to_datetime(["2024-01-01"] * 2)})
    signature = infer_signature(df)
    info = save_input_example(tmp_path, df)
    validate_input_example(load_input_example(tmp_path, info), signature)
