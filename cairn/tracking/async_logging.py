"""Background batched logging: `log_metric`, `log_param` and `set_tag` return at once.

Against a remote server one request per call costs a network round trip, so a training loop
logging thousands of points would spend its time waiting. In asynchronous mode the client
checks each value on the caller's thread (bad input still raises at once) and appends it to
the process-wide `LogQueue`; a daemon thread sends whatever is pending as `log_batch`
requests, coalesced per run and cut to the per-request limits.

What callers can rely on:

* **Order per run.** Metric points keep their order; the last value of a tag wins; a param
  logged again with a different value fails exactly as it would synchronously (it is sent in
  a later request than the first value, so the message is the store's own).
* **Read your writes.** `SyncedStore` makes every other client call wait until the queue is
  empty, so `get_run`, searches and histories see what this process logged.
* **Nothing is dropped silently.** A failed request is kept and raised, once, by the next
  `flush` (`end_run`, `cairn.flush()`, `CairnClient.flush`); at interpreter exit pending
  writes are sent and failures are printed to stderr (an exit handler cannot raise).
* **A failure does not stop later writes.** Values queued after a failure, for the same run
  too, are still sent: one bad param must not cost the metrics logged after it.

Params travel in requests of their own. They are the one value whose success depends on
what is already stored (write-once), so a conflict must not take unrelated metrics down with
it in one atomic request; when a request holding several calls' params fails, each call's
params are sent again alone, so the ones that would have succeeded synchronously do, and
each failure names its own param. Metrics and tags are validated before they are queued, so
their requests fail only for reasons that hit every value alike (a deleted run, an
unreachable server).

One queue and one sender thread serve the whole process rather than one per store: entries
carry their store, writes to one run always share a store, and a single queue makes
"everything logged before this call" a single counter, a global flush trivial and the fork
reset one assignment. The thread exits after a few idle seconds and starts again on the next
write, so short-lived stores (tests, notebooks) leave no threads behind.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cairn.entities import Metric, Param, RunTag
from cairn.store import validation
from cairn.store.batching import chunk_batch
from cairn.store.validation import MAX_PARAMS_TAGS_PER_BATCH

if TYPE_CHECKING:
    from cairn.store.base import TrackingStore

# A queued call: (store, run_id, metrics, params, tags).
Entry = tuple["TrackingStore", str, Sequence[Metric], Sequence[Param], Sequence[RunTag]]

MAX_PENDING_CALLS = 100_000
"""Queued calls beyond which logging blocks until the sender catches up (bounds memory when
a training loop outpaces the server)."""
IDLE_SECONDS = 5.0
_MAX_LISTED_FAILURES = 10


@dataclass(frozen=True, slots=True)
class Failure:
    """A request the sender could not deliver: its run, the store's error, what was lost."""

    run_id: str
    error: Exception
    lost: str


class LogQueue:
    """Pending writes of this process and the daemon thread that sends them."""

    def __init__(
        self, *, max_pending: int = MAX_PENDING_CALLS, idle_seconds: float = IDLE_SECONDS
    ) -> None:
        self._max_pending = max_pending
        self._idle_seconds = idle_seconds
        self.reset()

    def reset(self) -> None:
        """Forget everything: new locks, no entries, no thread (also used after fork, where
        the parent's locks may be held by threads that do not exist in the child and the
        parent's pending writes are the parent's to send)."""
        # Reentrant, so that a signal handler calling end_run() while the interrupted main
        # thread is inside put() waits instead of deadlocking.
        self._lock = threading.RLock()
        self._has_work = threading.Condition(self._lock)  # the sender waits on it
        self._progress = threading.Condition(self._lock)  # flushers and full-queue writers
        self._send_lock = threading.RLock()  # whoever takes entries sends them before others
        self._entries: list[Entry] = []
        self._enqueued = 0  # calls ever queued
        self._processed = 0  # calls sent or failed
        self._failures: list[Failure] = []
        self._worker: threading.Thread | None = None

    @property
    def idle(self) -> bool:
        """Nothing queued or in flight. Read without the lock: it is the fast path of every
        client call, and a stale answer only means the caller waits a moment."""
        return self._enqueued == self._processed

    def put(
        self,
        store: TrackingStore,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Queue one call's values (already validated) and return at once."""
        with self._lock:
            while len(self._entries) >= self._max_pending and self._ensure_sender():
                self._progress.wait()
            self._entries.append((store, run_id, metrics, params, tags))
            self._enqueued += 1
            if self._ensure_sender():
                self._has_work.notify()
                return
        self._drain()  # no thread can start (interpreter shutting down): send it here

    def wait(self) -> None:
        """Block until every call queued before this one has been sent (or has failed)."""
        with self._lock:
            target = self._enqueued
        while True:
            with self._lock:
                if self._processed >= target:
                    return
                if self._ensure_sender():
                    if self._entries:
                        self._has_work.notify()
                    self._progress.wait()
                    continue
            self._drain()

    def take_failures(self, run_id: str | None = None) -> list[Failure]:
        """Remove and return the failures recorded so far (of `run_id` only, when given)."""
        with self._lock:
            if run_id is None:
                taken, self._failures = self._failures, []
            else:
                taken = [f for f in self._failures if f.run_id == run_id]
                self._failures = [f for f in self._failures if f.run_id != run_id]
        return taken

    def flush(self, run_id: str | None = None) -> None:
        """Send everything queued so far; raise what failed (for `run_id` only, when given).

        A failure is raised once: the exception the store raised, or, when several requests
        failed, the first one with a message listing them all.
        """
        self.wait()
        failures = self.take_failures(run_id)
        if failures:
            raise combined_error(failures)

    # -- the sender --------------------------------------------------------------------------

    def _ensure_sender(self) -> bool:
        """Start the sender thread if none runs (lock held); False if threads cannot start."""
        if self._worker is not None:
            return True
        thread = threading.Thread(target=self._work, name="cairn-async-logging", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # "can't create new thread at interpreter shutdown"
            return False
        self._worker = thread
        return True

    def _work(self) -> None:
        try:
            while True:
                with self._lock:
                    if not self._entries:
                        self._has_work.wait(self._idle_seconds)
                        if not self._entries:
                            self._worker = None  # idle: exit; the next put starts a new one
                            return
                self._drain()
        finally:
            with self._lock:
                if self._worker is threading.current_thread():
                    self._worker = None
                self._progress.notify_all()

    def _drain(self) -> None:
        """Send everything pending now. Taking and sending happen under `_send_lock`, so two
        drains (the thread and a shutdown-time caller) can never reorder a run's writes."""
        with self._send_lock:
            with self._lock:
                entries, self._entries = self._entries, []
                self._progress.notify_all()  # writers blocked on a full queue may go on
            failures: list[Failure] = []
            try:
                failures = send_entries(entries)
            finally:
                with self._lock:
                    self._failures.extend(failures)
                    # Counted by entries taken, not copied from `_enqueued`: a put() cut
                    # short between its append and its count (by a signal handler that
                    # flushes) must still balance out.
                    self._processed += len(entries)
                    self._progress.notify_all()


# -- coalescing and sending ------------------------------------------------------------------


@dataclass(slots=True)
class _RunWrites:
    """Everything pending for one run of one store, in the order it was logged."""

    store: TrackingStore
    run_id: str
    metrics: list[Metric] = field(default_factory=list)
    param_calls: list[Sequence[Param]] = field(default_factory=list)
    tags: dict[str, RunTag] = field(default_factory=dict)

    def send(self) -> list[Failure]:
        failures: list[Failure] = []
        for calls in plan_param_requests(self.param_calls):
            failures += self._send_params(calls)
        tags = list(self.tags.values())
        for chunk in chunk_batch(self.metrics, (), tags):
            try:
                self.store.log_batch(self.run_id, chunk.metrics, (), chunk.tags)
            except Exception as exc:
                failures.append(
                    Failure(self.run_id, exc, describe(len(chunk.metrics), 0, len(chunk.tags)))
                )
        return failures

    def _send_params(self, calls: list[Sequence[Param]]) -> list[Failure]:
        try:
            self.store.log_batch(self.run_id, params=merge_params(calls))
            return []
        except Exception as exc:
            if len(calls) == 1:
                return [Failure(self.run_id, exc, describe(0, len(calls[0]), 0))]
        # Several calls shared the request: send each alone so that only the ones that
        # would have failed synchronously fail, each with its own message.
        failures: list[Failure] = []
        for params in calls:
            try:
                self.store.log_batch(self.run_id, params=params)
            except Exception as exc:
                failures.append(Failure(self.run_id, exc, describe(0, len(params), 0)))
        return failures


def send_entries(entries: Sequence[Entry]) -> list[Failure]:
    """Send queued calls, coalesced per (store, run); return what failed. Never raises."""
    runs: dict[tuple[int, str], _RunWrites] = {}
    for store, run_id, metrics, params, tags in entries:
        writes = runs.get((id(store), run_id))
        if writes is None:
            writes = runs[(id(store), run_id)] = _RunWrites(store, run_id)
        if metrics:
            writes.metrics.extend(metrics)
        if params:
            writes.param_calls.append(params)
        for tag in tags:
            writes.tags[tag.key] = tag
    failures: list[Failure] = []
    for writes in runs.values():
        try:
            failures += writes.send()
        except Exception as exc:  # a bug here must not wedge every later flush
            failures.append(Failure(writes.run_id, exc, "some values"))
    return failures


def plan_param_requests(calls: Sequence[Sequence[Param]]) -> Iterator[list[Sequence[Param]]]:
    """Group consecutive calls' params into requests of at most 100 params, starting a new
    request where a call gives a stored-in-this-request key another value (so the later
    value reaches the store after the first, and fails as it would synchronously)."""
    current: list[Sequence[Param]] = []
    values: dict[str, str] = {}
    for call in calls:
        for start in range(0, len(call), MAX_PARAMS_TAGS_PER_BATCH):
            part = call[start : start + MAX_PARAMS_TAGS_PER_BATCH]
            clash = any(values.get(p.key, p.value) != p.value for p in part)
            if current and (clash or len(values) + len(part) > MAX_PARAMS_TAGS_PER_BATCH):
                yield current
                current, values = [], {}
            current.append(part)
            for p in part:
                values.setdefault(p.key, p.value)
    if current:
        yield current


def merge_params(calls: Sequence[Sequence[Param]]) -> list[Param]:
    """The params of several calls as one request, exact repeats dropped (a conflict inside
    one call is kept, for the store to refuse as it would synchronously)."""
    seen: set[tuple[str, str]] = set()
    merged: list[Param] = []
    for call in calls:
        for p in call:
            if (p.key, p.value) not in seen:
                seen.add((p.key, p.value))
                merged.append(p)
    return merged


def describe(metrics: int, params: int, tags: int) -> str:
    parts = [
        f"{n} {word}{'' if n == 1 else 's'}"
        for n, word in ((metrics, "metric"), (params, "param"), (tags, "tag"))
        if n
    ]
    return " and ".join(parts) if parts else "nothing"


def combined_error(failures: Sequence[Failure]) -> Exception:
    """One exception for the caller: the store's own error when one request failed (its
    type and message intact, plus a note saying what was lost); when several failed, the
    first error with its message replaced by a list of all of them, so `except
    InvalidParameterValue` still works and nothing is hidden."""
    first = failures[0]
    error = first.error
    if len(failures) == 1:
        error.add_note(
            f"Cairn sent this in the background; not recorded for run {first.run_id}: {first.lost}."
        )
        return error
    message = failure_report(failures)
    error.args = (message,)
    if hasattr(error, "message"):
        error.message = message
    return error


def failure_report(failures: Sequence[Failure]) -> str:
    """'N background logging requests failed…' and one line per distinct failure."""
    counts: dict[tuple[str, str], list[Failure]] = {}
    for f in failures:
        counts.setdefault((f.run_id, f"{type(f.error).__name__}: {f.error}"), []).append(f)
    n = len(failures)
    lines = [
        f"{n} background logging request{'s' if n > 1 else ''} failed; "
        "their values were not recorded:"
    ]
    for (run_id, text), group in list(counts.items())[:_MAX_LISTED_FAILURES]:
        times = f" ({len(group)} requests)" if len(group) > 1 else ""
        lines.append(f"- run {run_id}, {group[0].lost}{times}: {text}")
    if len(counts) > _MAX_LISTED_FAILURES:
        lines.append(f"- … and {len(counts) - _MAX_LISTED_FAILURES} more")
    return "\n".join(lines)


# -- validation on the caller's thread -------------------------------------------------------


def checked_metrics(metrics: Sequence[Metric]) -> list[Metric]:
    """The metrics, or the store's own error for the first bad one, raised now."""
    for m in metrics:
        validation.metric_fields(m)
    return list(metrics)


def checked_params(params: Sequence[Param]) -> list[Param]:
    """The params with values as the store would keep them (long values truncated unless
    CAIRN_TRUNCATE_LONG_VALUES=false), or the store's error, raised now."""
    out: list[Param] = []
    for p in params:
        validation.validate_key(p.key, "param name")
        value = validation.param_value(p)
        out.append(p if value is p.value else Param(p.key, value))
    return out


def checked_tags(tags: Sequence[RunTag]) -> list[RunTag]:
    out: list[RunTag] = []
    for t in tags:
        validation.validate_key(t.key, "tag key")
        value = validation.tag_value(t)
        out.append(t if value is t.value else RunTag(t.key, value))
    return out


# -- the process-wide queue ------------------------------------------------------------------

_queue = LogQueue()


def queue() -> LogQueue:
    return _queue


class SyncedStore:
    """A client's view of its store: every call first waits until queued writes are sent.

    This is the one place that gives reads their own writes (and keeps synchronous writes,
    deletes and run ends after the queued writes before them); when nothing is queued it
    costs one attribute comparison.
    """

    __slots__ = ("_store",)

    def __init__(self, store: TrackingStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if not _queue.idle:
            _queue.wait()
        return getattr(self._store, name)

    def __repr__(self) -> str:
        return f"SyncedStore({self._store!r})"


class RunOperations:
    """What a queued logging call returns (as in MLflow): `wait()` sends everything queued
    for the run and raises what failed."""

    __slots__ = ("run_id",)

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def wait(self) -> None:
        _queue.flush(self.run_id)

    def __repr__(self) -> str:
        return f"RunOperations(run_id={self.run_id!r})"


def _flush_at_exit() -> None:
    """Send what is still queued; print failures (an exit handler has no caller to raise to)."""
    try:
        _queue.wait()
    except BaseException as exc:  # Ctrl-C during exit: say what may be lost
        print(f"cairn: queued logging was not sent: {exc!r}", file=sys.stderr)
        return
    failures = _queue.take_failures()
    if failures:
        print(f"cairn: {failure_report(failures)}", file=sys.stderr)


# Registered at import (the client imports this module), so it runs after the fluent API's
# exit handler, which ends open runs and flushes them first.
atexit.register(_flush_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_queue.reset)
