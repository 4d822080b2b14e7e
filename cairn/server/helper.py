"""A second process that reads big metric histories with the server, on another core.

A server process runs Python one thread at a time, and reading a big history is almost all
Python: 100,000 points take ~80 ms to read and encode, while the machine's other core sits
idle (the client is waiting for the answer). The helper is a process of its own on the same
database, started with the server: for a whole history of `HALVES_FROM` points or more
(`handlers.runs`), the server asks it for the later half of the steps, reads the first half
itself meanwhile, and joins the two encoded halves; this took 100,000 points from 86 ms to
about 60 ms here.

The helper can only make an answer sooner, never different: the server asks it for nothing
but what it would otherwise read itself, and reads it all itself whenever the helper is
busy, still starting, failed or gone. Halves read by the two processes are joined only if
the database did not change in between (`SqlTrackingStore.data_version`), so a split read is
as consistent as one transaction. Only a single-process server on an SQLite file starts a
helper (`ServerConfig.read_helper`, `--no-read-helper` turns it off): with several workers
the other cores are taken, and only SQLite tells cheaply whether anything changed. (Reading
pages ahead in the helper was tried as well: it was no faster than the server's own
read-ahead thread, and the helper's first page, read on cold caches, was slower.)

On the pipes, frames are an 8-byte big-endian length and that many bytes. The server sends
one frame, a JSON request; the helper answers with two, a JSON header (`{}`, or
`{"error": message}` when the server should read it itself) and the body. Its first frame,
`b"ready"`, says it is serving. The helper exits when its input closes, so it does not
outlive the server.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Any

import orjson

from cairn.server import wire
from cairn.server.config import CONFIG_ENV, ServerConfig

if TYPE_CHECKING:
    from cairn.server.context import ServerContext

log = logging.getLogger(__name__)

READY = b"ready"
# Longer than any read should take; a helper that has not answered by then is stopped, and
# the server computes the answer itself.
ANSWER_SECONDS = 120.0
START_SECONDS = 60.0
PIPE_BYTES = 1 << 20  # a pipe's buffer, raised from 64 KiB: fewer wake-ups per answer
_F_SETPIPE_SZ = 1031  # Linux; elsewhere pipes keep their size


def helper_supported() -> bool:
    """Whether this system can run a helper: the server waits on its pipe with select()."""
    return os.name == "posix"


class ReadHelper:
    """The server's side of its helper process: one request at a time."""

    def __init__(self, config: ServerConfig) -> None:
        self._config = config
        self._lock = threading.Lock()  # held from a request until its answer is read
        self._process: subprocess.Popen[bytes] | None = None
        self._ready = False
        self._started = 0.0

    def start(self) -> None:
        """Spawn the helper; it serves once it has opened the database (a few tenths of a
        second, on another core)."""
        env = {**os.environ, CONFIG_ENV: self._config.to_env()}
        process = subprocess.Popen(
            [sys.executable, "-m", "cairn.server.helper"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        for pipe in (process.stdin, process.stdout):
            _widen(pipe)
        self._process = process
        self._started = time.monotonic()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def in_use(self) -> bool:
        """Whether the helper is started and has not failed or been closed (it may still be
        starting, or busy): worth preparing a request for."""
        return self._process is not None

    def ask(self, request: dict[str, Any]) -> Pending | None:
        """Send `request` if the helper is free and serving (None otherwise). The helper is
        then the caller's until `Pending.result()`, which must be called."""
        payload = orjson.dumps(request)
        if not self._lock.acquire(blocking=False):
            return None
        try:
            process = self._serving()
            if process is None:
                self._lock.release()
                return None
            assert process.stdin is not None
            _write_frame(process.stdin, payload)
        except (OSError, ValueError) as exc:
            self._fail(f"could not send it a request: {exc!r}")
            self._lock.release()
            return None
        return Pending(self, process)

    def close(self) -> None:
        """Stop the helper: its input closes, it exits; one that does not is killed."""
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            assert process.stdin is not None
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def _serving(self) -> subprocess.Popen[bytes] | None:
        """The process, if it is serving (reading its `READY` once it has come)."""
        process = self._process
        if process is None or process.poll() is not None:
            if process is not None:
                self._fail(f"it exited with {process.returncode}")
            return None
        if self._ready:
            return process
        assert process.stdout is not None
        if not _readable(process.stdout, 0):
            if time.monotonic() - self._started > START_SECONDS:
                self._fail("it did not start")
            return None
        if _read_frame(process.stdout, 1.0) != READY:
            self._fail("it did not start")
            return None
        self._ready = True
        return process

    def _fail(self, why: str) -> None:
        """Stop using the helper (the server reads everything itself from now on)."""
        process, self._process = self._process, None
        if process is None:
            return
        log.warning("The read helper (pid %s) stopped being used: %s.", process.pid, why)
        with contextlib.suppress(OSError):
            process.kill()
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            process.wait(timeout=5)
        for pipe in (process.stdin, process.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()


class Pending:
    """A request sent to the helper, whose answer is yet to be read."""

    def __init__(self, helper: ReadHelper, process: subprocess.Popen[bytes]) -> None:
        self._helper = helper
        self._process = process
        self._done = False

    def result(self) -> bytes | None:
        """The answer's body; None when the helper could not give it (the caller reads it
        itself). Frees the helper for the next request."""
        if self._done:
            raise RuntimeError("the answer was already read")
        self._done = True
        try:
            stdout = self._process.stdout
            assert stdout is not None
            header = orjson.loads(_read_frame(stdout, ANSWER_SECONDS))
            body = _read_frame(stdout, ANSWER_SECONDS)
        except (OSError, ValueError, EOFError, TimeoutError) as exc:
            self._helper._fail(f"no answer: {exc!r}")
            return None
        finally:
            self._helper._lock.release()
        if "error" in header:  # the server's own reading reports it properly
            return None
        return body


def _widen(pipe: IO[bytes] | None) -> None:
    if pipe is not None and sys.platform == "linux":
        import fcntl

        with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size
            fcntl.fcntl(pipe.fileno(), _F_SETPIPE_SZ, PIPE_BYTES)


def _write_frame(pipe: IO[bytes], data: bytes) -> None:
    pipe.write(len(data).to_bytes(8, "big"))
    pipe.write(data)
    pipe.flush()


def _readable(pipe: IO[bytes], timeout: float) -> bool:
    return bool(select.select([pipe], [], [], timeout)[0])


def _read_exactly(fd: int, size: int, deadline: float) -> bytes:
    chunks = []
    left = size
    while left:
        wait = None if deadline == math.inf else max(0.0, deadline - time.monotonic())
        if not select.select([fd], [], [], wait)[0]:
            raise TimeoutError("the helper did not answer in time")
        chunk = os.read(fd, left)
        if not chunk:
            raise EOFError("the helper closed its output")
        chunks.append(chunk)
        left -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _read_frame(pipe: IO[bytes], timeout: float) -> bytes:
    """One frame from an unbuffered pipe (the server's side reads the file descriptor)."""
    deadline = time.monotonic() + timeout
    fd = pipe.fileno()
    size = int.from_bytes(_read_exactly(fd, 8, deadline), "big")
    return _read_exactly(fd, size, deadline) if size else b""


# -- the helper process --------------------------------------------------------------------


def serve(ctx: ServerContext, request: dict[str, Any]) -> wire.Encoded:
    """The answer to `request`, in the helper process: `{"history": run_id, "key": ...,
    "steps": [from, before]}` is that part of a metric's history as a JSON array of the REST
    API's points."""
    from cairn.transport.codec import wire_double

    first, before = request["steps"]

    def points() -> list[dict[str, Any]]:
        return ctx.store.get_metric_history_dicts(
            request["history"], request["key"], non_finite=wire_double, steps=(first, before)
        )

    return wire.encoded_answer(points)


def main() -> None:
    """The helper process: serve requests from stdin until it closes."""
    # The answers get a descriptor of their own, and whatever else writes to standard output
    # (a library, a C extension) writes to standard error instead.
    stdout = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    stdin = sys.stdin.buffer
    # Ctrl-C in a terminal reaches the whole process group: the server stops, closing the
    # pipe, and that ends the helper without a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from cairn.server.app import server_context

    ctx = server_context(ServerConfig.from_env())
    gc.freeze()  # as the server does (see `app.app_from_env`)
    _write_frame(stdout, READY)
    while True:
        try:
            request = orjson.loads(_read_frame(stdin, math.inf))
        except EOFError:
            return  # the server closed its side: it is stopping, or gone
        try:
            encoded = serve(ctx, request)
        except Exception as exc:  # the server reads this itself, and reports it
            _write_frame(stdout, orjson.dumps({"error": f"{type(exc).__name__}: {exc}"}))
            _write_frame(stdout, b"")
            continue
        try:
            _write_frame(stdout, b"{}")
            _write_frame(stdout, encoded.body)
        finally:
            encoded.release()


if __name__ == "__main__":
    main()
