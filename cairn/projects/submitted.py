"""A project run in progress: `SubmittedRun` (MLflow's interface) and the local implementation.

The command runs in its own process group (its own session), so Ctrl-C in a terminal reaches
Cairn, which then cancels the whole group: SIGTERM, and SIGKILL after a grace period. A
watcher thread waits for the process and records the run's final status — FINISHED on exit
status 0, FAILED otherwise, KILLED when cancelled — so an asynchronous run is recorded even
if nobody calls `wait()`. The thread is not a daemon: a Python program that submitted
asynchronous runs waits for them before it exits (and cancels them if interrupted then).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable

from cairn.entities import RunStatus
from cairn.tracking.client import CairnClient

DEFAULT_GRACE_PERIOD_S = 10.0


class SubmittedRun(ABC):
    """A project run that was started; MLflow's `mlflow.projects.SubmittedRun`."""

    @property
    @abstractmethod
    def run_id(self) -> str: ...

    @abstractmethod
    def wait(self) -> bool:
        """Wait for the run to end; True if it succeeded."""

    @abstractmethod
    def get_status(self) -> str:
        """RUNNING, FINISHED, FAILED or KILLED."""

    @abstractmethod
    def cancel(self) -> None:
        """End the run now and mark it KILLED (nothing happens if it already ended)."""


class LocalSubmittedRun(SubmittedRun):
    """A project command running as a child process of this one."""

    def __init__(
        self,
        run_id: str,
        process: subprocess.Popen[bytes],
        client: CairnClient,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self._run_id = run_id
        self.command_proc = process  # MLflow's attribute name
        self._client = client
        self._on_end = on_end
        self._lock = threading.Lock()
        self._cancelled = False
        self._status: RunStatus | None = None
        self._error: BaseException | None = None
        # Waiters wait on this event, never on Thread.join: a Ctrl-C that interrupts join()
        # can leave the thread marked as stopped while it still runs (bpo-45274), and the
        # final status would then never be written.
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, name=f"cairn-project-run-{run_id[:8]}", daemon=False
        )
        _live.add(self)
        self._thread.start()

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def returncode(self) -> int | None:
        """The command's exit status (negative: killed by that signal); None while running."""
        return self.command_proc.returncode if self._status is not None else None

    def wait(self) -> bool:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._status is RunStatus.FINISHED

    def get_status(self) -> str:
        status = self._status
        return (status or RunStatus.RUNNING).name

    def cancel(self, grace_period: float = DEFAULT_GRACE_PERIOD_S) -> None:
        """SIGTERM to the command's process group, SIGKILL after `grace_period` seconds;
        returns when the run is recorded KILLED."""
        with self._lock:
            if self._status is None:
                self._cancelled = True
        if self._cancelled and self.command_proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.command_proc.wait(grace_period)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
        self._done.wait()
        if self._error is not None:
            raise self._error

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.command_proc.pid, sig)
        except ProcessLookupError:
            pass  # already gone
        except OSError:
            with contextlib.suppress(OSError):
                self.command_proc.send_signal(sig)

    def _watch(self) -> None:
        code = self.command_proc.wait()
        with self._lock:
            if self._cancelled:
                status = RunStatus.KILLED
            else:
                status = RunStatus.FINISHED if code == 0 else RunStatus.FAILED
        try:
            self._client.set_terminated(self._run_id, status)
        except BaseException as exc:
            self._error = exc
        finally:
            if self._on_end is not None:
                try:
                    self._on_end()
                except Exception as exc:  # cleanup must not hide the status
                    print(f"cairn: cleaning up after run {self._run_id}: {exc}", file=sys.stderr)
            with self._lock:
                self._status = status
            _live.discard(self)
            self._done.set()

    def __repr__(self) -> str:
        return f"<LocalSubmittedRun: run_id={self._run_id!r}, status={self.get_status()}>"


_live: weakref.WeakSet[LocalSubmittedRun] = weakref.WeakSet()


@atexit.register
def _cancel_leftovers() -> None:
    """Runs still going at exit (the wait for their threads was interrupted): cancel them
    rather than leave them running unrecorded."""
    for submitted in list(_live):
        with contextlib.suppress(BaseException):
            submitted.cancel(grace_period=2.0)
