"""The secret guard over HTTP: a real `cairn server` refuses (or redacts) credentials in
params and tags on every path a write can take, and never echoes them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

API = "/api/2.0/mlflow"
# Built by concatenation so that no scanner flags this file; none of these is a live secret.
GITHUB = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
URL_WITH_PASSWORD = "postgresql://trainer:" + "Tr0ub4dor3xyz" + "@db.internal:5432/features"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"


def _assert_absent(secret: str, text: str) -> None:
    """No part of the secret (any 8 characters of it) appears in `text`."""
    for i in range(0, max(1, len(secret) - 8)):
        assert secret[i : i + 8] not in text, f"{secret[i : i + 8]!r} leaked"


def _new_run(http: httpx.Client) -> str:
    name = f"secrets-{uuid.uuid4().hex[:8]}"
    eid = http.post(f"{API}/experiments/create", json={"name": name}).json()["experiment_id"]
    run = http.post(f"{API}/runs/create", json={"experiment_id": eid}).json()["run"]
    return str(run["info"]["run_id"])


def _get_run(http: httpx.Client, run_id: str) -> dict[str, Any]:
    response = http.get(f"{API}/runs/get", params={"run_id": run_id})
    assert response.status_code == 200, response.text
    return response.json()["run"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.server_process import start_server

    server = start_server(
        tmp_path_factory.mktemp("secret-guard"), env={"CAIRN_SECRET_GUARD": "refuse"}
    )
    yield server
    server.stop()


def _refused(response: httpx.Response, *mentions: str, secret: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    for text in mentions:
        assert text in body["message"]
    _assert_absent(secret, response.text)


def test_log_batch_is_refused_whole_and_not_echoed(refusing: Any) -> None:
    with httpx.Client(base_url=refusing.url, timeout=30) as http:
        run_id = _new_run(http)
        batch = {
            "run_id": run_id,
            "metrics": [{"key": "loss", "value": 0.5, "timestamp": 1, "step": 0}],
            "params": [
                {"key": "lr", "value": "0.1"},
                {"key": "aws_secret_access_key", "value": AWS_SECRET},
            ],
            "tags": [{"key": "team", "value": "vision"}],
        }
        _refused(
            http.post(f"{API}/runs/log-batch", json=batch),
            "aws_secret_access_key",
            "aws-secret-key",
            secret=AWS_SECRET,
        )
        # The same request with a chunked body takes uvicorn's path, not the fast path.
        chunked = http.post(
            f"{API}/runs/log-batch",
            content=iter([httpx.Request("POST", "/", json=batch).read()]),
            headers={"content-type": "application/json"},
        )
        _refused(chunked, "aws-secret-key", secret=AWS_SECRET)
        run = _get_run(http, run_id)
        assert "metrics" not in run["data"] and "params" not in run["data"]
        assert "team" not in {t["key"] for t in run["data"]["tags"]}


def test_single_writes_are_refused(refusing: Any) -> None:
    with httpx.Client(base_url=refusing.url, timeout=30) as http:
        run_id = _new_run(http)
        _refused(
            http.post(
                f"{API}/runs/log-parameter",
                json={"run_id": run_id, "key": "db", "value": URL_WITH_PASSWORD},
            ),
            "Param 'db'",
            "url-password",
            secret=URL_WITH_PASSWORD,
        )
        _refused(
            http.post(f"{API}/runs/set-tag", json={"run_id": run_id, "key": "gh", "value": GITHUB}),
            "github-token",
            secret=GITHUB,
        )
        _refused(
            http.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": GITHUB}),
            "github-token",
            secret=GITHUB,
        )
        _refused(
            http.post(
                f"{API}/experiments/create",
                json={"name": "s-" + uuid.uuid4().hex, "tags": [{"key": "t", "value": GITHUB}]},
            ),
            secret=GITHUB,
        )
        _refused(
            http.post(
                f"{API}/registered-models/create",
                json={"name": "s-" + uuid.uuid4().hex, "tags": [{"key": "t", "value": GITHUB}]},
            ),
            secret=GITHUB,
        )
        run = _get_run(http, run_id)
        assert "params" not in run["data"]
    log = refusing.log()
    for secret in (GITHUB, URL_WITH_PASSWORD, AWS_SECRET):
        _assert_absent(secret, log)


def test_redact_mode(server_factory: Any) -> None:
    server = server_factory(env={"CAIRN_SECRET_GUARD": "redact"})
    with httpx.Client(base_url=server.url, timeout=30) as http:
        run_id = _new_run(http)
        response = http.post(
            f"{API}/runs/log-batch",
            json={
                "run_id": run_id,
                "params": [
                    {"key": "lr", "value": "0.1"},
                    {"key": "db", "value": URL_WITH_PASSWORD},
                ],
                "tags": [{"key": "gh", "value": GITHUB}],
            },
        )
        assert response.status_code == 200, response.text
        run = _get_run(http, run_id)
        assert {p["key"]: p["value"] for p in run["data"]["params"]} == {
            "lr": "0.1",
            "db": "[REDACTED:url-password]",
        }
        assert {t["key"]: t["value"] for t in run["data"]["tags"]}["gh"] == (
            "[REDACTED:github-token]"
        )
        searched = http.post(
            f"{API}/runs/search", json={"experiment_ids": [run["info"]["experiment_id"]]}
        )
        _assert_absent(URL_WITH_PASSWORD, searched.text)
        _assert_absent(GITHUB, searched.text)
    for secret in (GITHUB, URL_WITH_PASSWORD):
        _assert_absent(secret, server.log())
