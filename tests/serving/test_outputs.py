"""Predictions → `{"predictions": ...}`, shaped as MLflow shapes them, always strict JSON."""

from __future__ import annotations

import datetime as dt
import decimal
import math

import numpy as np
import orjson
import pandas as pd
import pytest

from cairn.serving.outputs import predictions_json


def _decode(predictions: object) -> object:
    return orjson.loads(predictions_json(predictions))["predictions"]


@pytest.mark.parametrize(
    ("predictions", "expected"),
    [
        (np.array([1, 2, 3]), [1, 2, 3]),
        (np.array([[0.5, 1.5]], dtype=np.float32), [[0.5, 1.5]]),
        (np.array([1.0, np.nan, np.inf]), [1.0, None, None]),
        (np.array([True, False]), [True, False]),
        (np.array(["a", "b"]), ["a", "b"]),
        (np.array([{"a": 1}, None], dtype=object), [{"a": 1}, None]),
        (np.arange(6).reshape(2, 3).T, [[0, 3], [1, 4], [2, 5]]),  # not C-contiguous
        (np.array([1, 2], dtype=">i4"), [1, 2]),  # big-endian
        (np.array([1.5], dtype=np.float16), [1.5]),
        (np.array(["2024-01-02"], dtype="datetime64[D]"), ["2024-01-02"]),
        ([np.float32(0.5), np.int64(3), np.bool_(True)], [0.5, 3, True]),
        ((1, 2), [1, 2]),
        (np.float64(2.5), 2.5),
        (7, 7),
        ("text", "text"),
        (
            {"scores": np.array([0.1, 0.9]), "label": np.str_("b")},
            {"scores": [0.1, 0.9], "label": "b"},
        ),
        ([float("nan")], [None]),
        ([decimal.Decimal("1.5"), b"\x00\x01", {3}], [1.5, "AAE=", [3]]),
        ([dt.datetime(2024, 1, 2, 3, 4, 5)], ["2024-01-02T03:04:05"]),
    ],
)
def test_values(predictions: object, expected: object) -> None:
    assert _decode(predictions) == expected


def test_dataframe_is_records() -> None:
    frame = pd.DataFrame(
        {
            "label": ["a", "b"],
            "score": [0.5, math.nan],
            "n": pd.array([1, None], dtype="Int64"),
            "when": [pd.Timestamp("2024-01-02"), pd.NaT],
        }
    )
    assert _decode(frame) == [
        {"label": "a", "score": 0.5, "n": 1, "when": "2024-01-02T00:00:00"},
        {"label": "b", "score": None, "n": None, "when": None},
    ]


def test_series_is_records_of_one_column_as_mlflow() -> None:
    assert _decode(pd.Series([1, 2])) == [{"0": 1}, {"0": 2}]
    assert _decode(pd.Series([0.5], name="p")) == [{"p": 0.5}]


def test_unknown_objects_are_refused() -> None:
    with pytest.raises(TypeError):
        predictions_json([object()])
