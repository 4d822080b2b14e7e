"""The scoring app in process: routes, every answer's status and body, metrics and logs."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from cairn.models import ColSpec, DataType, ModelSignature, ParamSchema, ParamSpec, Schema
from cairn.serving.capture import Capture
from tests.serving.conftest import FakeModel

SIGNATURE = ModelSignature(
    Schema([ColSpec(DataType.double, "x"), ColSpec(DataType.long, "n")]),
    params=ParamSchema([ParamSpec("scale", DataType.double, 1.0)]),
)


def _scaled(frame: pd.DataFrame, params: dict[str, Any]) -> np.ndarray:
    return (frame["x"] * frame["n"] * params["scale"]).to_numpy()


def _fail(data: Any, params: dict[str, Any]) -> Any:
    if getattr(data, "shape", (0,))[0] == 3:
        raise ZeroDivisionError("three rows")
    return _scaled(data, params)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_invocations_with_params(make_app: Any) -> None:
    served = make_app(FakeModel(_scaled, SIGNATURE))

    async def go() -> Any:
        return await served.client.post(
            "/invocations",
            json={
                "dataframe_split": {"columns": ["x", "n"], "data": [[1.5, 2]]},
                "params": {"scale": 2},
            },
        )

    response = run(go())
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": [6.0]}
    assert response.headers["content-type"] == "application/json"
    assert len(response.headers["x-request-id"]) == 32


def test_errors_answer_mlflow_bodies_and_the_server_carries_on(make_app: Any) -> None:
    served = make_app(FakeModel(_fail, SIGNATURE))
    good = {"dataframe_records": [{"x": 1.0, "n": 1}]}

    async def go() -> list[Any]:
        c = served.client
        return [
            await c.post(
                "/invocations", content=b"{", headers={"content-type": "application/json"}
            ),
            await c.post("/invocations", json={"dataframe_records": [{"x": 1.0}]}),
            await c.post("/invocations", json={"dataframe_records": [{"x": 1.0, "n": 1.5}]}),
            await c.post("/invocations", json={"dataframe_records": [{"x": 1.0, "n": 1}] * 3}),
            await c.post("/invocations", json=good),
            await c.post("/invocations", content=b"x", headers={"content-type": "text/plain"}),
            await c.get("/invocations"),
            await c.get("/nowhere"),
        ]

    bad_json, missing, lossy, raised, ok, unsupported, method, unknown = run(go())
    assert bad_json.status_code == 400 and bad_json.json()["error_code"] == "BAD_REQUEST"
    assert missing.status_code == 400
    assert missing.json() == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "Missing required input column: 'n' (long)",
    }
    assert lossy.status_code == 400 and "'n' should be of type long" in lossy.json()["message"]
    assert raised.status_code == 500
    assert raised.json() == {
        "error_code": "INTERNAL_ERROR",
        "message": "The model raised ZeroDivisionError: three rows",
    }
    assert ok.status_code == 200 and ok.json() == {"predictions": [1.0]}
    assert unsupported.status_code == 415 and "text/plain" in unsupported.text
    assert method.status_code == 405 and method.headers["allow"] == "POST"
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_body_limit(make_app: Any) -> None:
    served = make_app(FakeModel(_scaled, SIGNATURE), max_body_bytes=100)
    body = orjson.dumps({"dataframe_records": [{"x": 1.0, "n": 1}] * 10})

    async def go() -> Any:
        declared = await served.client.post(
            "/invocations", content=body, headers={"content-type": "application/json"}
        )

        async def chunks() -> Any:
            for i in range(0, len(body), 30):
                yield body[i : i + 30]

        streamed = await served.client.post(
            "/invocations", content=chunks(), headers={"content-type": "application/json"}
        )
        return declared, streamed

    declared, streamed = run(go())
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        assert response.headers["connection"] == "close"
    assert f"of {len(body)} bytes" in declared.json()["message"]


def test_timeout_answers_504_and_later_requests_still_work(make_app: Any) -> None:
    release = threading.Event()

    def slow(data: Any, params: dict[str, Any]) -> Any:
        if len(data) == 2:
            release.wait(5)
        return np.zeros(len(data))

    served = make_app(FakeModel(slow, SIGNATURE), timeout=0.2, threads=2)

    async def go() -> Any:
        slow_answer = await served.client.post(
            "/invocations", json={"dataframe_records": [{"x": 1.0, "n": 1}] * 2}
        )
        release.set()
        fast = await served.client.post(
            "/invocations", json={"dataframe_records": [{"x": 1.0, "n": 1}]}
        )
        return slow_answer, fast

    slow_answer, fast = run(go())
    assert slow_answer.status_code == 504
    assert slow_answer.json()["error_code"] == "DEADLINE_EXCEEDED"
    assert fast.status_code == 200


def test_health_version_metadata(make_app: Any) -> None:
    served = make_app(
        FakeModel(_scaled, SIGNATURE),
        model_uri="models:/iris/3",
        registered={"name": "iris", "version": "3"},
    )

    async def go() -> list[Any]:
        c = served.client
        return [await c.get(p) for p in ("/ping", "/health", "/version", "/metadata")]

    ping, health, version, metadata = run(go())
    assert ping.status_code == health.status_code == 200 and ping.text == "\n"
    from cairn.version import __version__

    assert version.text == __version__
    described = metadata.json()
    assert described["model_uri"] == "models:/iris/3"
    assert described["registered_model"] == {"name": "iris", "version": "3"}
    assert described["run_id"] == "r" * 32 and described["flavors"] == ["python_function"]
    assert described["signature"]["inputs"][0] == {"type": "double", "name": "x", "required": True}
    assert described["signature"]["params"][0]["name"] == "scale"


def test_metrics_count_requests_latency_and_rows(make_app: Any) -> None:
    served = make_app(FakeModel(_scaled, SIGNATURE), model_uri="m")

    async def go() -> str:
        c = served.client
        await c.post("/invocations", json={"dataframe_records": [{"x": 1.0, "n": 1}] * 4})
        await c.post("/invocations", json={"inputs": [[1.0, 2]]})
        await c.post("/invocations", json={})
        await c.get("/ping")
        return (await c.get("/metrics")).text

    text = run(go())
    assert 'cairn_serving_requests_total{path="/invocations",status="200"} 2.0' in text
    assert 'cairn_serving_requests_total{path="/invocations",status="400"} 1.0' in text
    assert 'cairn_serving_requests_total{path="/ping",status="200"} 1.0' in text
    assert "cairn_serving_rows_scored_total 5.0" in text
    assert 'cairn_serving_request_duration_seconds_count{path="/invocations"} 3.0' in text
    assert 'cairn_serving_request_duration_seconds_bucket{le="0.0005",path="/invocations"}' in text
    assert 'cairn_serving_model_info{model_uri="m"' in text


def test_request_log_lines_are_json(make_app: Any) -> None:
    served = make_app(FakeModel(_scaled, SIGNATURE))

    async def go() -> None:
        c = served.client
        await c.post(
            "/invocations",
            json={"dataframe_records": [{"x": 1.0, "n": 1}]},
            headers={"x-request-id": "abc"},
        )
        await c.post("/invocations", json={"inputs": 1, "instances": 2})
        await c.get("/ping")  # probes are not logged when they succeed

    run(go())
    lines = [orjson.loads(line) for line in served.log_lines()]
    assert len(lines) == 2
    ok, bad = lines
    assert ok["request_id"] == "abc" and ok["status"] == 200 and ok["rows"] == 1
    assert ok["path"] == "/invocations" and ok["method"] == "POST" and ok["client"] == "127.0.0.1"
    assert ok["duration_ms"] >= 0 and ok["time"].endswith("Z")
    assert (
        bad["status"] == 400
        and bad["error_code"] == "BAD_REQUEST"
        and "exactly one" in bad["message"]
    )


def test_capture_writes_replayable_lines(make_app: Any, tmp_path: Any) -> None:
    path = tmp_path / "capture" / "scored.jsonl"
    served = make_app(FakeModel(_scaled, SIGNATURE), capture=Capture(path, 1.0))
    pretty = b'{\n  "dataframe_records": [{"x": 2.0, "n": 1}]\n}'

    async def go() -> None:
        c = served.client
        await c.post("/invocations", content=pretty, headers={"content-type": "application/json"})
        await c.post("/invocations", content=b"x,n\n3.0,1\n", headers={"content-type": "text/csv"})
        await c.post("/invocations", json={"inputs": 1, "instances": 2})  # errors are not captured

    run(go())
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert len(lines) == 2
    assert lines[0]["request"] == {"dataframe_records": [{"x": 2.0, "n": 1}]}
    assert lines[0]["response"] == {"predictions": [2.0]}
    assert lines[1]["request"]["dataframe_split"]["columns"] == ["x", "n"]
    assert lines[1]["response"] == {"predictions": [3.0]}
    assert lines[0]["model_uuid"] == served.app.model_uuid and len(lines[0]["request_id"]) == 32


def test_model_without_metadata_or_signature(make_app: Any) -> None:
    class Bare:
        def predict(self, data: Any, params: Any = None) -> Any:
            return data.sum(axis=1)

    served = make_app(Bare())

    async def go() -> list[Any]:
        c = served.client
        return [
            await c.post("/invocations", json={"inputs": [[1, 2], [3, 4]]}),
            await c.get("/metadata"),
        ]

    answer, metadata = run(go())
    assert answer.json() == {"predictions": [3, 7]}
    assert metadata.json()["signature"] is None


def test_lifespan_closes(make_app: Any) -> None:
    served = make_app(FakeModel(_scaled, SIGNATURE))
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    run(served.app({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    with pytest.raises(RuntimeError):
        served.app._executor.submit(time.sleep, 0)


def test_a_bug_in_the_server_answers_500_and_is_counted(make_app: Any) -> None:
    served = make_app(FakeModel(_scaled, SIGNATURE))

    async def broken(request: Any) -> None:
        raise RuntimeError("bug")

    served.app._routes["/version"] = (b"GET", broken)

    async def go() -> Any:
        answer = await served.client.get("/version")
        return answer, (await served.client.get("/metrics")).text

    answer, metrics = run(go())
    assert answer.status_code == 500 and answer.json()["error_code"] == "INTERNAL_ERROR"
    assert 'cairn_serving_requests_total{path="/version",status="500"} 1.0' in metrics
    events = [orjson.loads(line)["event"] for line in served.log_lines()]
    assert events == ["server_error", "request"]


def test_capture_failure_does_not_fail_scoring(make_app: Any, tmp_path: Any) -> None:
    capture = Capture(tmp_path / "c.jsonl")
    capture.close()  # writes now fail with EBADF
    served = make_app(FakeModel(_scaled, SIGNATURE), capture=capture)

    async def go() -> Any:
        return await served.client.post(
            "/invocations", json={"dataframe_records": [{"x": 1.0, "n": 1}]}
        )

    assert run(go()).status_code == 200
    assert any('"capture_error"' in line for line in served.log_lines())
