"""`cairn models serve` as a real process: real models saved with cairn.sklearn and
cairn.pyfunc, every input format, every kind of bad input, health, metadata, metrics, the
request log and the capture file."""

from __future__ import annotations

import io
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

import cairn.pyfunc
import cairn.sklearn
from cairn.models import (
    ColSpec,
    DataType,
    ModelSignature,
    ParamSchema,
    ParamSpec,
    Schema,
    TensorSpec,
)
from tests.serving.sample_models import RowSums, ScaledSum
from tests.serving.scoring_process import (
    ScoringProcess,
    scoring_env,
    serve_command,
    start_scoring,
)

X, Y = load_iris(return_X_y=True, as_frame=True)
COLUMNS = list(X.columns)
ROWS = X.iloc[[0, 60, 120]]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serving")


@pytest.fixture(scope="module")
def iris(workdir: Path) -> Iterator[tuple[ScoringProcess, Any]]:
    estimator = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, Y)
    cairn.sklearn.save_model(estimator, workdir / "iris", input_example=X.iloc[:2])
    server = start_scoring(
        workdir,
        str(workdir / "iris"),
        "--max-body-size",
        "4000",
        "--capture-file",
        str(workdir / "capture.jsonl"),
    )
    yield server, estimator
    server.stop()


@pytest.fixture(scope="module")
def scaled(workdir: Path) -> Iterator[ScoringProcess]:
    signature = ModelSignature(
        Schema([ColSpec(DataType.double, "x"), ColSpec(DataType.long, "n")]),
        params=ParamSchema([ParamSpec("scale", DataType.double, 1.0)]),
    )
    cairn.pyfunc.save_model(workdir / "scaled", python_model=ScaledSum(), signature=signature)
    server = start_scoring(workdir, str(workdir / "scaled"), "--trust")
    yield server
    server.stop()


def _post(server: ScoringProcess, body: Any, content_type: str = "application/json") -> Any:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(
        server.url + "/invocations",
        content=content,
        headers={"content-type": content_type},
        timeout=30,
    )


def test_every_input_format_gives_the_estimators_answer(iris: Any) -> None:
    server, estimator = iris
    expected = estimator.predict(ROWS).tolist()
    split = ROWS.to_dict(orient="split")
    del split["index"]
    parquet = io.BytesIO()
    ROWS.to_parquet(parquet)
    bodies: list[tuple[Any, str]] = [
        ({"dataframe_split": split}, "application/json"),
        ({"dataframe_split": ROWS.to_dict(orient="split")}, "application/json; charset=utf-8"),
        ({"dataframe_records": ROWS.to_dict(orient="records")}, "application/json"),
        ({"instances": ROWS.to_numpy().tolist()}, "application/json"),
        ({"instances": ROWS.to_dict(orient="records")}, "application/json"),
        ({"instances": ROWS.to_dict(orient="list")}, "application/json"),
        ({"inputs": ROWS.to_dict(orient="list")}, "application/json"),
        ({"inputs": ROWS.to_numpy().tolist()}, "application/json"),
        (ROWS.to_csv(index=False).encode(), "text/csv"),
        (parquet.getvalue(), "application/vnd.apache.parquet"),
    ]
    for body, content_type in bodies:
        answer = _post(server, body, content_type)
        assert answer.status_code == 200, (body, answer.text)
        assert answer.json() == {"predictions": expected}, body


def test_bad_input_answers_400_naming_the_problem(iris: Any) -> None:
    server, _ = iris
    record = ROWS.iloc[0].to_dict()
    cases: list[tuple[Any, str, str]] = [
        (b"{oops", "BAD_REQUEST", "Invalid JSON input"),
        ({}, "BAD_REQUEST", "exactly one of"),
        ({"inputs": [[1, 2, 3, 4]], "instances": [[1, 2, 3, 4]]}, "BAD_REQUEST", "got 2"),
        (
            {"dataframe_records": [{k: v for k, v in record.items() if k != "petal width (cm)"}]},
            "INVALID_PARAMETER_VALUE",
            "Missing required input column: 'petal width (cm)' (double)",
        ),
        (
            {"dataframe_records": [{**record, "sepal length (cm)": "long"}]},
            "INVALID_PARAMETER_VALUE",
            "Column 'sepal length (cm)' should be of type double",
        ),
        ({"inputs": [[1.0, 2.0, 3.0]]}, "INVALID_PARAMETER_VALUE", "Expected 4 columns"),
    ]
    for body, code, message in cases:
        answer = _post(server, body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error_code"] == code
        assert message in answer.json()["message"], answer.json()


def test_content_type_and_body_size(iris: Any) -> None:
    server, _ = iris
    unsupported = _post(server, b"a=1", "application/x-www-form-urlencoded")
    assert unsupported.status_code == 415
    assert "application/x-www-form-urlencoded" in unsupported.text
    wrong_charset = _post(server, {"inputs": [[1, 2, 3, 4]]}, "application/json; charset=latin-1")
    assert wrong_charset.status_code == 415
    big = {"dataframe_records": X.to_dict(orient="records")}  # ~15 kB, over 4000 bytes
    too_large = _post(server, big)
    assert too_large.status_code == 413
    assert too_large.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert _post(server, {"inputs": ROWS.to_numpy().tolist()}).status_code == 200


def test_health_version_metadata(iris: Any, workdir: Path) -> None:
    server, _ = iris
    for path in ("/ping", "/health"):
        answer = httpx.get(server.url + path)
        assert answer.status_code == 200 and answer.text == "\n"
    assert httpx.get(server.url + "/version").text == cairn.__version__
    described = httpx.get(server.url + "/metadata").json()
    assert described["model_uri"] == str(workdir / "iris")
    assert described["flavors"] == ["python_function", "sklearn"]
    assert [c["name"] for c in described["signature"]["inputs"]] == COLUMNS
    assert described["registered_model"] is None and len(described["model_uuid"]) == 32


def test_metrics_logs_and_capture(iris: Any, workdir: Path) -> None:
    server, _ = iris
    _post(server, {"inputs": ROWS.to_numpy().tolist()})  # 3 rows
    _post(server, {"dataframe_records": [{"a": 1}]})  # 400
    text = httpx.get(server.url + "/metrics").text
    assert 'cairn_serving_requests_total{path="/invocations",status="200"}' in text
    assert 'cairn_serving_requests_total{path="/invocations",status="400"}' in text
    assert 'cairn_serving_request_duration_seconds_bucket{le="0.005",path="/invocations"}' in text
    rows = next(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("cairn_serving_rows_scored_total")
    )
    assert rows >= 3

    logged = [orjson.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    requests = [line for line in logged if line["event"] == "request"]
    assert any(line["status"] == 400 and line["error_code"] for line in requests)
    assert all(line["path"] and line["request_id"] for line in requests)

    captured = [
        orjson.loads(line) for line in (workdir / "capture.jsonl").read_bytes().splitlines()
    ]
    assert captured and all(line["response"]["predictions"] for line in captured)
    assert any(line["request"] == {"inputs": ROWS.to_numpy().tolist()} for line in captured)


def test_params_and_a_failing_model(scaled: ScoringProcess) -> None:
    rows = [{"x": 1.5, "n": 2}, {"x": 0.5, "n": 1}]
    plain = _post(scaled, {"dataframe_records": rows})
    assert plain.json() == {"predictions": [3.5, 1.5]}
    doubled = _post(scaled, {"dataframe_records": rows, "params": {"scale": 2}})
    assert doubled.json() == {"predictions": [7.0, 3.0]}
    bad_param = _post(scaled, {"dataframe_records": rows, "params": {"scale": "big"}})
    assert bad_param.status_code == 400 and "'scale'" in bad_param.json()["message"]
    lossy = _post(scaled, {"dataframe_records": [{"x": 1.0, "n": 1.5}]})
    assert lossy.status_code == 400 and "'n' should be of type long" in lossy.json()["message"]
    failing = _post(scaled, {"dataframe_records": [{"x": -1.0, "n": 1}]})
    assert failing.status_code == 500
    assert failing.json() == {
        "error_code": "INTERNAL_ERROR",
        "message": "The model raised ValueError: negative x",
    }
    assert _post(scaled, {"dataframe_records": rows}).status_code == 200
    assert "Traceback" in scaled.log()


def test_tensor_model_shapes(workdir: Path) -> None:
    signature = ModelSignature(Schema([TensorSpec("float32", (-1, 3))]))
    cairn.pyfunc.save_model(workdir / "sums", python_model=RowSums(), signature=signature)
    server = start_scoring(workdir, str(workdir / "sums"), "--trust", "--no-log-requests")
    try:
        good = _post(server, {"inputs": [[1, 2, 3], [0.5, 0.25, 0.25]]})
        assert good.json() == {"predictions": [6.0, 1.0]}
        wrong = _post(server, {"inputs": [[1, 2]]})
        assert wrong.status_code == 400
        assert "should have shape [-1, 3]" in wrong.json()["message"]
        ragged = _post(server, {"instances": [[1, 2, 3], [1]]})
        assert ragged.status_code == 400 and "rectangular" in ragged.json()["message"]
        logged = [orjson.loads(line) for line in server.log().splitlines()]
        assert [line["event"] for line in logged] == ["serving"]  # --no-log-requests
        # SIGTERM: a graceful exit (uvicorn re-raises the signal once it has shut down)
        assert server.stop() in (0, -signal.SIGTERM)
    finally:
        server.stop()


def test_pickle_models_need_trust(workdir: Path) -> None:
    cairn.pyfunc.save_model(workdir / "pickled", python_model=ScaledSum())
    refused = subprocess.run(
        serve_command(str(workdir / "pickled"), "--port", "1"),
        capture_output=True,
        text=True,
        env=scoring_env(),
        timeout=60,
    )
    assert refused.returncode != 0
    assert "--trust" in refused.stderr


def test_serves_an_mlflow_saved_model_with_trust(workdir: Path) -> None:
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    estimator = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, Y)
    path = workdir / "mlflow-iris"
    mlflow_sklearn.save_model(estimator, str(path), serialization_format="cloudpickle")
    refused = subprocess.run(
        serve_command(str(path), "--port", "1"),
        capture_output=True,
        text=True,
        env=scoring_env(),
        timeout=60,
    )
    assert refused.returncode != 0 and "--trust" in refused.stderr
    server = start_scoring(workdir, str(path), "--trust")
    try:
        answer = _post(server, {"dataframe_split": ROWS.to_dict(orient="split")})
        assert answer.json() == {"predictions": estimator.predict(ROWS).tolist()}
    finally:
        server.stop()


def test_serves_a_registered_version_by_alias(workdir: Path, tmp_path: Path) -> None:
    from cairn.tracking.client import CairnClient
    from tests.server_process import start_server

    tracking = start_server(tmp_path / "tracking")
    try:
        client = CairnClient(tracking_uri=tracking.url)
        estimator = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, Y)
        cairn.sklearn.save_model(estimator, tmp_path / "model", input_example=X.iloc[:1])
        run = client.create_run("0")
        client.log_artifacts(run.info.run_id, tmp_path / "model", "model")
        client.create_registered_model("iris")
        client.create_model_version("iris", f"runs:/{run.info.run_id}/model", run.info.run_id)
        client.set_registered_model_alias("iris", "champion", "1")
        uri = "models:/iris@champion"
        server = start_scoring(tmp_path, uri, env={"CAIRN_TRACKING_URI": tracking.url})
        try:
            described = httpx.get(server.url + "/metadata").json()
            assert described["registered_model"] == {"name": "iris", "version": "1"}
            assert described["model_uri"] == uri
            answer = _post(server, {"inputs": ROWS.to_numpy().tolist()})
            assert answer.json() == {"predictions": estimator.predict(ROWS).tolist()}
        finally:
            server.stop()
    finally:
        tracking.stop()


def test_predictions_match_for_many_rows(iris: Any) -> None:
    server, estimator = iris
    rng = np.random.default_rng(0)
    rows = np.round(rng.uniform(0, 8, size=(40, 4)), 2)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    answer = _post(server, {"dataframe_split": {"columns": COLUMNS, "data": rows.tolist()}})
    assert answer.json()["predictions"] == estimator.predict(frame).tolist()


def test_workers_share_metrics(iris: Any, workdir: Path) -> None:
    server = start_scoring(workdir, str(workdir / "iris"), "--workers", "2", "--no-log-requests")
    try:
        body = {"inputs": ROWS.to_numpy().tolist()}
        with httpx.Client(base_url=server.url) as first, httpx.Client(base_url=server.url) as other:
            for _ in range(10):
                for client in (first, other):
                    answer = client.post("/invocations", json=body)
                    assert answer.status_code == 200
        text = httpx.get(server.url + "/metrics").text
        assert 'cairn_serving_requests_total{path="/invocations",status="200"} 20.0' in text
        assert "cairn_serving_rows_scored_total 60.0" in text
    finally:
        server.stop()


def test_serves_mlflows_default_skops_model_without_trust(workdir: Path) -> None:
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    estimator = RandomForestClassifier(n_estimators=10, random_state=1).fit(X, Y)
    path = workdir / "mlflow-skops"
    mlflow_sklearn.save_model(estimator, str(path), skops_trusted_types=["sklearn.tree._tree.Tree"])
    server = start_scoring(workdir, str(path), "--no-log-requests")
    try:
        answer = _post(server, {"dataframe_split": ROWS.to_dict(orient="split")})
        assert answer.json() == {"predictions": estimator.predict(ROWS).tolist()}
    finally:
        server.stop()
