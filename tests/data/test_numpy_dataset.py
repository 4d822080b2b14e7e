"""from_numpy: arrays and dicts of arrays, with tensor-spec schemas."""

from __future__ import annotations

import json

import pytest

from cairn.data import NumpyDataset, from_numpy
from cairn.exceptions import InvalidParameterValue

np = pytest.importorskip("numpy")


def test_schema_profile_and_digest_of_features_and_targets() -> None:
    features = np.zeros((10, 4), dtype="float32")
    targets = np.arange(10)
    ds = from_numpy(features, source="x.npy", targets=targets, name="arr")

    assert isinstance(ds, NumpyDataset)
    schema = json.loads(ds.to_dict()["schema"])["mlflow_tensorspec"]
    assert json.loads(schema["features"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}
    ]
    assert json.loads(schema["targets"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}
    ]
    assert ds.profile == {
        "num_rows": 10,
        "num_elements": 40,
        "features_shape": [10, 4],
        "targets_shape": [10],
    }
    assert len(ds.digest) == 8
    assert ds.to_entity().source_type == "local"


def test_digest_depends_on_values_shape_dtype_and_targets() -> None:
    base = from_numpy(np.zeros((3, 2))).digest
    assert from_numpy(np.zeros((3, 2))).digest == base
    assert from_numpy(np.ones((3, 2))).digest != base
    assert from_numpy(np.zeros((2, 3))).digest != base
    assert from_numpy(np.zeros((3, 2), dtype="float32")).digest != base
    assert from_numpy(np.zeros((3, 2)), targets=np.zeros(3)).digest != base


def test_dict_features_get_named_specs() -> None:
    ds = from_numpy({"a": np.zeros((5, 2)), "b": [1, 2, 3, 4, 5]})
    specs = json.loads(json.loads(ds.to_dict()["schema"])["mlflow_tensorspec"]["features"])
    assert [s["name"] for s in specs] == ["a", "b"]
    assert ds.profile["num_rows"] == 5
    assert ds.profile["num_elements"] == 15
    assert json.loads(ds.to_dict()["schema"])["mlflow_tensorspec"]["targets"] is None


def test_object_arrays_get_a_stable_digest() -> None:
    a = from_numpy(np.array(["x", None, 3], dtype=object)).digest
    assert a == from_numpy(np.array(["x", None, 3], dtype=object)).digest


def test_empty_dict_is_refused() -> None:
    with pytest.raises(InvalidParameterValue):
        from_numpy({})
