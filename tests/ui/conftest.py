"""Fixtures for the web UI: a real `cairn server`, data logged through its REST API, and a
client that keeps the UI's CSRF cookie."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

API = "/api/2.0/mlflow"


@dataclass
class Logged:
    """What `logged` put on the server."""

    experiment_id: str
    experiment_name: str
    run_ids: dict[str, str]  # run name -> run id


class UiClient:
    """An httpx client for the UI plus the REST calls that set the data up."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)

    def close(self) -> None:
        self.http.close()

    def api(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(API + path, json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def experiment(self, name: str | None = None) -> tuple[str, str]:
        name = name or f"ui-{uuid.uuid4().hex[:10]}"
        return self.api("/experiments/create", {"name": name})["experiment_id"], name

    def run(self, experiment_id: str, name: str, start_time: int, **batch: Any) -> str:
        tags = batch.pop("tags", [])
        run_id: str = self.api(
            "/runs/create",
            {"experiment_id": experiment_id, "run_name": name, "start_time": start_time,
             "tags": tags},
        )["run"]["info"]["run_id"]  # fmt: skip
        if batch:
            self.api("/runs/log-batch", {"run_id": run_id, **batch})
        return run_id

    def token(self) -> str:
        """The CSRF token: from the cookie a page sets (fetching one if needed)."""
        if "cairn_csrf" not in self.http.cookies:
            assert self.http.get("/").status_code == 200
        return str(self.http.cookies["cairn_csrf"])

    def post_form(self, path: str, fields: dict[str, str], *, token: bool = True) -> httpx.Response:
        data = dict(fields)
        if token:
            data["csrf_token"] = self.token()
        return self.http.post(path, data=data)

    def upload(self, run_id: str, path: str, body: bytes) -> None:
        run = self.http.get(API + "/runs/get", params={"run_id": run_id}).json()["run"]
        uri: str = run["info"]["artifact_uri"]
        assert uri.startswith("mlflow-artifacts:/"), uri
        location = uri.removeprefix("mlflow-artifacts:").lstrip("/")
        response = self.http.put(
            f"/api/2.0/mlflow-artifacts/artifacts/{location}/{path}", content=body
        )
        assert response.status_code == 200, response.text


@pytest.fixture
def ui(live_server: Any) -> Iterator[UiClient]:
    client = UiClient(live_server.url)
    yield client
    client.close()


def metric_points(key: str, count: int, *, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"key": key, "value": float(i) / max(count, 1), "timestamp": start + i, "step": i}
        for i in range(count)
    ]


@pytest.fixture
def logged(ui: UiClient) -> Logged:
    """An experiment of five runs (a parent with two children among them), metrics, params,
    tags, and a name that tries to inject markup."""
    eid, name = ui.experiment(f"ui <script>alert('x')</script> {uuid.uuid4().hex[:8]}")
    runs: dict[str, str] = {}
    for i, (run_name, acc) in enumerate(
        [("alpha", 0.7), ("beta", 0.9), ("gamma", 0.8), ("delta", 0.6)]
    ):
        runs[run_name] = ui.run(
            eid,
            run_name,
            1_000_000 + i * 1000,
            metrics=[*metric_points("loss", 5, start=1_000_000 + i * 1000),
                     {"key": "acc", "value": acc, "timestamp": 1_000_000, "step": 4}],
            params=[{"key": "lr", "value": str(0.1 * (i + 1))}, {"key": "model", "value": "cnn"}],
            tags=[{"key": "team", "value": "vision"},
                  {"key": "mlflow.source.name", "value": "train.py"}],
        )  # fmt: skip
    runs["child"] = ui.run(
        eid,
        "child-of-beta",
        1_000_000 + 9000,
        metrics=[{"key": "acc", "value": 0.5, "timestamp": 1, "step": 0}],
        tags=[{"key": "mlflow.parentRunId", "value": runs["beta"]}],
    )
    runs["xss"] = ui.run(
        eid,
        "<script>alert('run')</script>",
        1_000_000 + 10_000,
        tags=[{"key": "note", "value": "<img src=x onerror=alert(1)>"}],
        params=[{"key": "html", "value": "<script>p()</script>"}],
    )
    return Logged(eid, name, runs)


def text_of(html: str) -> str:
    """The page's text with tags removed and whitespace collapsed (for readable asserts)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
