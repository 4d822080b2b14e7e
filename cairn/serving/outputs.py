"""Predictions → the JSON body `{"predictions": ...}`, shaped as MLflow shapes it.

* an array → nested lists; a DataFrame → a list of records; a Series → the records of a
  one-column frame (MLflow's shape: `[{"0": 1}, ...]`, or the series' name as the key);
* a dict → the same rules per value; a list, a string or a number → as it is.

Numeric arrays go to orjson as they are, with no Python list in between: the common case of
a model returning a float or int array costs one C call. NaN and infinities become `null`
(strict JSON has no NaN; MLflow writes a bare `NaN`, which many parsers refuse), as do pandas'
missing values (`NA`, `NaT`). Timestamps are ISO 8601 strings and bytes are base64.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from typing import Any

import orjson

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def predictions_json(predictions: Any) -> bytes:
    """The response body for `predictions`."""
    return orjson.dumps({"predictions": jsonable(predictions)}, default=_default, option=_OPTIONS)


def dumps(value: Any) -> bytes:
    """Any JSON-able value (NumPy and pandas values included) as JSON bytes."""
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def jsonable(value: Any) -> Any:
    """`value` in a shape orjson writes as MLflow would: frames as records, series as
    records of a one-column frame, arrays as they are (orjson writes them natively)."""
    module = type(value).__module__
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return value.to_dict(orient="records")
        if isinstance(value, pd.Series):
            return value.to_frame(name=value.name if value.name is not None else 0).to_dict(
                orient="records"
            )
    elif module == "numpy":
        return _array(value) if type(value).__name__ == "ndarray" else value
    elif isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    elif isinstance(value, tuple):
        return list(value)
    return value


def _array(array: Any) -> Any:
    """An ndarray orjson serialises itself (native-endian, contiguous, a supported numeric
    dtype), else nested lists of Python values."""
    if array.dtype.kind in "biuf" and array.dtype.isnative and array.dtype.itemsize <= 8:
        return array if array.flags.c_contiguous else array.copy(order="C")
    return array.tolist()


def _default(value: Any) -> Any:
    """What orjson cannot write by itself."""
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and type(value).__module__ == "numpy":
        return tolist()  # object arrays, unsupported dtypes, NumPy scalars of such types
    if type(value).__module__.startswith("pandas"):
        import pandas as pd

        if value is pd.NA or value is pd.NaT:  # NaT is a datetime: check it first
            return None
        if isinstance(value, pd.Timestamp | pd.Timedelta):
            return value.isoformat()
        if isinstance(value, pd.DataFrame | pd.Series):
            return jsonable(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")
