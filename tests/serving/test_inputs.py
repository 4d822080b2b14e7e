"""Request bodies → model input: every format, and a precise 400 for every kind of bad body."""

from __future__ import annotations

import io

import numpy as np
import orjson
import pandas as pd
import pytest

from cairn.exceptions import BadRequest
from cairn.models import ColSpec, DataType, ModelSignature, Schema, TensorSpec
from cairn.serving.inputs import BodyFormat, body_format, parse_body, parse_json


def _json(value: object, signature: ModelSignature | None = None):
    return parse_json(orjson.dumps(value), signature)


COLUMNS = ModelSignature(Schema([ColSpec(DataType.double, "a"), ColSpec(DataType.string, "b")]))
TENSOR = ModelSignature(Schema([TensorSpec("float32", (-1, 2))]))
NAMED_TENSORS = ModelSignature(
    Schema([TensorSpec("float32", (-1, 2), "x"), TensorSpec("int8", (-1,), "y")])
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/json", BodyFormat.JSON),
        ("Application/JSON; charset=UTF-8", BodyFormat.JSON),
        ("application/json;charset=utf8", BodyFormat.JSON),
        ("text/csv", BodyFormat.CSV),
        ("text/csv; charset=utf-8", BodyFormat.CSV),
        ("application/vnd.apache.parquet", BodyFormat.PARQUET),
        ("application/json; charset=latin-1", None),
        ("application/json; format=pandas-split", None),
        ("application/vnd.apache.parquet; charset=utf-8", None),
        ("text/plain", None),
        ("", None),
    ],
)
def test_content_types(header: str, expected: BodyFormat | None) -> None:
    assert body_format(header) is expected


def test_dataframe_split() -> None:
    parsed = _json(
        {
            "dataframe_split": {
                "columns": ["a", "b"],
                "data": [[1.5, "x"], [2.0, "y"]],
                "index": [7, 8],
            }
        }
    )
    assert isinstance(parsed.data, pd.DataFrame)
    assert list(parsed.data.columns) == ["a", "b"] and list(parsed.data.index) == [7, 8]
    assert parsed.rows == 2 and parsed.params is None


def test_dataframe_records_and_params() -> None:
    parsed = _json({"dataframe_records": [{"a": 1.0, "b": "x"}], "params": {"k": 3}})
    assert parsed.data.to_dict(orient="records") == [{"a": 1.0, "b": "x"}]
    assert parsed.params == {"k": 3} and parsed.rows == 1


def test_instances_list_is_an_array_without_signature() -> None:
    parsed = _json({"instances": [[1, 2], [3, 4], [5, 6]]})
    assert isinstance(parsed.data, np.ndarray) and parsed.data.shape == (3, 2)
    assert parsed.rows == 3


def test_inputs_take_the_tensor_dtype() -> None:
    parsed = _json({"inputs": [[1, 2.5], [3, 4]]}, TENSOR)
    assert parsed.data.dtype == np.float32


def test_named_tensors_from_dict_and_rows() -> None:
    by_dict = _json({"inputs": {"x": [[1, 2]], "y": [3]}}, NAMED_TENSORS)
    assert by_dict.data["x"].dtype == np.float32 and by_dict.data["y"].dtype == np.int8
    by_rows = _json({"instances": [{"x": [1, 2], "y": 3}, {"x": [3, 4], "y": 5}]}, NAMED_TENSORS)
    assert by_rows.data["x"].shape == (2, 2) and by_rows.rows == 2


def test_int_out_of_range_keeps_its_dtype_for_enforcement_to_refuse() -> None:
    parsed = _json({"inputs": {"x": [[1, 2]], "y": [300]}}, NAMED_TENSORS)
    assert parsed.data["y"].dtype == np.int64


def test_instances_rows_become_a_frame_for_column_models() -> None:
    parsed = _json({"instances": [{"a": 1.0, "b": "x"}]}, COLUMNS)
    assert isinstance(parsed.data, pd.DataFrame)
    positional = _json({"inputs": [[1.0, "x"]]}, COLUMNS)
    assert positional.data == [[1.0, "x"]] and positional.rows == 1
    columnar = _json({"inputs": {"a": [1.0], "b": ["x"]}}, COLUMNS)
    assert columnar.data == {"a": [1.0], "b": ["x"]}


def test_csv_and_parquet() -> None:
    frame = pd.DataFrame({"a": [1.5, 2.5], "b": ["x", "y"]})
    csv = parse_body(frame.to_csv(index=False).encode(), BodyFormat.CSV)
    pd.testing.assert_frame_equal(csv.data, frame)
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    parquet = parse_body(buffer.getvalue(), BodyFormat.PARQUET)
    pd.testing.assert_frame_equal(parquet.data, frame)
    assert csv.rows == parquet.rows == 2 and csv.payload is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "Invalid JSON input"),
        (b"[1, 2]", "must be an object with one of the keys"),
        (
            b"{}",
            "exactly one of 'dataframe_split', 'dataframe_records', 'instances', 'inputs', "
            "got none",
        ),
        (b'{"instances": [1], "inputs": [1]}', "got 2: 'instances', 'inputs'"),
        (b'{"inputs": [1], "parms": {}}', "Unknown key 'parms'"),
        (b'{"inputs": [1], "params": [1]}', "'params' must be a JSON object, got a list"),
        (b'{"dataframe_split": [[1]]}', "'dataframe_split' must be an object"),
        (b'{"dataframe_split": {"columns": ["a"]}}', "needs a 'data' list"),
        (
            b'{"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}',
            "row 0 should have 1 values",
        ),
        (b'{"dataframe_split": {"data": [[1]], "extra": 1}}', "unknown key(s) 'extra'"),
        (b'{"dataframe_records": {"a": 1}}', "'dataframe_records' must be a list of objects"),
        (b'{"dataframe_records": [{"a": 1}, 2]}', "'dataframe_records' row 1 must be an object"),
        (b'{"inputs": "text"}', "'inputs' must be a list or an object, got a string"),
        (b'{"inputs": [[1, 2], [3]]}', "not a rectangular array"),
        (b'{"instances": [{"a": 1}, 3]}', "mixes objects and other values"),
        (b'{"dataframe_split": {"columns": ["a"], "data": []}}', "holds no rows"),
        (b'{"dataframe_records": []}', "'dataframe_records' holds no rows"),
        (b'{"inputs": []}', "'inputs' holds no rows"),
    ],
)
def test_bad_json_bodies_name_the_problem(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_json(body)
    assert message in caught.value.message
    assert caught.value.http_status == 400 and caught.value.error_code == "BAD_REQUEST"


def test_bad_csv_and_parquet() -> None:
    with pytest.raises(BadRequest, match="CSV body is empty"):
        parse_body(b"", BodyFormat.CSV)
    with pytest.raises(BadRequest, match="Invalid CSV input"):
        parse_body(b"a,b\n1,2\n3,4,5,6,7\n", BodyFormat.CSV)
    with pytest.raises(BadRequest, match="The CSV body holds no rows"):
        parse_body(b"a,b\n", BodyFormat.CSV)
    with pytest.raises(BadRequest, match="Invalid Parquet input"):
        parse_body(b"not parquet", BodyFormat.PARQUET)
