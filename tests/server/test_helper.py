"""The read helper (`cairn.server.helper`): a second process that reads the later half of a
big metric history while the server reads the first. It can only make an answer sooner: what
the server sends is what it would have read alone, and it reads alone whenever the helper is
busy, failed or gone, or the database changed between the halves."""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cairn.entities import Metric
from cairn.server.app import server_context
from cairn.server.config import ServerConfig
from cairn.server.context import ServerContext
from cairn.server.handlers import runs
from cairn.server.helper import Pending, ReadHelper
from cairn.transport.codec import wire_double
from tests.server_process import start_server

API = "/api/2.0/mlflow"
POINTS = runs.HALVES_FROM + 5_000


def history_values(n: int) -> list[float]:
    """Values with NaN and ±inf in both halves of the steps, and many that are not round."""
    values = [i / 7 for i in range(n)]
    for at in (3, n // 2 + 11, n - 2):
        values[at], values[at + 1] = math.nan, -math.inf
    values[n // 4] = math.inf
    return values


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    return ServerConfig(
        backend_store_uri=f"sqlite:///{tmp_path / 'db.sqlite'}",
        artifacts_destination=str(tmp_path / "artifacts"),
    ).resolved()


@pytest.fixture
def ctx(config: ServerConfig) -> ServerContext:
    return server_context(config)


@pytest.fixture
def run_id(ctx: ServerContext) -> str:
    run_id = ctx.store.create_run("0").info.run_id
    values = history_values(POINTS)
    for first in range(0, POINTS, 1_000):
        batch = [Metric("m", values[i], 1_000 + i, i) for i in range(first, first + 1_000)]
        ctx.store.log_batch(run_id, metrics=batch)
    return run_id


@pytest.fixture
def helper(config: ServerConfig) -> Iterator[ReadHelper]:
    helper = ReadHelper(config)
    helper.start()
    yield helper
    helper.close()


def serving(helper: ReadHelper, run_id: str) -> Pending:
    """The first request the helper takes, once it has started."""
    deadline = time.monotonic() + 30
    while (pending := helper.ask(part(run_id, 0))) is None:
        assert time.monotonic() < deadline, "the helper did not start"
        time.sleep(0.02)
    return pending


def part(run_id: str, first: int, before: int | None = None) -> dict[str, Any]:
    return {"history": run_id, "key": "m", "steps": [first, before]}


def points_of(ctx: ServerContext, run_id: str, first: int | None, before: int | None) -> bytes:
    page = ctx.store.get_metric_history_dicts(
        run_id, "m", non_finite=wire_double, steps=(first, before)
    )
    return orjson.dumps(list(page))


def fields(run_id: str) -> dict[str, Any]:
    return {"run_id": run_id, "metric_key": "m", "max_results": None, "page_token": None}


def test_the_helper_reads_a_part_of_a_history_as_the_server_would(
    ctx: ServerContext, helper: ReadHelper, run_id: str
) -> None:
    assert serving(helper, run_id).result() == points_of(ctx, run_id, 0, None)
    pending = helper.ask(part(run_id, 12_345, 20_000))
    assert pending is not None
    assert pending.result() == points_of(ctx, run_id, 12_345, 20_000)


def test_the_helper_takes_one_request_at_a_time(helper: ReadHelper, run_id: str) -> None:
    pending = serving(helper, run_id)
    assert helper.ask(part(run_id, 10)) is None  # busy: the server reads it itself
    assert pending.result() is not None
    again = helper.ask(part(run_id, 10))
    assert again is not None and again.result() is not None


def test_what_the_helper_cannot_read_the_server_reads_itself(
    helper: ReadHelper, run_id: str
) -> None:
    serving(helper, run_id).result()
    unknown = helper.ask({"history": "f" * 32, "key": "m", "steps": [0, None]})
    assert unknown is not None and unknown.result() is None  # the server reports the error
    still = helper.ask(part(run_id, 0, 10))
    assert still is not None and still.result() is not None


def test_a_helper_that_died_is_asked_nothing_more(
    helper: ReadHelper, run_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    serving(helper, run_id).result()
    assert helper.pid is not None
    os.kill(helper.pid, signal.SIGKILL)
    time.sleep(0.2)
    assert helper.ask(part(run_id, 0)) is None
    assert helper.ask(part(run_id, 0)) is None
    assert "stopped being used" in caplog.text


def test_a_helper_that_dies_while_reading_gives_no_answer(helper: ReadHelper, run_id: str) -> None:
    serving(helper, run_id).result()
    pending = helper.ask(part(run_id, 0))
    assert pending is not None and helper.pid is not None
    os.kill(helper.pid, signal.SIGKILL)
    assert pending.result() is None
    assert helper.ask(part(run_id, 0)) is None


def test_closing_ends_the_helper(helper: ReadHelper, run_id: str) -> None:
    serving(helper, run_id).result()
    pid = helper.pid
    helper.close()
    assert helper.pid is None and helper.ask(part(run_id, 0)) is None
    assert pid is not None and not Path(f"/proc/{pid}").exists()


def test_a_helper_not_started_or_still_starting_is_not_waited_for(
    config: ServerConfig, run_id: str
) -> None:
    helper = ReadHelper(config)
    assert helper.ask(part(run_id, 0)) is None
    helper.start()
    try:
        assert helper.ask(part(run_id, 0)) is None  # still importing and opening the database
    finally:
        helper.close()


def test_a_whole_history_is_read_in_halves_and_joined(
    ctx: ServerContext, helper: ReadHelper, run_id: str
) -> None:
    serving(helper, run_id).result()
    halves = runs._read_in_halves(ctx, helper, run_id, "m")
    assert halves is not None and len(halves) == 2
    assert orjson.dumps(halves) == points_of(ctx, run_id, None, None)


class CommittingHelper(ReadHelper):
    """A helper whose every request is followed, at once, by a write to the database."""

    def __init__(self, config: ServerConfig, ctx: ServerContext, run_id: str) -> None:
        super().__init__(config)
        self.ctx, self.run_id = ctx, run_id
        self.writes = 0

    def ask(self, request: dict[str, Any]) -> Pending | None:
        pending = super().ask(request)
        self.writes += 1
        self.ctx.store.log_batch(self.run_id, metrics=[Metric("m", 0.25, self.writes, -1)])
        return pending


def test_halves_read_across_a_commit_are_not_joined(
    config: ServerConfig, ctx: ServerContext, run_id: str
) -> None:
    helper = CommittingHelper(config, ctx, run_id)
    helper.start()
    try:
        serving(helper, run_id).result()
        assert runs._read_in_halves(ctx, helper, run_id, "m") is None
        answer = runs.get_history(ctx, fields(run_id))
    finally:
        helper.close()
    assert orjson.dumps(answer["metrics"]) == points_of(ctx, run_id, None, None)
    assert len(answer["metrics"]) == POINTS + helper.writes


def test_small_or_paged_histories_are_read_by_the_server_alone(
    ctx: ServerContext, helper: ReadHelper, run_id: str
) -> None:
    serving(helper, run_id).result()
    small = ctx.store.create_run("0").info.run_id
    ctx.store.log_batch(small, metrics=[Metric("m", 1.0, 1, step) for step in range(100)])
    assert runs._read_in_halves(ctx, helper, small, "m") is None
    paged = runs.get_history(ctx, {**fields(run_id), "max_results": POINTS})
    assert len(paged["metrics"]) == POINTS and "next_page_token" not in paged


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


@pytest.mark.parametrize("option", ["--read-helper", "--no-read-helper"])
def test_a_server_answers_a_whole_history_the_same_with_or_without_its_helper(
    tmp_path: Path, option: str
) -> None:
    server = start_server(tmp_path / option, option)
    try:
        with httpx.Client(base_url=server.url + API, timeout=60) as client:
            run_id = client.post("/runs/create", json={"experiment_id": "0"}).json()["run"]["info"][
                "run_id"
            ]
            values = history_values(POINTS)
            for first in range(0, POINTS, 1_000):
                metrics = [
                    {"key": "m", "value": wire_double(values[i]), "timestamp": i, "step": i}
                    for i in range(first, first + 1_000)
                ]
                assert client.post(
                    "/runs/log-batch", json={"run_id": run_id, "metrics": metrics}
                ).is_success
            params = {"run_id": run_id, "metric_key": "m"}
            deadline = time.monotonic() + 30
            while option == "--read-helper" and not children(server.pid):
                assert time.monotonic() < deadline, "no helper process"
                time.sleep(0.05)
            time.sleep(1.0 if option == "--read-helper" else 0)  # let it start serving
            whole = client.get("/metrics/get-history", params=params).json()["metrics"]
            paged: list[dict[str, Any]] = []
            token = None
            while True:
                query = {**params, "max_results": 7_000, **({"page_token": token} if token else {})}
                page = client.get("/metrics/get-history", params=query).json()
                paged += page["metrics"]
                token = page.get("next_page_token")
                if not token:
                    break
        assert whole == paged and len(whole) == POINTS
        assert [p["value"] for p in whole[3:5]] == ["NaN", "-Infinity"]
        assert whole[POINTS // 4]["value"] == "Infinity"
        helpers = children(server.pid)
        assert bool(helpers) == (option == "--read-helper")
    finally:
        server.stop()
    for pid in helpers:  # stopped with the server
        assert not Path(f"/proc/{pid}").exists() or "zombie" in status_of(pid)


def status_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return "zombie"
