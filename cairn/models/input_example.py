"""Input examples saved beside a model, in MLflow's files, and checked against its signature.

    input_example.json          DataFrame: {"columns": [...], "data": [[...], ...]}  (split orient)
                                arrays:    [...] or {"name": [...]} (MLflow 2: under "inputs")
                                other JSON: the value itself
    serving_input_example.json  the same example as a scoring-server request body
                                ({"dataframe_split": ...} or {"inputs": ...})

`save_input_example` returns the MLmodel `saved_input_example_info` entry that says which.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cairn.exceptions import InvalidParameterValue
from cairn.models.enforce import enforce_schema
from cairn.models.signature import ModelSignature

EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"


def save_input_example(model_dir: str | Path, example: Any) -> dict[str, Any]:
    """Write `example` into `model_dir` and return the `saved_input_example_info` entry.

    A DataFrame, Series, list of dicts or dict of scalars/lists is saved as a DataFrame; a NumPy
    array or dict of arrays as tensors; anything else JSON-serialisable as it is.
    """
    kind, body, serving = _encode(example)
    model_dir = Path(model_dir)
    (model_dir / EXAMPLE_FILE).write_text(json.dumps(body))
    (model_dir / SERVING_EXAMPLE_FILE).write_text(json.dumps(serving, indent=2))
    info: dict[str, Any] = {"artifact_path": EXAMPLE_FILE, "type": kind}
    if kind == "dataframe":
        info["pandas_orient"] = "split"
    info["serving_input_path"] = SERVING_EXAMPLE_FILE
    return info


def _encode(example: Any) -> tuple[str, Any, Any]:
    import numpy as np
    import pandas as pd

    if isinstance(example, np.ndarray) or (
        isinstance(example, Mapping)
        and example
        and all(isinstance(v, np.ndarray) for v in example.values())
    ):
        if isinstance(example, Mapping):
            inputs: Any = {str(k): v.tolist() for k, v in example.items()}
        else:
            inputs = example.tolist()
        return "ndarray", inputs, {"inputs": inputs}
    frame = None
    if isinstance(example, pd.DataFrame):
        frame = example
    elif isinstance(example, pd.Series):
        frame = example.to_frame()
    elif isinstance(example, list) and example and all(isinstance(r, Mapping) for r in example):
        frame = pd.DataFrame(example)
    elif isinstance(example, Mapping) and example:
        values = list(example.values())
        if all(not isinstance(v, (list, tuple, Mapping)) for v in values):
            frame = pd.DataFrame({k: [v] for k, v in example.items()})
    if frame is not None:
        split = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
        body = {"columns": [str(c) for c in split["columns"]], "data": split["data"]}
        return "dataframe", body, {"dataframe_split": body}
    try:
        json.dumps(example)
    except TypeError:
        raise InvalidParameterValue(
            f"Cannot save an input example of type {type(example).__name__}"
        ) from None
    return "json_object", example, {"inputs": example}


def load_input_example(model_dir: str | Path, info: Mapping[str, Any]) -> Any:
    """Read back the example `info` (a `saved_input_example_info` entry) describes."""
    path = Path(model_dir) / str(info.get("artifact_path", EXAMPLE_FILE))
    body = json.loads(path.read_text())
    kind = info.get("type")
    if kind == "dataframe":
        import pandas as pd

        if info.get("pandas_orient", "split") != "split":
            return pd.DataFrame(body) if isinstance(body, list) else pd.DataFrame([body])
        return pd.DataFrame(body["data"], columns=body["columns"])
    if kind == "ndarray":
        import numpy as np

        inputs = body["inputs"] if isinstance(body, Mapping) and "inputs" in body else body
        if isinstance(inputs, Mapping):
            return {k: np.asarray(v) for k, v in inputs.items()}
        return np.asarray(inputs)
    return body


def validate_input_example(example: Any, signature: ModelSignature) -> None:
    """Raise `SchemaEnforcementError` if the example would be refused at predict time."""
    if signature.inputs is not None:
        enforce_schema(example, signature.inputs)
