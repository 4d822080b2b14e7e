"""The Jinja2 environment: autoescaping everywhere, and the filters the templates share.

Autoescape is on for every template whatever its name, so each user string (run names, tags,
params, filter text, artifact contents) is HTML-escaped unless a template says otherwise,
and none does. Values placed inside `<script>` are serialised with `tojson`, which escapes
`<`, `>` and `&` too.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from cairn.version import __version__

TEMPLATES = Path(__file__).resolve().parent / "templates"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        {
            "time": format_time,
            "duration": format_duration,
            "number": format_number,
            "urlpart": urlpart,
        }
    )
    env.globals["version"] = __version__
    return env


def urlpart(text: str) -> str:
    """`text` percent-encoded as one path segment (`/`, `?`, `#`, spaces, unicode and all):
    model names in URLs. Autoescape still applies where it is written into HTML."""
    return quote(str(text), safe="")


def format_time(ms: int | None) -> str:
    """Milliseconds since the epoch as a UTC date and time; '' when unknown."""
    if ms is None:
        return ""
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def format_duration(start: int | None, end: int | None) -> str:
    """A run's duration (`1h 02m`, `3.2s`); '' while it has no end."""
    if start is None or end is None or end < start:
        return ""
    seconds = (end - start) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def format_number(value: Any) -> str:
    """A metric value, short but exact enough to compare: up to 6 significant digits."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6g}"
    return str(value)
