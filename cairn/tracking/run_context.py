"""The active-run stack behind the fluent API, and `ActiveRun`, what `start_run` returns.

The stack is per thread, as in MLflow: a run started in one thread is not the active run of
another (worker threads that log without starting a run get a run of their own).
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from cairn.entities import Run, RunStatus

if TYPE_CHECKING:
    from collections.abc import Callable


class ActiveRun(Run):
    """A run started by `start_run`; as a context manager it ends the run on exit.

    Leaving the block normally ends it FINISHED, through an exception FAILED, through
    Ctrl-C (KeyboardInterrupt) KILLED. If ending fails (queued values that could not be
    logged), that error is raised, unless the block is already raising: then it is added as
    a note to the block's exception. `info` and `data` are a snapshot taken at start.
    """

    def __init__(self, run: Run, end: Callable[[ActiveRun, RunStatus], None]) -> None:
        super().__init__(info=run.info, data=run.data, inputs=run.inputs)
        object.__setattr__(self, "_end", end)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        try:
            self._end(self, status)  # type: ignore[attr-defined]
        except Exception as failure:
            if exc is None:
                raise
            # The block's own exception matters more; keep it, and say what else went wrong
            # (e.g. queued values that failed to log) rather than lose it.
            exc.add_note(f"Ending run {self.info.run_id} also failed: {failure!r}")
        return False

    def __repr__(self) -> str:
        return f"<ActiveRun: run_id={self.info.run_id!r}, name={self.info.run_name!r}>"


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.stack: list[ActiveRun] = []
        self.last_run_id: str | None = None


_state = _ThreadState()


def stack() -> list[ActiveRun]:
    """This thread's active runs, outermost first (mutable: the fluent API owns it)."""
    return _state.stack


def current() -> ActiveRun | None:
    return _state.stack[-1] if _state.stack else None


def last_run_id() -> str | None:
    return _state.last_run_id


def set_last_run_id(run_id: str | None) -> None:
    _state.last_run_id = run_id
