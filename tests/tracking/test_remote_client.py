"""The client and the fluent API tracking to a real server over HTTP, artifacts included.

The server is the session's `cairn server` (`live_server`), or CAIRN_TEST_SERVER_URL (for
instance a real `mlflow server`).
"""

from __future__ import annotations

import math
import os
import uuid
from pathlib import Path

import pytest

import cairn
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.store.rest import RestTrackingStore
from cairn.tracking import tracking_uri
from cairn.tracking.client import CairnClient


@pytest.fixture(scope="session")
def server_url(request: pytest.FixtureRequest) -> str:
    return os.environ.get("CAIRN_TEST_SERVER_URL") or request.getfixturevalue("live_server").url


@pytest.fixture
def remote_client(server_url: str) -> CairnClient:
    return CairnClient(server_url + "/")


def test_http_uris_are_accepted_and_normalised(server_url: str) -> None:
    cairn.set_tracking_uri(server_url + "/")
    assert cairn.get_tracking_uri() == server_url + "/"
    assert tracking_uri.resolve_tracking_uri() == server_url
    client = CairnClient()
    assert client.tracking_uri == server_url
    assert isinstance(client.store, RestTrackingStore)


def test_file_stores_are_still_refused() -> None:
    for uri in ("./mlruns", "file:///tmp/mlruns"):
        with pytest.raises(InvalidParameterValue):
            cairn.set_tracking_uri(uri)


def test_client_end_to_end(remote_client: CairnClient, tmp_path: Path) -> None:
    c = remote_client
    eid = c.create_experiment(f"remote-{uuid.uuid4().hex}", tags={"team": "x"})
    run = c.create_run(eid, run_name="first", tags={"mlflow.user": "ada"})
    run_id = run.info.run_id
    assert run.info.user_id == "ada"

    c.log_param(run_id, "lr", 0.01)
    c.set_tag(run_id, "stage", "dev")
    for step in range(5):
        c.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    c.log_metric(run_id, "weird", math.nan)
    c.set_terminated(run_id)

    fetched = c.get_run(run_id)
    assert fetched.data.params == {"lr": "0.01"}
    assert fetched.data.tags["stage"] == "dev" and fetched.data.metrics["loss"] == 0.2
    assert math.isnan(fetched.data.metrics["weird"])
    assert fetched.info.status.value == "FINISHED" and fetched.info.end_time
    assert [m.step for m in c.get_metric_history(run_id, "loss")] == list(range(5))
    assert [m.value for m in c.iter_metric_history(run_id, "loss")][-1] == 0.2

    found = c.search_runs(eid, "metrics.loss < 0.5 and params.lr = '0.01'")
    assert [r.info.run_id for r in found] == [run_id]
    assert c.get_experiment_by_name(f"missing-{uuid.uuid4().hex}") is None
    with pytest.raises(ResourceDoesNotExist):
        c.get_run("0" * 32)


def test_artifacts_through_the_proxy(remote_client: CairnClient, tmp_path: Path) -> None:
    c = remote_client
    eid = c.create_experiment(f"remote-{uuid.uuid4().hex}")
    run = c.create_run(eid)
    run_id = run.info.run_id
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(b"\x00" * 1000)
    (tmp_path / "model" / "conf").mkdir()
    (tmp_path / "model" / "conf" / "c.yaml").write_text("a: 1\n")
    (tmp_path / "readme.md").write_text("# hi\n")
    c.log_artifact(run_id, tmp_path / "readme.md")
    c.log_artifacts(run_id, tmp_path / "model", "model")
    c.log_text(run_id, "some notes", "notes/today.txt")
    c.log_dict(run_id, {"a": [1, 2]}, "config.json")

    assert [(f.path, f.is_dir) for f in c.list_artifacts(run_id)] == [
        ("config.json", False),
        ("model", True),
        ("notes", True),
        ("readme.md", False),
    ]
    assert [f.path for f in c.list_artifacts(run_id, "model")] == [
        "model/conf",
        "model/weights.bin",
    ]
    assert c.load_text(run_id, "notes/today.txt") == "some notes"
    assert c.load_dict(run_id, "config.json") == {"a": [1, 2]}

    local = Path(c.download_artifacts(run_id, "model", tmp_path / "dl"))
    assert (local / "weights.bin").read_bytes() == b"\x00" * 1000
    assert (local / "conf" / "c.yaml").read_text() == "a: 1\n"
    whole = Path(c.download_artifacts(run_id))
    assert (whole / "readme.md").read_text() == "# hi\n"


def test_fluent_api_end_to_end(server_url: str, tmp_path: Path) -> None:
    cairn.set_tracking_uri(server_url)
    name = f"fluent-{uuid.uuid4().hex}"
    experiment = cairn.set_experiment(name)
    (tmp_path / "out.txt").write_text("result")
    with cairn.start_run(run_name="fluent") as run:
        cairn.log_params({"a": 1, "b": "x"})
        cairn.log_metrics({"m": 0.5}, step=3)
        cairn.set_tag("t", "v")
        cairn.log_artifact(str(tmp_path / "out.txt"))
    fetched = CairnClient(server_url).get_run(run.info.run_id)
    assert fetched.info.experiment_id == experiment.experiment_id
    assert fetched.info.status.value == "FINISHED"
    assert fetched.data.params == {"a": "1", "b": "x"} and fetched.data.metrics == {"m": 0.5}
    assert fetched.data.tags["t"] == "v"
    runs = cairn.search_runs([experiment.experiment_id], output_format="list")
    assert [r.info.run_id for r in runs] == [run.info.run_id]
    assert CairnClient(server_url).load_text(run.info.run_id, "out.txt") == "result"


def test_server_artifacts_need_a_server_tracking_uri(client: CairnClient) -> None:
    eid = client.create_experiment("proxied", artifact_location="mlflow-artifacts:/proxied")
    run_id = client.create_run(eid).info.run_id
    with pytest.raises(InvalidParameterValue, match="http://host:5000"):
        client.list_artifacts(run_id)
