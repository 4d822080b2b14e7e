"""CairnClient: experiments, runs and run data, by id, on every database backend."""

from __future__ import annotations

import math
import time

import pytest

from cairn.entities import LifecycleStage, Metric, Param, RunStatus, RunTag, ViewType
from cairn.exceptions import (
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from cairn.tracking.client import CairnClient, MlflowClient


def test_mlflow_client_is_the_same_class() -> None:
    assert MlflowClient is CairnClient


# -- experiments -----------------------------------------------------------------------------


def test_experiment_lifecycle(backend_client: CairnClient) -> None:
    c = backend_client
    exp_id = c.create_experiment("exp", tags={"team": "vision", "n": 1})
    assert c.get_experiment(exp_id).tags == {"team": "vision", "n": "1"}
    assert c.get_experiment_by_name("exp").experiment_id == exp_id  # type: ignore[union-attr]
    assert c.get_experiment_by_name("missing") is None

    c.rename_experiment(exp_id, "renamed")
    c.set_experiment_tag(exp_id, "stage", "dev")
    c.delete_experiment_tag(exp_id, "team")
    exp = c.get_experiment(int(exp_id))
    assert exp.name == "renamed"
    assert exp.tags == {"n": "1", "stage": "dev"}

    c.delete_experiment(exp_id)
    assert c.get_experiment(exp_id).lifecycle_stage is LifecycleStage.DELETED
    deleted = c.search_experiments(view_type=ViewType.DELETED_ONLY)
    assert [e.experiment_id for e in deleted] == [exp_id]
    c.restore_experiment(exp_id)
    assert c.get_experiment(exp_id).lifecycle_stage is LifecycleStage.ACTIVE


def test_experiment_names_are_unique(backend_client: CairnClient) -> None:
    backend_client.create_experiment("dup")
    with pytest.raises(ResourceAlreadyExists):
        backend_client.create_experiment("dup")


def test_search_experiments_pages_with_a_token(backend_client: CairnClient) -> None:
    for i in range(5):
        backend_client.create_experiment(f"e{i}")
    first = backend_client.search_experiments(max_results=3, view_type="active_only")
    assert len(first) == 3
    assert first.token is not None
    rest = backend_client.search_experiments(max_results=3, page_token=first.token)
    names = {e.name for e in [*first, *rest]}
    assert names == {"Default", "e0", "e1", "e2", "e3", "e4"}
    assert rest.token is None


# -- runs ------------------------------------------------------------------------------------


def test_create_run_defaults_start_time_to_now_and_user_to_the_user_tag(
    backend_client: CairnClient,
) -> None:
    before = int(time.time() * 1000)
    run = backend_client.create_run("0", tags={"mlflow.user": "ada", "k": 3}, run_name="first")
    after = int(time.time() * 1000)

    assert run.info.status is RunStatus.RUNNING
    assert before <= (run.info.start_time or 0) <= after
    assert run.info.user_id == "ada"
    assert run.info.run_name == "first"
    assert run.data.tags["k"] == "3"
    assert run.data.tags["mlflow.runName"] == "first"
    assert backend_client.create_run("0").info.user_id == "unknown"


def test_the_store_names_runs_that_were_not_named(backend_client: CairnClient) -> None:
    run = backend_client.create_run("0")
    assert run.info.run_name
    assert run.data.tags["mlflow.runName"] == run.info.run_name


def test_update_run_and_set_terminated(backend_client: CairnClient) -> None:
    c = backend_client
    run_id = c.create_run("0", start_time=1000).info.run_id

    c.update_run(run_id, status="scheduled", name="better-name")
    info = c.get_run(run_id).info
    assert (info.status, info.run_name) == (RunStatus.SCHEDULED, "better-name")
    assert c.get_run(run_id).data.tags["mlflow.runName"] == "better-name"

    c.set_terminated(run_id)
    info = c.get_run(run_id).info
    assert info.status is RunStatus.FINISHED
    assert info.end_time is not None and info.end_time >= 1000

    c.set_terminated(run_id, status=RunStatus.FAILED, end_time=5000)
    info = c.get_run(run_id).info
    assert (info.status, info.end_time) == (RunStatus.FAILED, 5000)


def test_unknown_status_is_refused(backend_client: CairnClient) -> None:
    run_id = backend_client.create_run("0").info.run_id
    with pytest.raises(InvalidParameterValue, match="Unknown run status"):
        backend_client.set_terminated(run_id, status="DONE")


def test_delete_and_restore_run(backend_client: CairnClient) -> None:
    run_id = backend_client.create_run("0").info.run_id
    backend_client.delete_run(run_id)
    assert backend_client.get_run(run_id).info.lifecycle_stage is LifecycleStage.DELETED
    with pytest.raises(InvalidParameterValue):
        backend_client.log_param(run_id, "p", 1)
    backend_client.restore_run(run_id)
    backend_client.log_param(run_id, "p", 1)


def test_get_run_of_a_missing_run(backend_client: CairnClient) -> None:
    with pytest.raises(ResourceDoesNotExist):
        backend_client.get_run("0" * 32)


def test_get_parent_run(backend_client: CairnClient) -> None:
    parent = backend_client.create_run("0")
    child = backend_client.create_run("0", tags={"mlflow.parentRunId": parent.info.run_id})
    found = backend_client.get_parent_run(child.info.run_id)
    assert found is not None and found.info.run_id == parent.info.run_id
    assert backend_client.get_parent_run(parent.info.run_id) is None


# -- run data --------------------------------------------------------------------------------


def test_params_are_strings_and_write_once(backend_client: CairnClient) -> None:
    run_id = backend_client.create_run("0").info.run_id
    assert backend_client.log_param(run_id, "lr", 0.1) == 0.1
    backend_client.log_param(run_id, "lr", "0.1")  # the same value again is fine
    with pytest.raises(InvalidParameterValue):
        backend_client.log_param(run_id, "lr", 0.2)
    assert backend_client.get_run(run_id).data.params == {"lr": "0.1"}


def test_metric_defaults_and_history(backend_client: CairnClient) -> None:
    run_id = backend_client.create_run("0").info.run_id
    before = int(time.time() * 1000)
    backend_client.log_metric(run_id, "loss", 3)
    backend_client.log_metric(run_id, "loss", 2.5, timestamp=before + 10, step=1)
    backend_client.log_metric(run_id, "loss", 2.0, timestamp=before + 20, step=2)

    history = backend_client.get_metric_history(run_id, "loss")
    assert [(m.value, m.step) for m in history] == [(3.0, 0), (2.5, 1), (2.0, 2)]
    assert history[0].timestamp >= before
    assert backend_client.get_run(run_id).data.metrics == {"loss": 2.0}
    assert backend_client.get_metric_history(run_id, "missing") == []
    assert list(backend_client.iter_metric_history(run_id, "loss")) == history


def test_nan_and_infinity_round_trip(backend_client: CairnClient) -> None:
    run_id = backend_client.create_run("0").info.run_id
    backend_client.log_metric(run_id, "nan", float("nan"))
    backend_client.log_metric(run_id, "pinf", float("inf"))
    backend_client.log_metric(run_id, "ninf", float("-inf"))

    metrics = backend_client.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] == math.inf
    assert metrics["ninf"] == -math.inf
    assert math.isnan(backend_client.get_metric_history(run_id, "nan")[0].value)


def test_numpy_scalars_are_accepted_as_metric_values(backend_client: CairnClient) -> None:
    np = pytest.importorskip("numpy")
    run_id = backend_client.create_run("0").info.run_id
    backend_client.log_metric(run_id, "a", np.float32(0.5))
    backend_client.log_metric(run_id, "b", np.array(7))
    backend_client.log_metric(run_id, "c", True)
    assert backend_client.get_run(run_id).data.metrics == {"a": 0.5, "b": 7.0, "c": 1.0}


@pytest.mark.parametrize("value", ["1.0", None, [1.0], "abc"])
def test_non_numeric_metric_values_are_refused(client: CairnClient, value: object) -> None:
    run_id = client.create_run("0").info.run_id
    with pytest.raises(InvalidParameterValue, match="metric values must be numbers"):
        client.log_metric(run_id, "m", value)


def test_tags_set_and_delete(backend_client: CairnClient) -> None:
    run_id = backend_client.create_run("0").info.run_id
    backend_client.set_tag(run_id, "a", 1)
    backend_client.set_tag(run_id, "a", 2)
    assert backend_client.get_run(run_id).data.tags["a"] == "2"
    backend_client.delete_tag(run_id, "a")
    assert "a" not in backend_client.get_run(run_id).data.tags
    with pytest.raises(ResourceDoesNotExist):
        backend_client.delete_tag(run_id, "a")


def test_log_batch_writes_all_kinds(backend_client: CairnClient) -> None:
    run_id = backend_client.create_run("0").info.run_id
    backend_client.log_batch(
        run_id,
        metrics=[Metric("m", 1.0, 10, 0), Metric("m", 2.0, 20, 1)],
        params=[Param("p", "x")],
        tags=[RunTag("t", "y")],
    )
    data = backend_client.get_run(run_id).data
    assert (data.metrics, data.params, data.tags["t"]) == ({"m": 2.0}, {"p": "x"}, "y")


def test_log_batch_param_conflict_is_an_error(backend_client: CairnClient) -> None:
    run_id = backend_client.create_run("0").info.run_id
    backend_client.log_param(run_id, "p", "1")
    with pytest.raises(InvalidParameterValue):
        backend_client.log_batch(run_id, params=[Param("p", "2")])


def test_search_runs_filters_orders_and_pages(backend_client: CairnClient) -> None:
    c = backend_client
    exp_id = c.create_experiment("search")
    for i in range(5):
        run_id = c.create_run(exp_id, run_name=f"r{i}").info.run_id
        c.log_metric(run_id, "acc", i / 10)
        c.log_param(run_id, "model", "big" if i % 2 else "small")

    found = c.search_runs(exp_id, "params.model = 'big'", order_by=["metrics.acc DESC"])
    assert [r.info.run_name for r in found] == ["r3", "r1"]

    page = c.search_runs([exp_id], max_results=2, order_by=["metrics.acc"])
    assert [r.info.run_name for r in page] == ["r0", "r1"]
    assert page.token is not None
    nxt = c.search_runs([exp_id], max_results=2, order_by=["metrics.acc"], page_token=page.token)
    assert [r.info.run_name for r in nxt] == ["r2", "r3"]


def test_search_runs_view_types(backend_client: CairnClient) -> None:
    exp_id = backend_client.create_experiment("views")
    kept = backend_client.create_run(exp_id).info.run_id
    gone = backend_client.create_run(exp_id).info.run_id
    backend_client.delete_run(gone)

    def ids(view: ViewType | str) -> set[str]:
        return {r.info.run_id for r in backend_client.search_runs(exp_id, run_view_type=view)}

    assert ids(ViewType.ACTIVE_ONLY) == {kept}
    assert ids("DELETED_ONLY") == {gone}
    assert ids(ViewType.ALL) == {kept, gone}


def test_log_inputs_records_datasets(backend_client: CairnClient) -> None:
    from cairn.entities import Dataset, DatasetInput, InputTag

    run_id = backend_client.create_run("0").info.run_id
    ds = Dataset("train", "abcd1234", "local", '{"uri": "x.csv"}')
    backend_client.log_inputs(run_id, [DatasetInput(ds, (InputTag("mlflow.data.context", "t"),))])
    inputs = backend_client.get_run(run_id).inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest, i.context) for i in inputs] == [
        ("train", "abcd1234", "t")
    ]
