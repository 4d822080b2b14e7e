"""MLflow reads the signatures and input examples Cairn writes, and Cairn reads MLflow's.

mlflow-skinny is a test dependency; its signature, schema and example code works without the
full package, so nothing here is skipped."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.models import Model
from mlflow.models import infer_signature as mlflow_infer_signature
from mlflow.models.signature import ModelSignature as MlflowSignature
from mlflow.models.utils import _read_example, _save_example

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
    load_input_example,
    save_input_example,
)

SIGNATURES = [
    ModelSignature(
        Schema(
            [ColSpec(DataType(t), f"c_{t}") for t in DataType]
            + [ColSpec("string", "opt", required=False)]
        ),
        Schema([ColSpec("double")]),
    ),
    ModelSignature(
        Schema([TensorSpec("float32", (-1, 28, 28), "image"), TensorSpec("int64", (-1,), "id")]),
        Schema([TensorSpec("float64", (-1, 10))]),
    ),
    ModelSignature(
        Schema([ColSpec("string", "prompt")]),
        Schema([ColSpec("string")]),
        ParamSchema(
            [
                ParamSpec("k", DataType.long, 3),
                ParamSpec("temperature", DataType.double, 0.7),
                ParamSpec("stop", DataType.string, ["."], (-1,)),
                ParamSpec("greedy", DataType.boolean, False),
                ParamSpec("since", DataType.datetime, dt.datetime(2024, 1, 1)),
            ]
        ),
    ),
    ModelSignature(
        Schema(
            [
                ColSpec(RichType.array(DataType.double), "vec"),
                ColSpec(
                    RichType.from_dict(
                        {
                            "type": "object",
                            "properties": {"a": {"type": "long", "required": True}},
                        }
                    ),
                    "obj",
                ),
            ]
        )
    ),
]


@pytest.mark.parametrize("signature", SIGNATURES, ids=["columns", "tensors", "params", "rich"])
def test_mlflow_reads_what_cairn_writes_and_back(signature: ModelSignature) -> None:
    written = signature.to_dict()
    read_by_mlflow = MlflowSignature.from_dict(written)
    assert ModelSignature.from_dict(read_by_mlflow.to_dict()) == signature
    # Same schema either way: MLflow's reading of Cairn's text equals its own writing of it.
    assert MlflowSignature.from_dict(ModelSignature.from_dict(written).to_dict()) == read_by_mlflow


@pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer")  # MLflow's advice
def test_cairn_infers_the_signature_mlflow_infers() -> None:
    df = pd.DataFrame(
        {
            "i": np.array([1, 2], dtype="int32"),
            "n": [1, 2],
            "x": [0.5, 1.5],
            "s": ["a", None],
            "b": [True, False],
        }
    )
    output = np.array([0.1, 0.2])
    params = {"k": 1, "alpha": 0.5, "stop": ["a"], "flag": True}
    ours = infer_signature(df, output, params)
    theirs = mlflow_infer_signature(df, output, params)
    assert ModelSignature.from_dict(theirs.to_dict()) == ours


def test_cairn_infers_mlflow_tensor_signatures() -> None:
    data = {"a": np.zeros((3, 2), dtype="float32"), "b": np.array([1, 2, 3])}
    theirs = mlflow_infer_signature(data)
    assert ModelSignature.from_dict(theirs.to_dict()) == infer_signature(data)


def test_mlflow_reads_cairn_input_examples(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    for example in (df, np.array([[1.0, 2.0]]), {"a": np.array([1]), "b": np.zeros((1, 2))}):
        model = Model()
        model.saved_input_example_info = save_input_example(tmp_path, example)
        read = _read_example(model, str(tmp_path))
        if isinstance(example, pd.DataFrame):
            pd.testing.assert_frame_equal(read, example)
        elif isinstance(example, dict):
            assert {k: v.tolist() for k, v in read.items()} == {
                k: v.tolist() for k, v in example.items()
            }
        else:
            np.testing.assert_array_equal(read, example)


@pytest.mark.filterwarnings("ignore:Operation with range")  # inside MLflow, on pandas 3
def test_cairn_reads_mlflow_input_examples(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    model = Model()
    _save_example(model, df, str(tmp_path))
    pd.testing.assert_frame_equal(load_input_example(tmp_path, model.saved_input_example_info), df)
    model = Model()
    _save_example(model, np.array([[1.0, 2.0]]), str(tmp_path))
    loaded = load_input_example(tmp_path, model.saved_input_example_info)
    np.testing.assert_array_equal(loaded, np.array([[1.0, 2.0]]))
