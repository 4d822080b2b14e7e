"""Reading the next page of a paged search while the client decodes this one.

A client reading every run of an experiment (MLflow's `search_runs()` into a DataFrame,
`cairn.search_runs`) asks for a page, decodes it, and only then asks for the next: the
server's work on a page (~7 ms for 1,000 runs on SQLite) and the client's (~5 ms of
`json.loads`) take turns, each leaving a core idle. When a request follows a page token, so
the client is reading page after page, and its answer has a next page, the server reads that
next page at once in a background thread; the client's request for it then finds the answer
ready, or nearly. A first page of `BULK` items or more counts too: that is the page size of
clients that read everything (MLflow's `search_runs` reads 1,000 runs a page, 10,000 for a
DataFrame, and metric history 25,000 points a page); a client that wanted just that one page
has cost the server one page read by an otherwise idle thread.

A page read ahead is answered only if the database is unchanged since before it was read
(`SqlTrackingStore.data_version`): a commit in between, from any process (a new run, a logged
metric, a permission change), discards it and the page is read afresh. So a client gets
exactly what reading the page at its request would give. Pages are keyed by the caller and
every request field, and each is answered once.

Bounds, per endpoint and process: one page is read ahead at a time, by one thread, only for
pages of at most the endpoint's `Endpoint.read_ahead` items (~5-8 MB of JSON); at most
`CAPACITY` pages are held, and one not asked for within `KEEP_SECONDS` is dropped at the
endpoint's next request.
Only SQLite can tell cheaply that nothing changed, so on other databases nothing is read ahead.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import orjson

from cairn.server.handlers.fields import READABLE
from cairn.server.wire import Encoded

BULK = 1_000  # a first page at least this big is read on from (see `_reading_on`)
CAPACITY = 8
KEEP_SECONDS = 60.0
WAIT_SECONDS = 30.0  # for a page still being read ahead, before reading it again instead

# (fields) -> the encoded answer (see `wire.encoded_answer`)
Compute = Callable[[dict[str, Any]], Encoded]


@dataclass(frozen=True, slots=True)
class Page:
    body: bytes
    token: str | None
    version: int  # the database's data_version before the page was read


class ReadAhead:
    """The pages read ahead for one search endpoint, and the rules for answering from them."""

    def __init__(
        self, compute: Compute, data_version: Callable[[], int | None], max_results: int
    ) -> None:
        self._compute = compute
        self._data_version = data_version
        self._max_results = max_results
        self._lock = threading.Lock()
        self._pages: OrderedDict[bytes, tuple[float, Future[Page]]] = OrderedDict()
        self._reading = False
        self._queue: queue.SimpleQueue[tuple[Future[Page], dict[str, Any]]] | None = None

    def answer(
        self, caller: Hashable, fields: dict[str, Any]
    ) -> tuple[bytes, Callable[[], None] | None]:
        """The encoded answer to `fields` for `caller` (None when anonymous), and the call to
        make once it is sent: it frees what an answer read now was built from, and starts
        reading the next page when that should be read ahead.

        Reading the next page holds the interpreter's lock for milliseconds at a time, which
        would otherwise delay sending this one. (A call never made reads nothing, but leaves
        the garbage collector paused: see `wire.encoded_answer`.)
        """
        key = _key(caller, fields)
        page = None if key is None else self._take(key)
        release = None
        if page is None:
            body, token, release = self._compute(fields)
        else:
            body, token = page.body, page.token
        if token is None or key is None or not self._reading_on(fields):
            return body, release
        follow = functools.partial(self._start, caller, {**fields, "page_token": token})
        return body, follow if release is None else _in_turn(release, follow)

    def _reading_on(self, fields: dict[str, Any]) -> bool:
        """Whether the client that sent `fields` reads page after page: it followed a page
        token, or asked for a bulk page."""
        size = fields.get("max_results")
        if size is not None and size > self._max_results:
            return False
        return bool(fields.get("page_token")) or (size is not None and size >= BULK)

    def _take(self, key: bytes) -> Page | None:
        with self._lock:
            held = self._pages.pop(key, None)
            self._drop_stale(time.monotonic())
        if held is None:
            return None
        try:
            page = held[1].result(timeout=WAIT_SECONDS)
        except Exception:  # failed or too slow: read now (an error is then this request's own)
            return None
        return page if page.version == self._version() else None

    def _start(self, caller: Hashable, fields: dict[str, Any]) -> None:
        key = _key(caller, fields)
        if key is None:
            return
        now = time.monotonic()
        with self._lock:
            if self._reading or key in self._pages:
                return
            self._drop_stale(now)
            while len(self._pages) >= CAPACITY:
                self._pages.popitem(last=False)
            future: Future[Page] = Future()
            self._pages[key] = (now, future)
            self._reading = True
            if self._queue is None:
                self._queue = queue.SimpleQueue()
                threading.Thread(
                    target=self._serve, args=(self._queue,), name="cairn-read-ahead", daemon=True
                ).start()
            pending = self._queue
        pending.put((future, fields))

    def _drop_stale(self, now: float) -> None:
        """Forget pages nobody asked for within KEEP_SECONDS (under the lock)."""
        for stale in [k for k, (at, _) in self._pages.items() if now - at > KEEP_SECONDS]:
            del self._pages[stale]

    def _serve(self, pending: queue.SimpleQueue[tuple[Future[Page], dict[str, Any]]]) -> None:
        """The reading thread: one per endpoint and process, for the process's life. A new
        thread per page was slower, back to back in the server: 10-15 ms a 1,000-run page
        against 9-11 ms (a fresh thread starting on cold caches, most likely)."""
        while True:
            future, fields = pending.get()
            self._read(future, fields)

    def _read(self, future: Future[Page], fields: dict[str, Any]) -> None:
        try:
            version = self._version()  # before reading: a commit after it discards the page
            if version is None:
                raise LookupError("the database cannot tell whether it changed")
            body, token, release = self._compute(fields)
            release()
        except BaseException as exc:
            with self._lock:
                self._reading = False
            future.set_exception(exc)
            return
        with self._lock:  # cleared before the result is set: its waiter may start the next
            self._reading = False
        future.set_result(Page(body, token, version))

    def _version(self) -> int | None:
        try:
            return self._data_version()
        except Exception:  # the store was closed, ...: nothing read ahead is answered
            return None


def _in_turn(*calls: Callable[[], None]) -> Callable[[], None]:
    def call() -> None:
        for each in calls:
            each()

    return call


def _key(caller: Hashable, fields: dict[str, Any]) -> bytes | None:
    """Who asks and everything they ask, as one comparable value (None: cannot be keyed).

    The gate's READABLE condition is a function of the caller's name, which the key holds."""
    plain = {name: value for name, value in fields.items() if name != READABLE}
    try:
        return orjson.dumps([caller, plain], option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
