"""Background batched logging: queued writes, read-your-writes, ordering, failures, exit, fork.

Most tests use the SQL store with `synchronous=False` (queued logging works with any store).
`GatedStore` wraps a real store and holds its `log_batch` until the test opens the gate, which
proves that calls return before anything is written; `RecordingStore` keeps the requests the
sender made. Neither replaces the store's own behaviour: every write reaches real SQLite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import cairn
from cairn.entities import Metric, Param, RunStatus, RunTag
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.tracking import async_logging
from cairn.tracking.async_logging import LogQueue, RunOperations, plan_param_requests
from cairn.tracking.client import CairnClient

REPO_ROOT = Path(__file__).resolve().parents[2]


class RecordingStore:
    """A real store that also keeps every log_batch request it was given."""

    def __init__(self, store: Any) -> None:
        self._inner = store
        self.requests: list[tuple[str, list[Metric], list[Param], list[RunTag]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        self.requests.append((run_id, list(metrics), list(params), list(tags)))
        self._inner.log_batch(run_id, metrics, params, tags)


class GatedStore(RecordingStore):
    """A real store whose log_batch waits until `gate` is set (or 30 s pass)."""

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        self.entered.set()
        assert self.gate.wait(30), "the test never opened the gate"
        super().log_batch(run_id, metrics, params, tags)


class RemoteLikeStore(RecordingStore):
    """Declares itself remote, as a store behind a network round trip does."""

    is_remote = True


@pytest.fixture
def gated(sqlite_store: Any) -> Iterator[GatedStore]:
    store = GatedStore(sqlite_store)
    yield store
    store.gate.set()
    async_logging.queue().wait()


def _run_id(c: CairnClient) -> str:
    return c.create_run("0").info.run_id


# -- queued, then written --------------------------------------------------------------------


def test_logging_returns_before_the_write(gated: GatedStore) -> None:
    c = CairnClient(store=gated)  # type: ignore[arg-type]
    run_id = _run_id(c)
    started = time.perf_counter()
    for step in range(100):
        c.log_metric(run_id, "loss", 1 / (step + 1), step=step, synchronous=False)
    c.log_param(run_id, "lr", 0.1, synchronous=False)
    c.set_tag(run_id, "stage", "train", synchronous=False)
    assert time.perf_counter() - started < 5  # the gate is shut: nothing could be written
    assert gated.entered.wait(10)
    assert not async_logging.queue().idle
    assert gated._inner.get_run(run_id).data.metrics == {}  # really not written yet

    gated.gate.set()
    run = c.get_run(run_id)  # waits for the queue: reads see this process's writes
    assert run.data.metrics == {"loss": 0.01}
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags["stage"] == "train"
    assert len(c.get_metric_history(run_id, "loss")) == 100


def test_queued_calls_return_run_operations(sqlite_store: Any) -> None:
    c = CairnClient(store=sqlite_store)
    run_id = _run_id(c)
    op = c.log_metric(run_id, "m", 1.0, synchronous=False)
    assert isinstance(op, RunOperations)
    op.wait()
    assert c.log_metric(run_id, "m", 2.0) is None  # written at once: nothing to wait for
    assert c.log_batch(run_id, synchronous=False) is None  # nothing to queue


def test_reads_see_writes_through_every_client_and_call(tracking_uri: str) -> None:
    writer = CairnClient(tracking_uri)
    reader = CairnClient(tracking_uri)  # another client of the same database
    run_id = _run_id(writer)
    for step in range(300):
        writer.log_metric(run_id, "acc", step / 300, step=step, synchronous=False)
    writer.log_batch(
        run_id,
        params=[Param("model", "cnn")],
        tags=[RunTag("team", "vision")],
        synchronous=False,
    )
    assert reader.get_run(run_id).data.params == {"model": "cnn"}
    assert [r.info.run_id for r in reader.search_runs("0", "metrics.acc > 0.99")] == [run_id]
    assert [m.step for m in reader.iter_metric_history(run_id, "acc")] == list(range(300))

    writer.set_tag(run_id, "phase", "late", synchronous=False)
    reader.delete_tag(run_id, "phase")  # a write, ordered after the queued tag
    assert "phase" not in reader.get_run(run_id).data.tags


def test_bad_input_raises_at_once(sqlite_store: Any) -> None:
    c = CairnClient(store=sqlite_store)
    run_id = _run_id(c)
    with pytest.raises(InvalidParameterValue, match="must be numbers"):
        c.log_metric(run_id, "m", "high", synchronous=False)
    with pytest.raises(InvalidParameterValue, match="Invalid metric name"):
        c.log_metric(run_id, "bad name!", 1.0, synchronous=False)
    with pytest.raises(InvalidParameterValue, match="param name"):
        c.log_param(run_id, "", 1, synchronous=False)
    with pytest.raises(InvalidParameterValue, match="tag key"):
        c.set_tag(run_id, "../escape", "x", synchronous=False)
    with pytest.raises(InvalidParameterValue, match=r"64 bits|integer"):
        c.log_batch(run_id, metrics=[Metric("m", 1.0, 0, 2**70)], synchronous=False)
    assert async_logging.queue().idle


def test_long_values_are_truncated_before_queueing(sqlite_store: Any) -> None:
    c = CairnClient(store=sqlite_store)
    run_id = _run_id(c)
    c.log_param(run_id, "long", "x" * 7000, synchronous=False)
    c.log_param(run_id, "long", "x" * 6500, synchronous=False)  # same once truncated
    c.flush()
    assert c.get_run(run_id).data.params["long"] == "x" * 6000


# -- coalescing, order, limits ---------------------------------------------------------------


def test_calls_are_coalesced_per_run_in_order(gated: GatedStore) -> None:
    c = CairnClient(store=gated)  # type: ignore[arg-type]
    first, second = _run_id(c), _run_id(c)
    c.log_metric(first, "warmup", 0.0, synchronous=False)  # the sender takes this one alone
    assert gated.entered.wait(10)
    for step in range(50):
        c.log_metric(first, "m", float(step), step=step, synchronous=False)
        c.log_metric(second, "m", float(-step), step=step, synchronous=False)
    for value in ("a", "b", "c"):
        c.set_tag(first, "last", value, synchronous=False)
    gated.gate.set()
    c.flush()

    later = gated.requests[1:]
    assert [r[0] for r in later] == [first, second]  # one request per run
    assert [m.value for m in later[0][1]] == [float(s) for s in range(50)]
    assert [(t.key, t.value) for t in later[0][3]] == [("last", "c")]
    assert c.get_run(first).data.tags["last"] == "c"


def test_big_backlogs_are_split_within_request_limits(sqlite_store: Any) -> None:
    store = RecordingStore(sqlite_store)
    c = CairnClient(store=store)  # type: ignore[arg-type]
    run_id = _run_id(c)
    points = [Metric("m", float(i), 1_000 + i, i) for i in range(2_500)]
    c.log_batch(run_id, metrics=points, synchronous=False)
    c.log_batch(run_id, params=[Param(f"p{i}", str(i)) for i in range(150)], synchronous=False)
    c.log_batch(run_id, tags=[RunTag(f"t{i}", str(i)) for i in range(150)], synchronous=False)
    c.flush()

    for _, metrics, params, tags in store.requests:
        assert len(metrics) <= 1000 and len(params) <= 100 and len(tags) <= 100
        assert len(metrics) + len(params) + len(tags) <= 1000
        assert not (params and (metrics or tags))  # params travel on their own
    assert c.get_metric_history(run_id, "m") == points
    run = c.get_run(run_id)
    assert len(run.data.params) == 150
    assert len([k for k in run.data.tags if k.startswith("t")]) == 150


def test_param_requests_split_where_a_value_changes() -> None:
    p = Param
    calls = [[p("a", "1")], [p("a", "1"), p("b", "2")], [p("a", "9")], [p("c", "3")]]
    planned = [
        [[(x.key, x.value) for x in call] for call in req] for req in plan_param_requests(calls)
    ]
    assert planned == [
        [[("a", "1")], [("a", "1"), ("b", "2")]],
        [[("a", "9")], [("c", "3")]],
    ]
    many = [[p(f"k{i}", "v")] for i in range(250)]
    assert [sum(map(len, r)) for r in plan_param_requests(many)] == [100, 100, 50]


# -- failures --------------------------------------------------------------------------------


def test_a_conflicting_param_raises_on_flush_once_and_later_values_still_land(
    sqlite_store: Any,
) -> None:
    c = CairnClient(store=sqlite_store)
    run_id = _run_id(c)
    c.log_param(run_id, "lr", 0.1, synchronous=False)
    c.log_param(run_id, "lr", 0.2, synchronous=False)  # would fail synchronously
    c.log_param(run_id, "epochs", 10, synchronous=False)  # shared the failed request
    c.log_metric(run_id, "loss", 0.5, synchronous=False)

    assert c.get_run(run_id).data.metrics == {"loss": 0.5}  # reads wait, but do not raise
    with pytest.raises(InvalidParameterValue, match="Changing param values is not allowed") as e:
        c.flush()
    assert f"not recorded for run {run_id}: 1 param." in "\n".join(e.value.__notes__)
    c.flush()  # raised once: nothing left
    assert c.get_run(run_id).data.params == {"lr": "0.1", "epochs": "10"}


def test_several_failures_are_listed_in_one_exception(sqlite_store: Any) -> None:
    c = CairnClient(store=sqlite_store)
    run_id = _run_id(c)
    for key in ("a", "b"):
        c.log_param(run_id, key, 1, synchronous=False)
        c.log_param(run_id, key, 2, synchronous=False)
    with pytest.raises(InvalidParameterValue) as e:
        c.flush()
    message = str(e.value)
    assert message.startswith("2 background logging requests failed")
    assert "Param 'a'" in message and "Param 'b'" in message
    assert message.count(f"run {run_id}") == 2


def test_failures_of_a_deleted_run_are_grouped(sqlite_store: Any) -> None:
    c = CairnClient(store=sqlite_store)
    gone, kept = _run_id(c), _run_id(c)
    sqlite_store.delete_run(gone)  # behind the client's back: the queue cannot know
    c.log_batch(gone, metrics=[Metric("m", 1.0, 1, i) for i in range(2_500)], synchronous=False)
    c.log_metric(kept, "m", 1.0, synchronous=False)
    c.flush(kept)  # only this run's failures are raised: none
    assert c.get_run(kept).data.metrics == {"m": 1.0}
    with pytest.raises(InvalidParameterValue) as e:
        c.flush(gone)
    assert "(3 requests)" in str(e.value)


def test_end_run_raises_the_failure_and_still_ends_the_run(tracking_uri: str) -> None:
    run = cairn.start_run()
    run_id = run.info.run_id
    cairn.log_param("lr", 0.1, synchronous=False)
    cairn.log_param("lr", 0.2, synchronous=False)
    cairn.log_metric("loss", 0.3, synchronous=False)
    with pytest.raises(InvalidParameterValue, match="Changing param values"):
        cairn.end_run()
    assert cairn.active_run() is None
    ended = cairn.get_run(run_id)
    assert ended.info.status is RunStatus.FINISHED
    assert ended.data.metrics == {"loss": 0.3}


def test_a_with_block_raises_the_failure_when_it_ends(tracking_uri: str) -> None:
    with (
        pytest.raises(InvalidParameterValue, match="Changing param values"),
        cairn.start_run() as run,
    ):
        cairn.log_param("lr", 0.1, synchronous=False)
        cairn.log_param("lr", 0.2, synchronous=False)
    assert cairn.get_run(run.info.run_id).info.status is RunStatus.FINISHED


def test_a_failing_block_keeps_its_own_exception(tracking_uri: str) -> None:
    with pytest.raises(ZeroDivisionError) as e, cairn.start_run() as run:
        cairn.log_param("lr", 0.1, synchronous=False)
        cairn.log_param("lr", 0.2, synchronous=False)
        1 / 0  # noqa: B018
    notes = "\n".join(getattr(e.value, "__notes__", []))
    assert f"Ending run {run.info.run_id} also failed" in notes
    assert "Changing param values" in notes
    assert cairn.get_run(run.info.run_id).info.status is RunStatus.FAILED


def test_run_operations_wait_raises_that_runs_failure(sqlite_store: Any) -> None:
    c = CairnClient(store=sqlite_store)
    missing = "0" * 32
    op = c.set_tag(missing, "k", "v", synchronous=False)
    assert op is not None
    with pytest.raises(ResourceDoesNotExist):
        op.wait()


def test_flush_functions_raise_failures(tracking_uri: str) -> None:
    for flush in (cairn.flush, cairn.flush_async_logging):
        with cairn.start_run():
            cairn.log_params({"p": 1}, synchronous=False)
            cairn.log_params({"p": 2}, synchronous=False)
            with pytest.raises(InvalidParameterValue):
                flush()


# -- choosing the mode -----------------------------------------------------------------------


def test_the_sql_store_writes_synchronously_by_default(sqlite_store: Any) -> None:
    store = GatedStore(sqlite_store)
    store.gate.set()
    c = CairnClient(store=store)  # type: ignore[arg-type]
    run_id = _run_id(c)
    c.log_metric(run_id, "m", 1.0)
    assert store.requests == []  # not queued: written by log_metric itself


def test_remote_stores_queue_unless_told_otherwise(
    sqlite_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RemoteLikeStore(sqlite_store)
    c = CairnClient(store=store)  # type: ignore[arg-type]
    run_id = _run_id(c)
    assert isinstance(c.log_metric(run_id, "m", 1.0), RunOperations)
    assert c.log_metric(run_id, "m", 2.0, synchronous=True) is None
    monkeypatch.setenv("CAIRN_SYNCHRONOUS_LOGGING", "true")
    assert c.log_metric(run_id, "m", 3.0) is None
    assert isinstance(c.log_metric(run_id, "m", 4.0, synchronous=False), RunOperations)
    c.flush()
    assert [m.value for m in c.get_metric_history(run_id, "m")] == [1.0, 2.0, 3.0, 4.0]


def test_http_tracking_uris_count_as_remote() -> None:
    from cairn.tracking.client import _is_remote

    assert _is_remote(object(), "https://tracking.example.com")  # type: ignore[arg-type]
    assert not _is_remote(object(), "sqlite:///x.db")  # type: ignore[arg-type]


# -- concurrency, exit, fork -----------------------------------------------------------------


def test_many_threads_log_at_once(tracking_uri: str) -> None:
    c = CairnClient(tracking_uri)
    run_id = _run_id(c)

    def work(n: int) -> None:
        for step in range(400):
            c.log_metric(run_id, f"t{n}", float(step), step=step, synchronous=False)
            if step % 100 == 0:
                c.set_tag(run_id, f"thread{n}", str(step), synchronous=False)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c.flush()
    run = c.get_run(run_id)
    for n in range(8):
        assert [m.step for m in c.get_metric_history(run_id, f"t{n}")] == list(range(400))
        assert run.data.tags[f"thread{n}"] == "300"


def test_a_full_queue_makes_writers_wait(sqlite_store: Any) -> None:
    q = LogQueue(max_pending=10)
    store = GatedStore(sqlite_store)
    run_id = _run_id(CairnClient(store=sqlite_store))
    writer = threading.Thread(
        target=lambda: [q.put(store, run_id, [Metric("m", 1.0, 1, i)]) for i in range(40)]  # type: ignore[arg-type]
    )
    writer.start()
    assert store.entered.wait(10)
    writer.join(0.5)
    assert writer.is_alive()  # blocked: the sender holds one batch, ten more are waiting
    store.gate.set()
    writer.join(30)
    q.flush()
    assert len(sqlite_store.get_metric_history(run_id, "m")) == 40


def test_without_a_thread_the_caller_sends(sqlite_store: Any) -> None:
    class NoThreads(LogQueue):
        def _ensure_sender(self) -> bool:
            return False  # as at interpreter shutdown

    q = NoThreads()
    run_id = _run_id(CairnClient(store=sqlite_store))
    q.put(sqlite_store, run_id, [Metric("m", 1.0, 1, 0)])
    assert q.idle
    assert sqlite_store.get_run(run_id).data.metrics == {"m": 1.0}


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


_SLOW_STORE = """
import time, cairn
from cairn.tracking.client import CairnClient
from cairn.store.sql.store import SqlTrackingStore

class Slow(SqlTrackingStore):
    def log_batch(self, *args, **kwargs):
        time.sleep(0.3)  # the program exits long before this is done
        super().log_batch(*args, **kwargs)

c = CairnClient(store=Slow({uri!r}, {root!r}))
run_id = c.create_run("0").info.run_id
print(run_id)
"""


def test_exit_sends_what_is_queued(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'exit.db'}"
    code = _SLOW_STORE.format(uri=uri, root=str(tmp_path)) + (
        "for i in range(3000):\n"
        "    c.log_metric(run_id, 'm', float(i), step=i, synchronous=False)\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    run_id = done.stdout.strip()
    history = CairnClient(uri).get_metric_history(run_id, "m")
    assert [m.step for m in history] == list(range(3000))


def test_failures_at_exit_are_printed(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'exit.db'}"
    code = _SLOW_STORE.format(uri=uri, root=str(tmp_path)) + (
        "c.log_param(run_id, 'lr', 1, synchronous=False)\n"
        "c.log_param(run_id, 'lr', 2, synchronous=False)\n"
    )
    done = _python(code)
    assert done.returncode == 0
    assert "1 background logging request failed" in done.stderr
    assert "Changing param values is not allowed" in done.stderr
    assert done.stdout.strip() in done.stderr  # names the run


def test_fluent_runs_left_open_are_flushed_at_exit(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'exit.db'}"
    code = (
        f"import cairn\ncairn.set_tracking_uri({uri!r})\n"
        "run = cairn.start_run()\nprint(run.info.run_id)\n"
        "for i in range(500):\n"
        "    cairn.log_metric('m', float(i), step=i, synchronous=False)\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    run = CairnClient(uri).get_run(done.stdout.strip())
    assert run.info.status is RunStatus.FINISHED
    assert run.data.metrics == {"m": 499.0}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_with_an_empty_queue(gated: GatedStore, tmp_path: Path) -> None:
    c = CairnClient(store=gated)  # type: ignore[arg-type]
    run_id = _run_id(c)
    c.log_metric(run_id, "parent", 1.0, synchronous=False)
    assert gated.entered.wait(10)  # the sender is mid-request, holding its locks
    child_uri = f"sqlite:///{tmp_path / 'child.db'}"
    pid = os.fork()
    if pid == 0:  # the child: log and flush through its own queue and thread
        status = 1
        try:
            q = async_logging.queue()
            child = CairnClient(child_uri)
            child_run = child.create_run("0").info.run_id
            ok = q.idle
            child.log_metric(child_run, "child", 2.0, synchronous=False)
            child.flush()
            ok = ok and child.get_run(child_run).data.metrics == {"child": 2.0}
            status = 0 if ok else 2
        finally:
            os._exit(status)
    deadline = time.monotonic() + 60
    while True:
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            pytest.fail("the forked child deadlocked")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 0
    gated.gate.set()
    assert c.get_run(run_id).data.metrics == {"parent": 1.0}


# -- against a real server -------------------------------------------------------------------


def test_fluent_logging_to_a_server_lands_in_full(live_server: Any) -> None:
    cairn.set_tracking_uri(live_server.url)
    cairn.set_experiment(f"async-{time.time_ns()}")
    run = cairn.start_run()
    started = time.perf_counter()
    for step in range(1_000):
        cairn.log_metric("loss", step * 0.1, step=step)
    cairn.end_run()
    elapsed = time.perf_counter() - started
    print(f"1,000 fluent log_metric calls + end_run against a server: {elapsed * 1000:.0f} ms")
    history = CairnClient(live_server.url).get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(1_000))
    assert cairn.get_run(run.info.run_id).info.status is RunStatus.FINISHED


def test_a_server_side_failure_surfaces_with_the_servers_message(live_server: Any) -> None:
    cairn.set_tracking_uri(live_server.url)
    cairn.set_experiment(f"async-fail-{time.time_ns()}")
    with cairn.start_run() as run:
        cairn.log_param("lr", 0.1)
        cairn.log_metric("loss", 1.0)
        cairn.log_param("lr", 0.2)  # queued: the server refuses it
        with pytest.raises(InvalidParameterValue, match="lr") as e:
            cairn.flush()
        cairn.log_metric("loss", 0.5, step=1)
    assert "Cairn sent this in the background" in "\n".join(e.value.__notes__)
    assert cairn.get_run(run.info.run_id).data.params == {"lr": "0.1"}
    assert len(cairn.CairnClient(live_server.url).get_metric_history(run.info.run_id, "loss")) == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs setitimer (POSIX)")
def test_a_signal_handler_may_flush_while_logging(tmp_path: Path) -> None:
    """A handler (say for SIGTERM) that flushes can interrupt the main thread inside the
    queue's own critical section: it must wait for the sender, not deadlock."""
    uri = f"sqlite:///{tmp_path / 'signal.db'}"
    code = f"""
import signal
from cairn.tracking.client import CairnClient
c = CairnClient({uri!r})
run_id = c.create_run("0").info.run_id
flushes = []
def handler(signum, frame):
    c.flush()
    flushes.append(1)
    signal.setitimer(signal.ITIMER_REAL, 0.001)  # re-armed here: handlers never nest
signal.signal(signal.SIGALRM, handler)
signal.setitimer(signal.ITIMER_REAL, 0.001)
for i in range(20000):
    c.log_metric(run_id, "m", float(i), step=i, synchronous=False)
signal.setitimer(signal.ITIMER_REAL, 0)
c.flush()
print(len(flushes), len(c.get_metric_history(run_id, "m")))
"""
    done = _python(code)
    assert done.returncode == 0, done.stderr
    flushes, points = map(int, done.stdout.split())
    assert flushes > 0
    assert points == 20000
