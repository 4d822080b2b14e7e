"""JSON bodies as MLflow's protocol spells them, encoded with orjson.

orjson writes NaN and ±inf as `null`; the protocol writes the strings `"NaN"`, `"Infinity"`
and `"-Infinity"`. Requests are walked once to replace them (they are small: a log-batch
holds at most 1000 metrics). Responses are not rewritten, since only the receiver knows which
fields are doubles: `parse_double` (used by `Metric.from_dict` through `float`) reads them.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from cairn.exceptions import InvalidParameterValue

NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def wire_double(value: float) -> float | str:
    """A double as the protocol writes it: finite numbers as numbers, the rest as strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def parse_double(value: float | int | str) -> float:
    """A double read from the wire, accepting the protocol's spellings of NaN and ±inf."""
    if isinstance(value, str):
        found = NON_FINITE.get(value)
        if found is not None:
            return found
    return float(value)


def _with_wire_doubles(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else wire_double(obj)
    if isinstance(obj, dict):
        return {k: _with_wire_doubles(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_with_wire_doubles(v) for v in obj]
    return obj


def encode(body: Any) -> bytes:
    """`body` as JSON bytes, non-finite doubles spelled as strings.

    A value JSON cannot carry (an integer beyond 64 bits, an arbitrary object) is the
    caller's mistake, reported as `InvalidParameterValue` before anything is sent.
    """
    try:
        return orjson.dumps(_with_wire_doubles(body), option=orjson.OPT_SERIALIZE_NUMPY)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise InvalidParameterValue(f"Cannot send this request as JSON: {exc}") from None


def decode(content: bytes) -> Any:
    """Parse a JSON body; raises `orjson.JSONDecodeError` (a ValueError) when it is not."""
    return orjson.loads(content) if content.strip() else {}
