"""Sampled capture of what a model was asked and what it answered, for later drift analysis.

A fraction (`rate`, 0 to 1) of successful `/invocations` requests is appended to a JSON
Lines file, one object per request:

    {"time": "2026-11-24T09:01:02.345678Z", "request_id": "…", "model_uuid": "…",
     "request": {"dataframe_split": {...}, "params": {...}},
     "response": {"predictions": [...]}}

`request` is the scoring-protocol body itself, so a line can be sent back to `/invocations`
as it is: JSON bodies are written as they arrived, CSV and Parquet bodies as the
`dataframe_split` of the table they held. Each line is one `write` on a file opened with
O_APPEND: several workers can share the file, and `logrotate`'s copytruncate is safe.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import orjson

from cairn.exceptions import InvalidParameterValue
from cairn.serving.logs import utc_now
from cairn.serving.outputs import dumps


class Capture:
    """Appends sampled request/response pairs to `path`."""

    def __init__(self, path: str | os.PathLike[str], rate: float = 1.0) -> None:
        if not 0.0 <= rate <= 1.0:
            raise InvalidParameterValue(
                f"The capture sample rate must be between 0 and 1, got {rate}"
            )
        self.path = Path(path)
        self.rate = rate
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._random = random.Random()

    def sampled(self) -> bool:
        """Whether this request is one of the captured ones."""
        return self.rate >= 1.0 or (self.rate > 0.0 and self._random.random() < self.rate)

    def record(
        self,
        request_id: str,
        model_uuid: str | None,
        body: bytes | None,
        frame: Any,
        response: bytes,
    ) -> None:
        """Append one line. `body` is the JSON request body, or None with the `frame` a CSV
        or Parquet body held."""
        if body is not None:
            # Raw newlines can only be whitespace in valid JSON: flatten them to keep one line.
            request: Any = orjson.Fragment(body.replace(b"\n", b" ").replace(b"\r", b" "))
        else:
            request = orjson.Fragment(dumps({"dataframe_split": frame.to_dict(orient="split")}))
        line = {
            "time": utc_now(),
            "request_id": request_id,
            "model_uuid": model_uuid,
            "request": request,
            "response": orjson.Fragment(response),
        }
        os.write(self._fd, orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
