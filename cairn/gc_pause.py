"""Pausing the cyclic garbage collector while a large result is built.

Building a million small objects (history points, the dicts of a big JSON answer) triggers
collections that walk every young object again and again; they can cost as much as reading
the rows. Nothing built in such a loop forms a cycle, so the collector has nothing to find
there. Pauses nest and are shared between threads: the collector comes back when the last
one ends, and only if it was on before the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
