"""Structured request logs: one JSON object per line for every request the server answers.

    {"time": "2026-11-24T09:01:02.345678Z", "event": "request", "request_id": "…",
     "method": "POST", "path": "/invocations", "status": 200, "duration_ms": 0.84,
     "rows": 1, "client": "127.0.0.1"}

Failed requests add `"error_code"` and `"message"` (the same as the response body's). Each
line leaves in one `write` to a stream opened for appending, so lines from several worker
processes sharing stderr or a file do not interleave.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import IO, Any

import orjson


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class RequestLog:
    """Writes JSON lines to `stream` (default: stderr): one per request unless
    `requests=False`, and the server's own events (errors above all) unless `events=False`."""

    def __init__(
        self, stream: IO[bytes] | None = None, *, requests: bool = True, events: bool = True
    ) -> None:
        self.requests = requests
        self.events = events
        self._stream = stream
        self._fd = sys.stderr.fileno() if stream is None and (requests or events) else None

    def request(
        self,
        request_id: str,
        method: str,
        path: str,
        status: int,
        seconds: float,
        *,
        rows: int | None = None,
        client: str | None = None,
        error: dict[str, str] | None = None,
    ) -> None:
        if not self.requests:
            return
        line: dict[str, Any] = {
            "time": utc_now(),
            "event": "request",
            "request_id": request_id,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
        }
        if rows is not None:
            line["rows"] = rows
        if client:
            line["client"] = client
        if error:
            line.update(error)
        self.write(line)

    def event(self, event: str, **fields: Any) -> None:
        """A line about the server itself: it is serving, a model or server error."""
        if self.events:
            self.write({"time": utc_now(), "event": event, **fields})

    def write(self, line: dict[str, Any]) -> None:
        data = orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)
        if self._fd is not None:
            os.write(self._fd, data)
        elif self._stream is not None:
            self._stream.write(data)
            self._stream.flush()
