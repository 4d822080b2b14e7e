"""Printing helpers shared by the commands: consoles, JSON, and human-friendly values.

Consoles are created per call so they follow whatever `sys.stdout`/`sys.stderr` are at the
time (test runners swap them). Markup and emoji codes are off: names, params and tags are
user data and must print verbatim.
"""

from __future__ import annotations

import math
import sys
import time
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text


def stdout() -> Console:
    """A console on standard output, for results."""
    return Console(highlight=False, markup=False, emoji=False)


def stderr() -> Console:
    """A console on standard error, for progress, notes and errors."""
    return Console(stderr=True, highlight=False, markup=False, emoji=False)


def listing_table(title: str | None = None) -> Table:
    """The compact style of every listing: a header rule, two spaces between columns."""
    return Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        header_style="bold",
    )


COLUMN_GAP = 2
"""Cells between two columns of a `listing_table`."""


def print_error(message: str) -> None:
    """Print `message` in red on stderr, unwrapped so pointers under filters stay aligned."""
    text = Text("Error: ", style="bold red")
    text.append(message, style="red")
    stderr().print(text, soft_wrap=True)


def print_note(message: str) -> None:
    """Print a dim side note on stderr (never mixed into the results on stdout)."""
    stderr().print(Text(message, style="dim"), soft_wrap=True)


def print_json(data: Any) -> None:
    """Write `data` as indented JSON on stdout (NaN and infinities become null)."""
    import orjson

    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def format_time(millis: int | None, seconds: bool = True) -> str:
    """A millisecond epoch timestamp as local `YYYY-MM-DD HH:MM[:SS]` ('' when unknown)."""
    if millis is None:
        return ""
    pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return datetime.fromtimestamp(millis / 1000).strftime(pattern)


def format_duration(start: int | None, end: int | None) -> str:
    """Elapsed time between two millisecond timestamps; a run still going counts up to now."""
    if start is None:
        return ""
    stop = end if end is not None else int(time.time() * 1000)
    seconds = max(0, stop - start) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s"


def format_number(value: float) -> str:
    """A metric value, short but exact enough to compare (`0.912345`, `1.2e+06`, `nan`)."""
    if math.isnan(value):
        return "nan"
    return f"{value:.6g}"


def format_size(size: int | None) -> str:
    """A byte count for people: `512 B`, `1.5 KiB`, `3.2 MiB`."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    amount = size / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if amount < 1024:
            return f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TiB"
