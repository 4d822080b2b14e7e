"""Request bodies → model input and params, or a 400 that says exactly what is wrong.

JSON bodies follow MLflow's scoring protocol: an object with exactly one of
`dataframe_split`, `dataframe_records`, `instances`, `inputs`, and optional `params`. CSV
(with a header row) and Parquet bodies are one DataFrame each. Nothing here checks the data
against the signature beyond shaping it: the model's own `predict` enforces the signature
and names the column or tensor at fault. The signature is used only to build tensors of the
right dtype, so JSON numbers meant for a float32 tensor are not refused as float64.
"""

from __future__ import annotations

import enum
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from cairn.exceptions import BadRequest

FORMAT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_ALLOWED_KEYS = frozenset((*FORMAT_KEYS, "params"))


class BodyFormat(enum.Enum):
    JSON = "application/json"
    CSV = "text/csv"
    PARQUET = "application/vnd.apache.parquet"


_FORMATS = {f.value: f for f in BodyFormat}


def body_format(content_type: str) -> BodyFormat | None:
    """The body format a Content-Type header names, or None (answered 415).

    As in MLflow's server, the only parameter accepted is `charset=utf-8` for JSON and CSV;
    any other parameter or charset is refused rather than guessed at."""
    media, _, rest = content_type.partition(";")
    found = _FORMATS.get(media.strip().lower())
    if found is None:
        return None
    for param in rest.split(";"):
        name, _, value = param.partition("=")
        name = name.strip().lower()
        if not name and not value:
            continue
        charset = value.strip().strip('"').lower()
        if found is BodyFormat.PARQUET or name != "charset" or charset not in ("utf-8", "utf8"):
            return None
    return found


@dataclass(slots=True)
class ModelInput:
    """What `predict` receives, and what the logs and the capture file record about it."""

    data: Any  # DataFrame, ndarray, dict of ndarrays, or list
    params: dict[str, Any] | None
    rows: int
    payload: Any  # the decoded JSON body (None for CSV and Parquet)
    fast: bool = False  # rows for `FastPath.predict`, not for the model's own `predict`


def parse_body(body: bytes, fmt: BodyFormat, signature: Any = None) -> ModelInput:
    """The model input a request body holds; `BadRequest` naming the problem otherwise."""
    if fmt is BodyFormat.JSON:
        return parse_json(body, signature)
    frame = _read_csv(body) if fmt is BodyFormat.CSV else _read_parquet(body)
    if not len(frame):
        kind = "Parquet" if fmt is BodyFormat.PARQUET else "CSV"
        raise BadRequest(f"The {kind} body holds no rows to predict on")
    return ModelInput(frame, None, len(frame), None)


def parse_json(body: bytes, signature: Any = None) -> ModelInput:
    """The model input of a JSON scoring body (also used by batch scoring for JSON files)."""
    return from_payload(decode_json(body), signature)


def decode_json(body: bytes) -> dict[str, Any]:
    """The JSON body as an object with exactly one format key, checked but not converted."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"Invalid JSON input: {e}") from None
    if not isinstance(payload, dict):
        raise BadRequest(
            "The JSON body must be an object with one of the keys "
            f"{_keys(FORMAT_KEYS)}, got {_json_type(payload)}"
        )
    found = [k for k in FORMAT_KEYS if k in payload]
    if len(found) != 1:
        got = "none of them" if not found else f"{len(found)}: {_keys(found)}"
        raise BadRequest(f"The JSON body must have exactly one of {_keys(FORMAT_KEYS)}, got {got}")
    unknown = [k for k in payload if k not in _ALLOWED_KEYS]
    if unknown:
        raise BadRequest(
            f"Unknown key{'s' if len(unknown) > 1 else ''} {_keys(unknown)} in the JSON body "
            f"(allowed: {_keys(_ALLOWED_KEYS)})"
        )
    params = payload.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadRequest(f"'params' must be a JSON object, got {_json_type(params)}")
    return payload


def format_key(payload: dict[str, Any]) -> str:
    """The one format key of a payload `decode_json` accepted."""
    for key in FORMAT_KEYS:
        if key in payload:
            return key
    raise AssertionError("decode_json lets no payload without a format key through")


def from_payload(payload: dict[str, Any], signature: Any = None) -> ModelInput:
    """The model input of a decoded JSON body."""
    params = payload.get("params")
    key = format_key(payload)
    value = payload[key]
    inputs = getattr(signature, "inputs", None)
    if key == "dataframe_split":
        data = _split_frame(value)
    elif key == "dataframe_records":
        data = _records_frame(value)
    else:
        data = _tensor_input(key, value, inputs)
    rows = _rows(data)
    if rows == 0:
        # Most models fail on no rows with an error of their own (a 500); it is the input.
        raise BadRequest(f"'{key}' holds no rows to predict on")
    return ModelInput(data, params, rows, payload)


def _split_frame(value: Any) -> Any:
    import pandas as pd

    if not isinstance(value, dict):
        raise BadRequest(
            "'dataframe_split' must be an object with 'columns' and 'data', "
            f"got {_json_type(value)}"
        )
    extra = set(value) - {"columns", "data", "index"}
    if extra:
        raise BadRequest(
            f"'dataframe_split' has unknown key(s) {_keys(sorted(extra))} "
            "(allowed: 'columns', 'data', 'index')"
        )
    if "data" not in value:
        raise BadRequest("'dataframe_split' needs a 'data' list of rows")
    data, columns, index = value["data"], value.get("columns"), value.get("index")
    if not isinstance(data, list):
        raise BadRequest(f"'dataframe_split.data' must be a list of rows, got {_json_type(data)}")
    if columns is not None and not isinstance(columns, list):
        raise BadRequest(f"'dataframe_split.columns' must be a list, got {_json_type(columns)}")
    if index is not None and not isinstance(index, list):
        raise BadRequest(f"'dataframe_split.index' must be a list, got {_json_type(index)}")
    if columns is not None:
        for i, row in enumerate(data):
            if not isinstance(row, list) or len(row) != len(columns):
                got = f"{len(row)} values" if isinstance(row, list) else _json_type(row)
                raise BadRequest(
                    f"'dataframe_split.data' row {i} should have {len(columns)} values "
                    f"(one per column), got {got}"
                )
    try:
        return pd.DataFrame(data, columns=columns, index=index)
    except (ValueError, TypeError) as e:
        raise BadRequest(f"'dataframe_split' is not a valid DataFrame: {e}") from None


def _records_frame(value: Any) -> Any:
    import pandas as pd

    if not isinstance(value, list):
        raise BadRequest(
            f"'dataframe_records' must be a list of objects (one per row), got {_json_type(value)}"
        )
    for i, row in enumerate(value):
        if not isinstance(row, dict):
            raise BadRequest(
                f"'dataframe_records' row {i} must be an object of column → value, "
                f"got {_json_type(row)}"
            )
    return pd.DataFrame(value)


def _tensor_input(key: str, value: Any, inputs: Any) -> Any:
    """`instances` / `inputs` (TF-serving style): a dict of named inputs, a list of row
    objects, or a (nested) list of values."""
    tensors = inputs is not None and inputs.is_tensor_spec
    if isinstance(value, dict):
        if tensors or inputs is None:
            return {
                name: _array(f"{key}.{name}", v, _spec(inputs, name)) for name, v in value.items()
            }
        return value  # column input: the model's enforcement turns it into a DataFrame
    if not isinstance(value, list):
        raise BadRequest(f"'{key}' must be a list or an object, got {_json_type(value)}")
    if value and all(isinstance(row, dict) for row in value):
        if tensors:
            return _rows_to_tensors(key, value, inputs)
        import pandas as pd

        return pd.DataFrame(value)
    if any(isinstance(row, dict) for row in value):
        raise BadRequest(f"'{key}' mixes objects and other values")
    if inputs is not None and not tensors:
        # Rows of values for named columns: the model's enforcement matches them by position.
        return value
    spec = inputs.inputs[0] if tensors and not inputs.has_input_names else None
    return _array(key, value, spec)


def _rows_to_tensors(key: str, rows: list[dict[str, Any]], inputs: Any) -> dict[str, Any]:
    names = list(rows[0])
    for i, row in enumerate(rows):
        if list(row) != names and set(row) != set(names):
            raise BadRequest(f"'{key}' row {i} has keys {sorted(row)}, row 0 has {sorted(names)}")
    return {
        name: _array(f"{key}.{name}", [row[name] for row in rows], _spec(inputs, name))
        for name in names
    }


def _spec(inputs: Any, name: str) -> Any:
    if inputs is None or not inputs.is_tensor_spec:
        return None
    for spec in inputs.inputs:
        if spec.name == name:
            return spec
    return None


def _array(label: str, value: Any, spec: Any) -> Any:
    """A NumPy array of the JSON value, in the tensor spec's dtype when JSON's number types
    were the only difference (JSON has no float32 or int8)."""
    import numpy as np

    try:
        array = np.asarray(value)
    except ValueError:
        raise BadRequest(
            f"'{label}' is not a rectangular array: its rows have different lengths"
        ) from None
    if spec is None:
        return array
    target = np.dtype(spec.dtype)
    if array.dtype == target or array.dtype.kind not in "biuf":
        return array
    if target.kind == "f" and array.dtype.kind in "iuf":
        return array.astype(target)
    if target.kind in "iu" and array.dtype.kind in "iu":
        info = np.iinfo(target)
        if array.size == 0 or (array.min() >= info.min and array.max() <= info.max):
            return array.astype(target)
    return array  # the model's enforcement refuses it, naming the tensor and the dtype


def _read_csv(body: bytes) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(io.BytesIO(body), encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise BadRequest("The CSV body is empty: it needs a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise BadRequest(f"Invalid CSV input: {_first_line(e)}") from None


def _read_parquet(body: bytes) -> Any:
    import pandas as pd

    try:
        return pd.read_parquet(io.BytesIO(body))
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError and others for bad files
        raise BadRequest(f"Invalid Parquet input: {_first_line(e)}") from None


def _rows(data: Any) -> int:
    if isinstance(data, Mapping):
        for v in data.values():
            return _rows(v)
        return 0
    shape = getattr(data, "shape", None)
    if shape is not None:
        return int(shape[0]) if len(shape) else 1
    return len(data) if isinstance(data, list) else 1


def _keys(keys: Any) -> str:
    return ", ".join(f"'{k}'" for k in sorted(keys, key=_order))


def _order(key: str) -> tuple[int, str]:
    order = (*FORMAT_KEYS, "params")
    return (order.index(key), key) if key in order else (len(order), key)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]
