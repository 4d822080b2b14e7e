"""Reading the next page of a search ahead (`cairn.server.readahead`): what is read ahead,
when a page read ahead may be answered, and that paging through a real server sees every
write made between pages."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
import orjson
import pytest

from cairn.server.readahead import BULK, ReadAhead
from cairn.server.wire import Encoded
from tests.server_process import ServerProcess

API = "/api/2.0/mlflow"
MAX_RESULTS = 100  # the largest page read ahead


class Search:
    """A search over `items`, `page_token` being an offset; remembers every read."""

    def __init__(self, items: list[str]) -> None:
        self.items = items
        self.version = 1  # the "database's" data_version
        self.reads: list[int] = []
        self.failing: set[int] = set()  # offsets whose next read raises
        self.unreleased = 0  # answers read but not yet released
        self.lock = threading.Lock()

    def __call__(self, fields: dict[str, Any]) -> Encoded:
        offset = int(fields.get("page_token") or 0)
        size = fields.get("max_results") or 2
        with self.lock:
            self.reads.append(offset)
            if offset in self.failing:
                self.failing.discard(offset)
                raise RuntimeError(f"reading offset {offset} failed")
        token = str(offset + size) if offset + size < len(self.items) else None
        self.unreleased += 1
        return Encoded(orjson.dumps(self.items[offset : offset + size]), token, self.release)

    def release(self) -> None:
        with self.lock:
            self.unreleased -= 1

    def read_ahead(self) -> ReadAhead:
        return ReadAhead(self, lambda: self.version, MAX_RESULTS)

    def wait_for_read(self, offset: int) -> None:
        deadline = time.monotonic() + 10
        while offset not in self.reads:
            assert time.monotonic() < deadline, f"offset {offset} was never read: {self.reads}"
            time.sleep(0.005)


def ask(ahead: ReadAhead, caller: Any, fields: dict[str, Any]) -> bytes:
    """As the server asks: the answer, then (once it is sent) what follows it: freeing what
    the answer was built from, starting the next read."""
    body, then = ahead.answer(caller, fields)
    if then is not None:
        then()
    return body


def page(body: bytes) -> list[str]:
    return list(orjson.loads(body))


ITEMS = [f"run-{i}" for i in range(7)]


def test_a_first_page_is_answered_without_reading_ahead() -> None:
    search = Search(ITEMS)
    ahead = search.read_ahead()
    assert page(ask(ahead, None, {"max_results": 2})) == ["run-0", "run-1"]
    time.sleep(0.05)
    assert search.reads == [0]


def test_a_bulk_first_page_is_read_on_from() -> None:
    search = Search([f"run-{i}" for i in range(3 * BULK)])
    ahead = ReadAhead(search, lambda: search.version, BULK)
    assert len(page(ask(ahead, None, {"max_results": BULK}))) == BULK
    search.wait_for_read(BULK)
    ask(ahead, None, {"max_results": BULK, "page_token": str(BULK)})
    assert search.reads[:2] == [0, BULK]


def test_following_a_token_reads_the_next_page_ahead_and_answers_from_it() -> None:
    search = Search(ITEMS)
    ahead = search.read_ahead()
    assert page(ask(ahead, None, {"max_results": 2, "page_token": "2"})) == ["run-2", "run-3"]
    search.wait_for_read(4)
    assert page(ask(ahead, None, {"max_results": 2, "page_token": "4"})) == ["run-4", "run-5"]
    search.wait_for_read(6)
    assert page(ask(ahead, None, {"max_results": 2, "page_token": "6"})) == ["run-6"]
    assert search.reads == [2, 4, 6]  # each page read once; the last has no next page
    assert search.unreleased == 0  # what every page was built from has been freed


def test_what_an_answer_read_at_its_request_was_built_from_is_freed_once_it_is_sent() -> None:
    search = Search(ITEMS)
    ahead = search.read_ahead()
    body, then = ahead.answer(None, {"max_results": 2})  # a small first page: nothing follows
    assert page(body) == ["run-0", "run-1"] and then is not None
    assert search.unreleased == 1  # kept (with the collector paused) while the body is sent
    then()
    assert search.unreleased == 0
    time.sleep(0.05)
    assert search.reads == [0]


def test_the_next_page_is_read_only_once_the_answer_is_sent() -> None:
    search = Search(ITEMS)
    ahead = search.read_ahead()
    body, follow = ahead.answer(None, {"max_results": 2, "page_token": "2"})
    assert page(body) == ["run-2", "run-3"] and follow is not None
    time.sleep(0.05)
    assert search.reads == [2]  # a start never made reads nothing and holds nothing
    assert page(ask(ahead, None, {"max_results": 2, "page_token": "4"})) == ["run-4", "run-5"]
    assert search.reads[:2] == [2, 4]  # read at its request (then 6 is read ahead)


def test_a_commit_after_a_page_was_read_ahead_discards_it() -> None:
    search = Search(list(ITEMS))
    ahead = search.read_ahead()
    ask(ahead, None, {"max_results": 2, "page_token": "2"})
    search.wait_for_read(4)
    time.sleep(0.05)  # the page read ahead is complete
    search.items[4] = "run-4, renamed"
    search.version += 1
    answer = ask(ahead, None, {"max_results": 2, "page_token": "4"})
    assert page(answer) == ["run-4, renamed", "run-5"]
    assert search.reads[:3] == [2, 4, 4]


def test_a_page_read_ahead_for_one_caller_is_not_answered_to_another() -> None:
    search = Search(ITEMS)
    ahead = search.read_ahead()
    ask(ahead, ("ann", False), {"max_results": 2, "page_token": "2"})
    search.wait_for_read(4)
    ask(ahead, ("bob", False), {"max_results": 2, "page_token": "4"})
    assert search.reads[:3] == [2, 4, 4]
    ask(ahead, ("ann", False), {"max_results": 2, "page_token": "4"})
    assert search.reads.count(4) == 2  # ann's page was still there, and answered


def test_different_fields_are_a_different_page() -> None:
    search = Search(ITEMS)
    ahead = search.read_ahead()
    ask(ahead, None, {"max_results": 2, "page_token": "2", "filter": "a"})
    search.wait_for_read(4)
    ask(ahead, None, {"max_results": 2, "page_token": "4", "filter": "b"})
    assert search.reads[:3] == [2, 4, 4]


def test_a_failed_read_ahead_is_read_again_at_the_request() -> None:
    search = Search(ITEMS)
    search.failing = {4}
    ahead = search.read_ahead()
    ask(ahead, None, {"max_results": 2, "page_token": "2"})
    search.wait_for_read(4)
    assert page(ask(ahead, None, {"max_results": 2, "page_token": "4"})) == ["run-4", "run-5"]
    assert search.reads[:3] == [2, 4, 4]


def test_an_error_at_the_request_is_the_requests_own() -> None:
    search = Search(ITEMS)
    search.failing = {2}
    with pytest.raises(RuntimeError, match="offset 2"):
        ask(search.read_ahead(), None, {"max_results": 2, "page_token": "2"})


def test_a_page_nobody_asked_for_in_time_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    from cairn.server import readahead

    monkeypatch.setattr(readahead, "KEEP_SECONDS", 0.0)
    search = Search(ITEMS)
    ahead = search.read_ahead()
    ask(ahead, None, {"max_results": 2, "page_token": "2"})
    search.wait_for_read(4)
    time.sleep(0.01)
    ask(ahead, None, {"max_results": 2})  # any request to the endpoint sweeps
    ask(ahead, None, {"max_results": 2, "page_token": "4"})
    assert search.reads[:4] == [2, 4, 0, 4]


def test_large_pages_are_not_read_ahead() -> None:
    search = Search([f"run-{i}" for i in range(2 * MAX_RESULTS + 2)])
    ahead = search.read_ahead()
    ask(ahead, None, {"max_results": MAX_RESULTS + 1, "page_token": "1"})
    time.sleep(0.05)
    assert search.reads == [1]


def test_nothing_is_answered_from_a_read_ahead_when_the_database_cannot_tell() -> None:
    search = Search(ITEMS)
    ahead = ReadAhead(search, lambda: None, MAX_RESULTS)
    ask(ahead, None, {"max_results": 2, "page_token": "2"})
    time.sleep(0.05)
    assert page(ask(ahead, None, {"max_results": 2, "page_token": "4"})) == ["run-4", "run-5"]
    assert 4 in search.reads


# -- through a real server ----------------------------------------------------------------


def _create_runs(http: httpx.Client, count: int) -> tuple[str, list[str]]:
    created = http.post(f"{API}/experiments/create", json={"name": f"ahead-{uuid.uuid4().hex}"})
    experiment_id = created.json()["experiment_id"]
    run_ids = []
    for i in range(count):
        body = {"experiment_id": experiment_id, "start_time": 1_000_000 + i}
        run_ids.append(http.post(f"{API}/runs/create", json=body).json()["run"]["info"]["run_id"])
    return experiment_id, run_ids[::-1]  # newest first: the search's default order


def _search(http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post(f"{API}/runs/search", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_paging_through_a_server_sees_writes_made_between_pages(
    live_server: ServerProcess,
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        experiment_id, newest_first = _create_runs(http, 9)
        body: dict[str, Any] = {"experiment_ids": [experiment_id], "max_results": 3}
        first = _search(http, body)
        second = _search(http, {**body, "page_token": first["next_page_token"]})
        time.sleep(0.3)  # the third page has been read ahead by now
        on_third = newest_first[7]
        tag = {"run_id": on_third, "key": "between", "value": "pages"}
        assert http.post(f"{API}/runs/set-tag", json=tag).status_code == 200
        third = _search(http, {**body, "page_token": second["next_page_token"]})

        pages = [first, second, third]
        assert [r["info"]["run_id"] for p in pages for r in p["runs"]] == newest_first
        assert "next_page_token" not in third
        tags = {t["key"]: t["value"] for t in third["runs"][1]["data"]["tags"]}
        assert tags["between"] == "pages"
        # Every page is what reading it now gives.
        again = _search(http, {**body, "page_token": second["next_page_token"]})
        assert again == third


def test_a_page_read_ahead_is_the_page_read_at_the_request(live_server: ServerProcess) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        experiment_id, _ = _create_runs(http, 12)
        body: dict[str, Any] = {
            "experiment_ids": [experiment_id],
            "max_results": 4,
            "order_by": ["attributes.start_time ASC"],
        }
        token = _search(http, body)["next_page_token"]
        second = _search(http, {**body, "page_token": token})
        time.sleep(0.3)
        third = _search(http, {**body, "page_token": second["next_page_token"]})
        assert third == _search(http, {**body, "page_token": second["next_page_token"]})
        whole = _search(http, {**body, "max_results": 12})["runs"]
        assert second["runs"] + third["runs"] == whole[4:]


def test_paging_through_a_metric_history_sees_points_logged_between_pages(
    live_server: ServerProcess,
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        _, (run_id,) = _create_runs(http, 1)
        points = [
            {"key": "loss", "value": step / 10, "timestamp": 5, "step": step} for step in range(30)
        ]
        body = {"run_id": run_id, "metrics": points}
        assert http.post(f"{API}/runs/log-batch", json=body).status_code == 200
        query: dict[str, Any] = {"run_id": run_id, "metric_key": "loss", "max_results": 10}
        first = http.get(f"{API}/metrics/get-history", params=query).json()
        query["page_token"] = first["next_page_token"]
        second = http.get(f"{API}/metrics/get-history", params=query).json()
        time.sleep(0.3)  # the third page has been read ahead by now
        late = {"run_id": run_id, "key": "loss", "value": 99.5, "timestamp": 6, "step": 25}
        assert http.post(f"{API}/runs/log-metric", json=late).status_code == 200
        query["page_token"] = second["next_page_token"]
        third = http.get(f"{API}/metrics/get-history", params=query).json()
        values = [p["value"] for p in third["metrics"]]
        assert 99.5 in values
        assert len(first["metrics"]) + len(second["metrics"]) == 20
