"""The real MLflow client against `cairn server`: runs, params, metrics, tags and history."""

from __future__ import annotations

import math
import time

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunStatus, RunTag, ViewType
from mlflow.exceptions import MlflowException

from tests.server.mlflow_compat.support import error_of


def test_create_get_update_and_terminate(client: MlflowClient, experiment_id: str) -> None:
    start = int(time.time() * 1000) - 5000
    run = client.create_run(
        experiment_id, start_time=start, tags={"mlflow.user": "ada", "team": "x"}, run_name="first"
    )
    info = run.info
    assert len(info.run_id) == 32
    assert info.experiment_id == experiment_id
    assert info.run_name == "first"
    assert info.user_id == "ada"
    assert info.status == "RUNNING"
    assert info.start_time == start
    assert info.end_time is None
    assert info.lifecycle_stage == "active"
    assert info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{info.run_id}/artifacts"
    assert run.data.tags["mlflow.runName"] == "first"
    assert run.data.tags["team"] == "x"

    fetched = client.get_run(info.run_id)
    assert fetched.info.run_id == info.run_id
    assert fetched.data.tags == run.data.tags
    assert fetched.data.params == {} and fetched.data.metrics == {}

    client.update_run(info.run_id, status="KILLED", name="renamed")
    renamed = client.get_run(info.run_id)
    assert renamed.info.status == "KILLED"
    assert renamed.info.run_name == "renamed"
    assert renamed.data.tags["mlflow.runName"] == "renamed"

    client.set_terminated(info.run_id, "FINISHED", end_time=start + 1234)
    done = client.get_run(info.run_id).info
    assert done.status == "FINISHED"
    assert done.end_time == start + 1234

    generated = client.create_run(experiment_id).info.run_name
    assert generated  # the server names unnamed runs


def test_delete_and_restore(client: MlflowClient, experiment_id: str) -> None:
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs([experiment_id]) == []
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run_id]
    with pytest.raises(MlflowException) as excinfo:
        client.log_param(run_id, "p", "1")
    assert error_of(excinfo)[0] == "INVALID_PARAMETER_VALUE"

    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run_id]


def test_params_are_write_once(client: MlflowClient, experiment_id: str) -> None:
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "lr", 0.1)
    client.log_param(run_id, "lr", "0.1")  # the same value again is fine
    client.log_param(run_id, "empty", "")
    client.log_param(run_id, "text", "ünïcode ✓ with spaces")
    with pytest.raises(MlflowException) as excinfo:
        client.log_param(run_id, "lr", "0.2")
    assert error_of(excinfo) == ("INVALID_PARAMETER_VALUE", 400)
    with pytest.raises(MlflowException) as excinfo:
        client.log_batch(run_id, params=[Param("other", "1"), Param("lr", "0.3")])
    assert error_of(excinfo) == ("INVALID_PARAMETER_VALUE", 400)
    assert client.get_run(run_id).data.params == {
        "lr": "0.1",
        "empty": "",
        "text": "ünïcode ✓ with spaces",
    }


def test_metric_steps_history_and_latest(client: MlflowClient, experiment_id: str) -> None:
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "loss", 0.9, timestamp=1000, step=0)
    client.log_metric(run_id, "loss", 0.5, timestamp=2000, step=5)
    client.log_metric(run_id, "loss", 0.7, timestamp=3000, step=2)  # later, but an earlier step
    client.log_metric(run_id, "acc", 0.25)

    history = client.get_metric_history(run_id, "loss")
    assert sorted((m.step, m.value, m.timestamp) for m in history) == [
        (0, 0.9, 1000),
        (2, 0.7, 3000),
        (5, 0.5, 2000),
    ]
    assert all(m.key == "loss" for m in history)
    # The latest value is the one with the greatest step, not the newest timestamp.
    assert client.get_run(run_id).data.metrics == {"loss": 0.5, "acc": 0.25}
    assert client.get_metric_history(run_id, "never-logged") == []


def test_history_is_ordered_by_step_then_timestamp(
    client: MlflowClient, experiment_id: str
) -> None:
    # A documented difference (docs/server.md): MLflow orders by timestamp first. Cairn keeps
    # the order its history index is clustered in, so long histories page without a sort.
    run_id = client.create_run(experiment_id).info.run_id
    client.log_batch(
        run_id,
        metrics=[
            Metric("loss", 0.9, 1000, 0),
            Metric("loss", 0.5, 2000, 5),
            Metric("loss", 0.7, 3000, 2),
            Metric("loss", 0.1, 3000, 1),
        ],
    )
    history = client.get_metric_history(run_id, "loss")
    assert [(m.timestamp, m.step, m.value) for m in history] == [
        (1000, 0, 0.9),
        (3000, 1, 0.1),
        (3000, 2, 0.7),
        (2000, 5, 0.5),
    ]


def test_nan_and_infinities_round_trip(client: MlflowClient, experiment_id: str) -> None:
    run_id = client.create_run(experiment_id).info.run_id
    values = {"nan": math.nan, "pos": math.inf, "neg": -math.inf, "big": 1.5e300, "tiny": 5e-324}
    for key, value in values.items():
        client.log_metric(run_id, key, value, step=1)
    client.log_batch(run_id, metrics=[Metric("batch", math.nan, 1, 0), Metric("batch", 1.0, 2, 1)])

    latest = client.get_run(run_id).data.metrics
    assert math.isnan(latest["nan"])
    assert latest["pos"] == math.inf or latest["pos"] == pytest.approx(1.7976931348623157e308)
    assert latest["neg"] == -math.inf or latest["neg"] == pytest.approx(-1.7976931348623157e308)
    assert latest["big"] == 1.5e300 and latest["tiny"] == 5e-324
    assert latest["batch"] == 1.0
    assert math.isnan(client.get_metric_history(run_id, "nan")[0].value)
    assert [math.isnan(m.value) for m in client.get_metric_history(run_id, "batch")] == [
        True,
        False,
    ]
    # Infinity still compares as the largest number in a search.
    found = client.search_runs([experiment_id], "metrics.pos > 1e308 AND metrics.neg < 0")
    assert [r.info.run_id for r in found] == [run_id]


def test_log_batch_beyond_one_request(
    client: MlflowClient, experiment_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2,500 points, 250 params, 150 tags: the client splits them into several requests."""
    run_id = client.create_run(experiment_id).info.run_id
    metrics = [Metric("curve", float(i) / 7, 1_700_000_000_000 + i, i) for i in range(2500)]
    params = [Param(f"p{i:03d}", str(i)) for i in range(250)]
    tags = [RunTag(f"t{i:03d}", "v" * i) for i in range(150)]
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)

    run = client.get_run(run_id)
    assert len(run.data.params) == 250 and run.data.params["p249"] == "249"
    assert sum(key.startswith("t") for key in run.data.tags) == 150
    assert run.data.metrics["curve"] == 2499 / 7

    # Fetch the history in pages of 1000 (the client follows next_page_token).
    import mlflow.tracking._tracking_service.client as tracking_client

    monkeypatch.setattr(tracking_client, "GET_METRIC_HISTORY_MAX_RESULTS", 1000)
    history = client.get_metric_history(run_id, "curve")
    assert [m.step for m in history] == list(range(2500))
    assert history[1234].value == 1234 / 7


def test_tags_set_and_delete(client: MlflowClient, experiment_id: str) -> None:
    run_id = client.create_run(experiment_id).info.run_id
    client.set_tag(run_id, "stage", "draft")
    client.set_tag(run_id, "stage", "final")
    client.set_tag(run_id, "mlflow.note.content", "long\nnote")
    tags = client.get_run(run_id).data.tags
    assert tags["stage"] == "final" and tags["mlflow.note.content"] == "long\nnote"
    client.set_tag(run_id, "mlflow.runName", "via-tag")
    assert client.get_run(run_id).info.run_name == "via-tag"

    client.delete_tag(run_id, "stage")
    assert "stage" not in client.get_run(run_id).data.tags
    with pytest.raises(MlflowException) as excinfo:
        client.delete_tag(run_id, "stage")
    assert error_of(excinfo) == ("RESOURCE_DOES_NOT_EXIST", 404)


def test_errors_the_client_sees(client: MlflowClient, experiment_id: str) -> None:
    unknown = "f" * 32
    for call in (
        lambda: client.get_run(unknown),
        lambda: client.log_param(unknown, "p", "1"),
        lambda: client.log_metric(unknown, "m", 1.0),
        lambda: client.set_tag(unknown, "t", "v"),
        lambda: client.set_terminated(unknown),
        lambda: client.delete_run(unknown),
    ):
        with pytest.raises(MlflowException) as excinfo:
            call()
        assert error_of(excinfo) == ("RESOURCE_DOES_NOT_EXIST", 404)

    for bad_filter in (
        "metrics.acc >",
        "params.x = 1",  # params compare with strings
        "metrics.acc = 'high'",
        "nonsense.key = 'v'",
        "attributes.status = 'X' OR",
    ):
        with pytest.raises(MlflowException) as excinfo:
            client.search_runs([experiment_id], bad_filter)
        assert error_of(excinfo) == ("INVALID_PARAMETER_VALUE", 400), bad_filter

    with pytest.raises(MlflowException) as excinfo:
        client.search_runs([experiment_id], order_by=["metrics.acc SIDEWAYS"])
    assert error_of(excinfo) == ("INVALID_PARAMETER_VALUE", 400)
    with pytest.raises(MlflowException) as excinfo:
        client.search_runs([experiment_id], page_token="garbage")
    assert error_of(excinfo) == ("INVALID_PARAMETER_VALUE", 400)

    run_id = client.create_run(experiment_id).info.run_id
    with pytest.raises(MlflowException) as excinfo:
        client.log_metric(run_id, "bad/../key", 1.0)
    assert error_of(excinfo)[0] == "INVALID_PARAMETER_VALUE"


def test_status_strings(client: MlflowClient, experiment_id: str) -> None:
    run_id = client.create_run(experiment_id).info.run_id
    for status in ("SCHEDULED", "FAILED", "RUNNING", "FINISHED"):
        client.update_run(run_id, status=status)
        assert client.get_run(run_id).info.status == status
    assert RunStatus.is_terminated(RunStatus.from_string(client.get_run(run_id).info.status))


def test_writes_to_a_deleted_run_are_refused(client: MlflowClient, experiment_id: str) -> None:
    run_id = client.create_run(experiment_id, tags={"t": "v"}).info.run_id
    client.delete_run(run_id)
    client.delete_run(run_id)  # idempotent
    for call in (
        lambda: client.log_param(run_id, "p", "1"),
        lambda: client.log_metric(run_id, "m", 1.0),
        lambda: client.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 1)]),
        lambda: client.set_tag(run_id, "t", "w"),
        lambda: client.delete_tag(run_id, "t"),
        lambda: client.set_terminated(run_id),
    ):
        with pytest.raises(MlflowException) as excinfo:
            call()
        assert error_of(excinfo) == ("INVALID_PARAMETER_VALUE", 400)
    client.restore_run(run_id)
    client.restore_run(run_id)
    client.set_tag(run_id, "t", "w")


def test_limits_and_validation(client: MlflowClient, experiment_id: str) -> None:
    run_id = client.create_run(experiment_id).info.run_id
    # Over-long param and tag values are truncated, as MLflow's server does by default.
    client.log_param(run_id, "long", "x" * 7000)
    client.set_tag(run_id, "long", "y" * 9000)
    run = client.get_run(run_id)
    assert run.data.params["long"] == "x" * 6000
    assert run.data.tags["long"] == "y" * 8000

    # Keys with the allowed punctuation; negative steps; exact duplicates stored once.
    client.log_metric(run_id, "a/b c:d.e-f_g", 2.0, timestamp=0, step=-5)
    for _ in range(3):
        client.log_metric(run_id, "dup", 1.0, timestamp=5, step=1)
    assert [(m.step, m.timestamp) for m in client.get_metric_history(run_id, "a/b c:d.e-f_g")] == [
        (-5, 0)
    ]
    assert len(client.get_metric_history(run_id, "dup")) == 1

    client.log_batch(run_id, params=[Param("same", "1"), Param("same", "1")])
    refused = (
        lambda: client.log_batch(run_id, params=[Param("k", "1"), Param("k", "2")]),
        lambda: client.log_batch(run_id, params=[Param("../up", "1")]),
        lambda: client.create_run(experiment_id, run_name="a", tags={"mlflow.runName": "b"}),
        lambda: client.search_runs([experiment_id], max_results=50001),
        lambda: client.search_runs([experiment_id], order_by=["metrics.a", "metrics.a DESC"]),
        lambda: client.search_runs(["not-a-number"]),
    )
    for call in refused:
        with pytest.raises(MlflowException) as excinfo:
            call()
        assert error_of(excinfo) == ("INVALID_PARAMETER_VALUE", 400)

    with pytest.raises(MlflowException) as excinfo:
        client.create_run("987654321")
    assert error_of(excinfo) == ("RESOURCE_DOES_NOT_EXIST", 404)
    assert client.search_runs(["987654321"]) == []
