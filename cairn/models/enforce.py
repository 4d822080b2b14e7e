"""Making predict-time input match a model's signature, or saying exactly why it cannot.

Rules (the same as MLflow's where MLflow has one):
* Column schemas give a DataFrame with the schema's columns in the schema's order. A missing
  required column is an error; a missing optional column is left out; extra columns are dropped.
* A value is converted only when nothing is lost: int → long, int/long → double, float → double,
  small ints → float; strings parse to datetimes. Anything lossy (double → long, long → integer,
  double → float, numbers → string) is refused, naming the column and the expected type.
* Tensor schemas give an array (or a dict of named arrays): the dtype is converted only when
  NumPy calls the cast safe, and every dimension must match the spec's, -1 matching any size.
* Array, object, map and any columns are passed through unchecked.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Mapping
from typing import Any

from cairn.exceptions import SchemaEnforcementError
from cairn.models.schema import ColSpec, DataType, ParamSchema, ParamSpec, RichType, Schema


def enforce_schema(data: Any, schema: Schema) -> Any:
    """`data` converted to `schema`: a DataFrame for a column schema, an array (or dict of named
    arrays) for a tensor schema. Raises `SchemaEnforcementError` naming the offending input."""
    if schema.is_tensor_spec:
        return _enforce_tensors(data, schema)
    return _enforce_columns(_as_frame(data, schema), schema)


def _as_frame(data: Any, schema: Schema) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, Mapping):
        values = dict(data)
        if all(np.ndim(v) == 0 or isinstance(v, (bytes, str)) for v in values.values()):
            return pd.DataFrame({k: [v] for k, v in values.items()})
        return pd.DataFrame(values)
    if isinstance(data, (list, tuple)) and data and all(isinstance(r, Mapping) for r in data):
        return pd.DataFrame(list(data))
    if isinstance(data, (str, bytes)) or np.ndim(data) == 0:
        data = [data]
    frame = pd.DataFrame(data)
    if schema.has_input_names:
        # Unnamed rows against named columns: match by position, as MLflow does.
        if frame.shape[1] != len(schema.inputs):
            raise SchemaEnforcementError(
                f"Expected {len(schema.inputs)} columns {schema.input_names()}, "
                f"got {frame.shape[1]} unnamed columns"
            )
        frame.columns = schema.input_names()
    return frame


def _enforce_columns(frame: Any, schema: Schema) -> Any:
    import pandas as pd

    if not schema.has_input_names:
        if frame.shape[1] < len(schema.inputs):
            raise SchemaEnforcementError(
                f"Expected {len(schema.inputs)} columns, got {frame.shape[1]}"
            )
        frame = frame.iloc[:, : len(schema.inputs)]
        columns = {}
        for i, spec in enumerate(schema.inputs):
            assert isinstance(spec, ColSpec)
            columns[frame.columns[i]] = _convert_column(frame.iloc[:, i], spec, f"column {i}")
        return pd.DataFrame(columns, index=frame.index)

    names = {str(c): c for c in frame.columns}
    missing = [
        spec
        for spec in schema.inputs
        if isinstance(spec, ColSpec) and spec.required and spec.name not in names
    ]
    if missing:
        wanted = ", ".join(f"{s.name!r} ({s.type})" for s in missing)
        raise SchemaEnforcementError(
            f"Missing required input column{'s' if len(missing) > 1 else ''}: {wanted}"
        )
    out = {}
    for spec in schema.inputs:
        assert isinstance(spec, ColSpec) and spec.name is not None
        if spec.name in names:
            out[spec.name] = _convert_column(frame[names[spec.name]], spec, repr(spec.name))
    return pd.DataFrame(out, index=frame.index)


def _convert_column(values: Any, spec: ColSpec, label: str) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(spec.type, RichType):
        return values
    t = spec.type

    def refuse(reason: str = "") -> SchemaEnforcementError:
        return SchemaEnforcementError(
            f"Column {label} should be of type {t.value}, got {values.dtype}{reason}"
        )

    missing = values.isna()
    if missing.any() and spec.required and t not in (DataType.float, DataType.double):
        raise refuse(": it has missing values but is required")
    present = values[~missing]
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        values, dtype = values.astype(object), np.dtype(object)

    if t in (DataType.string, DataType.binary):
        wanted = str if t is DataType.string else (bytes, bytearray)
        textual = dtype.kind == "O" or pd.api.types.is_string_dtype(dtype)
        if textual and all(isinstance(v, wanted) for v in present):
            return values.astype(object)
        raise refuse()

    if t is DataType.datetime:
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return values
        if dtype.kind == "O" and all(isinstance(v, (str, _dt.date)) for v in present):
            try:
                return pd.to_datetime(values)
            except (ValueError, TypeError):
                raise refuse(": values that do not parse as datetimes") from None
        raise refuse()

    target = np.dtype(t.numpy_dtype)
    if dtype.kind == "O":
        # JSON input: ints, floats and bools as Python objects. Find the narrowest dtype
        # that holds them, then apply the same safety rule as for typed columns.
        kinds = {type(v) for v in present}
        if not kinds <= {bool, int, float} or (bool in kinds and len(kinds) > 1):
            raise refuse()
        source = np.asarray(present.tolist()).dtype if len(present) else target
    elif dtype.kind in "biuf":
        source = np.dtype(getattr(dtype, "numpy_dtype", dtype))  # pandas' nullable Int64 etc.
    else:
        raise refuse()
    if not _safe(source, target):
        raise refuse(": converting would lose information")
    if missing.any():
        if t is DataType.boolean:
            return values.astype("boolean")
        if target.kind in "iu":
            return values.astype("Int32" if t is DataType.integer else "Int64")
    return values.astype(target)


def _safe(source: Any, target: Any) -> bool:
    import numpy as np

    if (source.kind == "b") != (target.kind == "b"):
        return False  # True is not 1.0 for a model
    if source.kind in "iu" and target == np.float64:
        return True  # int64 → double loses nothing below 2**53: MLflow allows it too
    return bool(np.can_cast(source, target, "safe"))


def _enforce_tensors(data: Any, schema: Schema) -> Any:
    import numpy as np
    import pandas as pd

    if not schema.has_input_names:
        spec = schema.inputs[0]
        if isinstance(data, pd.DataFrame):
            data = data.to_numpy()
        return _check_tensor(np.asarray(data), spec, "input")
    if isinstance(data, pd.DataFrame):
        data = {str(c): data[c].to_numpy() for c in data.columns}
    if not isinstance(data, Mapping):
        if len(schema.inputs) == 1:
            data = {schema.inputs[0].name: data}
        else:
            raise SchemaEnforcementError(
                f"Expected a dict of tensors named {schema.input_names()}, "
                f"got {type(data).__name__}"
            )
    missing = [s.name for s in schema.inputs if s.name not in data]
    if missing:
        raise SchemaEnforcementError(f"Missing required input tensors: {missing}")
    return {
        s.name: _check_tensor(np.asarray(data[s.name]), s, repr(s.name))
        for s in schema.inputs
        if s.name is not None
    }


def _check_tensor(array: Any, spec: Any, label: str) -> Any:
    import numpy as np

    shape, want = tuple(array.shape), spec.shape
    if len(shape) != len(want) or any(w not in (-1, d) for d, w in zip(shape, want, strict=False)):
        raise SchemaEnforcementError(
            f"Tensor {label} should have shape {list(want)} (-1 is any size), got {list(shape)}"
        )
    target = np.dtype(spec.dtype)
    if array.dtype == target:
        return array
    if target.kind == "O" or np.can_cast(array.dtype, target, "safe"):
        return array.astype(target)
    raise SchemaEnforcementError(
        f"Tensor {label} should have dtype {spec.dtype}, got {array.dtype}: "
        "converting would lose information"
    )


def enforce_params(params: Mapping[str, Any] | None, schema: ParamSchema | None) -> dict[str, Any]:
    """The params a model receives: each declared param converted to its type, or its default
    when not given. Params the schema does not declare are dropped (MLflow warns and ignores
    them); with no schema, every param is dropped."""
    if schema is None:
        return {}
    given = dict(params or {})
    return {
        spec.name: _param_value(given[spec.name], spec) if spec.name in given else spec.default
        for spec in schema.params
    }


def _param_value(value: Any, spec: ParamSpec) -> Any:
    if spec.shape is None:
        return _scalar_param(value, spec)
    if not isinstance(value, (list, tuple)) and type(value).__name__ != "ndarray":
        raise SchemaEnforcementError(
            f"Param {spec.name!r} should be a list of {spec.type.value}, got {value!r}"
        )
    return [_scalar_param(v, spec) for v in value]


def _scalar_param(value: Any, spec: ParamSpec) -> Any:
    t = spec.type
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (list, tuple)):
        value = item()  # NumPy scalar → Python
    ok: bool
    if t is DataType.boolean:
        ok = isinstance(value, bool)
    elif t in (DataType.integer, DataType.long):
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and t is DataType.integer and not -(2**31) <= value < 2**31:
            ok = False
    elif t in (DataType.float, DataType.double):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif t is DataType.string:
        ok = isinstance(value, str)
    elif t is DataType.binary:
        ok = isinstance(value, (bytes, bytearray))
    else:  # datetime
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = _dt.datetime.fromisoformat(value)
        ok = isinstance(value, (_dt.datetime, _dt.date))
    if not ok:
        raise SchemaEnforcementError(
            f"Param {spec.name!r} should be of type {t.value}, got {value!r} "
            f"({type(value).__name__})"
        )
    return value
