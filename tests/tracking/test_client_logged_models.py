"""The client's logged-model methods, in-process (SQL) and over HTTP (REST store against a
real server): the MLflow 3 `log_model` sequence, files through the model's repository,
search, metrics, outputs, and `runs:/<run>/<name>` resolution."""

from __future__ import annotations

import math
import os
import time
import uuid
from pathlib import Path

import pytest

from cairn.entities import LoggedModelMetric, LoggedModelOutput, LoggedModelStatus
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.tracking.client import CairnClient
from cairn.tracking.client_logged_models import resolve_runs_uri_to_artifact_uri


@pytest.fixture(scope="session")
def server_url(request: pytest.FixtureRequest) -> str:
    return os.environ.get("CAIRN_TEST_SERVER_URL") or request.getfixturevalue("live_server").url


@pytest.fixture(params=["sql", "http"])
def any_client(request: pytest.FixtureRequest, tmp_path: Path) -> CairnClient:
    """A client on a fresh SQLite database, and one on the live server."""
    if request.param == "sql":
        return CairnClient(request.getfixturevalue("tracking_uri"))
    return CairnClient(request.getfixturevalue("server_url"))


def model_dir(tmp_path: Path) -> Path:
    files = tmp_path / "model-files"
    (files / "data").mkdir(parents=True)
    (files / "MLmodel").write_text("flavors: {}\n")
    (files / "data" / "weights.bin").write_bytes(b"\x00\x01")
    return files


def test_the_log_model_sequence(any_client: CairnClient, tmp_path: Path) -> None:
    c = any_client
    eid = c.create_experiment(f"lm-{uuid.uuid4().hex}")
    run_id = c.create_run(eid).info.run_id
    model = c.create_logged_model(
        eid, name="model", source_run_id=run_id, params={"depth": 3}, model_type="tree"
    )
    assert model.status is LoggedModelStatus.PENDING and model.params == {"depth": "3"}
    assert model.model_uri == f"models:/{model.model_id}"
    repo = c.logged_model_artifact_repository(model.model_id)
    repo.log_artifacts(model_dir(tmp_path))
    c.set_logged_model_tags(model.model_id, {"checksum": "abc", "tmp": 1})
    c.delete_logged_model_tag(model.model_id, "tmp")
    other_run = c.create_run(eid).info.run_id
    c.log_outputs(run_id, [(model.model_id, 0)])
    c.log_outputs(other_run, [LoggedModelOutput(model.model_id, 1)])
    ready = c.finalize_logged_model(model.model_id, "READY")
    assert ready.status is LoggedModelStatus.READY
    c.log_model_params(model.model_id, {"lr": 0.1})

    got = c.get_logged_model(model.model_id)
    assert got.tags == {"checksum": "abc"}
    assert got.params == {"depth": "3", "lr": "0.1"}
    assert sorted(f.path for f in c.list_logged_model_artifacts(model.model_id)) == [
        "MLmodel",
        "data",
    ]
    local = c.download_artifact_uri(got.artifact_location, tmp_path / "copy")
    assert (Path(local) / "data" / "weights.bin").read_bytes() == b"\x00\x01"

    c.log_model_metrics(
        run_id,
        [
            LoggedModelMetric(
                "acc", 0.75, 1, 0, model.model_id, dataset_name="val", dataset_digest="v1"
            ),
            LoggedModelMetric("bad", math.nan, 1, 0, model.model_id),
        ],
    )
    metrics = {m.key: m for m in c.get_logged_model(model.model_id).metrics}
    assert metrics["acc"].value == 0.75 and metrics["acc"].dataset_name == "val"
    assert math.isnan(metrics["bad"].value) and metrics["acc"].run_id == run_id
    assert c.get_run(run_id).data.metrics["acc"] == 0.75

    found = c.search_logged_models(
        [eid], "metrics.acc > 0.5 AND params.depth = '3'", order_by=["name DESC"]
    )
    assert [m.model_id for m in found] == [model.model_id]
    dicts = c.search_logged_models([eid], order_by=[{"field_name": "metrics.acc"}])
    assert [m.model_id for m in dicts] == [model.model_id]

    c.delete_logged_model(model.model_id)
    with pytest.raises(ResourceDoesNotExist):
        c.get_logged_model(model.model_id)
    assert list(c.search_logged_models([eid])) == []


def test_errors_reach_the_caller(any_client: CairnClient) -> None:
    c = any_client
    eid = c.create_experiment(f"lm-{uuid.uuid4().hex}")
    with pytest.raises(ResourceDoesNotExist):
        c.get_logged_model("m-" + "0" * 32)
    model = c.create_logged_model(eid)
    assert model.name
    with pytest.raises(InvalidParameterValue):
        c.finalize_logged_model(model.model_id, "SOMEDAY")
    with pytest.raises(InvalidParameterValue):
        c.create_logged_model(eid, name="a/b")
    with pytest.raises(InvalidParameterValue):
        c.search_logged_models([eid], "unknown_attribute = 'x'")
    with pytest.raises(ResourceDoesNotExist):
        c.delete_logged_model_tag(model.model_id, "never-set")


def test_many_params_are_sent_in_batches(any_client: CairnClient) -> None:
    c = any_client
    eid = c.create_experiment(f"lm-{uuid.uuid4().hex}")
    params = {f"p{i}": str(i) for i in range(250)}
    model = c.create_logged_model(eid, params=params)
    assert c.get_logged_model(model.model_id).params == params
    assert model.params == params


def test_runs_uris_resolve_to_the_run_or_its_logged_model(
    any_client: CairnClient, tmp_path: Path
) -> None:
    c = any_client
    eid = c.create_experiment(f"lm-{uuid.uuid4().hex}")
    run = c.create_run(eid)
    run_id, root = run.info.run_id, run.info.artifact_uri
    # A model stored the 2.x way, as run artifacts, wins over a logged model of that name.
    c.log_artifacts(run_id, model_dir(tmp_path), "classic")
    c.create_logged_model(eid, name="classic", source_run_id=run_id)
    assert resolve_runs_uri_to_artifact_uri(c, run_id, "classic") == f"{root}/classic"
    # MLflow 3: the newest logged model named <name> that the run produced.
    c.create_logged_model(eid, name="model", source_run_id=run_id)
    time.sleep(0.002)  # creation times are milliseconds: make "newest" unambiguous
    newest = c.create_logged_model(eid, name="model", source_run_id=run_id)
    other_run = c.create_run(eid).info.run_id
    c.create_logged_model(eid, name="model", source_run_id=other_run)
    location = newest.artifact_location
    assert resolve_runs_uri_to_artifact_uri(c, run_id, "model") == location
    assert resolve_runs_uri_to_artifact_uri(c, run_id, "/model/MLmodel") == f"{location}/MLmodel"
    # Nothing of that name: the run's own artifact path, as before.
    assert resolve_runs_uri_to_artifact_uri(c, run_id, "plots/a.png") == f"{root}/plots/a.png"
    assert resolve_runs_uri_to_artifact_uri(c, run_id, "") == root
    assert resolve_runs_uri_to_artifact_uri(c, run_id, "it's") == f"{root}/it's"
