"""RestTrackingStore against a real server process: every store method over HTTP."""

from __future__ import annotations

import math
import sys
import uuid
from typing import Any

import pytest

from cairn.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    LifecycleStage,
    Metric,
    Param,
    RunStatus,
    RunTag,
    ViewType,
)
from cairn.exceptions import (
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from cairn.store import get_tracking_store
from cairn.store.base import TrackingStore
from cairn.store.rest import RestTrackingStore
from cairn.store.rest import store as rest_module
from cairn.transport import HttpTransport

# MLflow's SQL backend returns ±inf as ±DBL_MAX; Cairn returns "Infinity". Both are valid.
DBL_MAX = sys.float_info.max


def _name() -> str:
    return f"rest-{uuid.uuid4().hex}"


def test_is_a_tracking_store(rest_store: RestTrackingStore) -> None:
    assert isinstance(rest_store, TrackingStore)


def test_get_tracking_store_shares_one_rest_store_per_server(server_url: str) -> None:
    store = get_tracking_store(server_url)
    assert isinstance(store, RestTrackingStore)
    assert get_tracking_store(server_url + "/") is store
    assert store.transport.base_url == server_url


# -- experiments ----------------------------------------------------------------------------


def test_experiment_lifecycle(rest_store: RestTrackingStore) -> None:
    name = _name()
    eid = rest_store.create_experiment(name, tags={"team": "vision"})
    exp = rest_store.get_experiment(eid)
    assert exp.name == name and exp.tags == {"team": "vision"}
    assert exp.lifecycle_stage is LifecycleStage.ACTIVE and exp.creation_time
    assert rest_store.get_experiment_by_name(name) == exp

    rest_store.rename_experiment(eid, name + "-renamed")
    rest_store.set_experiment_tag(eid, "stage", "dev")
    rest_store.delete_experiment_tag(eid, "team")
    exp = rest_store.get_experiment(eid)
    assert exp.name == name + "-renamed" and exp.tags == {"stage": "dev"}

    rest_store.delete_experiment(eid)
    assert rest_store.get_experiment(eid).lifecycle_stage is LifecycleStage.DELETED
    rest_store.restore_experiment(eid)
    assert rest_store.get_experiment(eid).lifecycle_stage is LifecycleStage.ACTIVE


def test_missing_experiments(rest_store: RestTrackingStore) -> None:
    assert rest_store.get_experiment_by_name(_name()) is None
    with pytest.raises(ResourceDoesNotExist):
        rest_store.get_experiment("987654321")
    with pytest.raises(ResourceDoesNotExist):
        rest_store.delete_experiment_tag("0", "never-set-" + uuid.uuid4().hex)


def test_duplicate_experiment_names(rest_store: RestTrackingStore) -> None:
    name = _name()
    rest_store.create_experiment(name)
    with pytest.raises(ResourceAlreadyExists):
        rest_store.create_experiment(name)


def test_explicit_artifact_location(rest_store: RestTrackingStore) -> None:
    location = f"mlflow-artifacts:/elsewhere/{uuid.uuid4().hex}"
    eid = rest_store.create_experiment(_name(), artifact_location=location)
    assert rest_store.get_experiment(eid).artifact_location == location


def test_search_experiments_pages_with_tokens(rest_store: RestTrackingStore) -> None:
    prefix = _name()
    made = {rest_store.create_experiment(f"{prefix}-{i}") for i in range(5)}
    found: list[str] = []
    token = None
    while True:
        page = rest_store.search_experiments(
            max_results=2,
            filter_string=f"name LIKE '{prefix}-%'",
            order_by=["name DESC"],
            page_token=token,
        )
        assert len(page) <= 2
        found += [e.experiment_id for e in page]
        token = page.token
        if not token:
            break
    assert set(found) == made and len(found) == 5
    names = [rest_store.get_experiment(e).name for e in found]
    assert names == sorted(names, reverse=True)


def test_search_experiments_view_type(rest_store: RestTrackingStore) -> None:
    prefix = _name()
    keep = rest_store.create_experiment(f"{prefix}-keep")
    gone = rest_store.create_experiment(f"{prefix}-gone")
    rest_store.delete_experiment(gone)

    def ids(view: ViewType) -> set[str]:
        found = rest_store.search_experiments(view, filter_string=f"name LIKE '{prefix}%'")
        return {e.experiment_id for e in found}

    assert ids(ViewType.ACTIVE_ONLY) == {keep}
    assert ids(ViewType.DELETED_ONLY) == {gone}
    assert ids(ViewType.ALL) == {keep, gone}


# -- runs -----------------------------------------------------------------------------------


def test_run_lifecycle(rest_store: RestTrackingStore, experiment_id: str) -> None:
    run = rest_store.create_run(
        experiment_id, user_id="ada", start_time=1234, tags=[RunTag("k", "v")], run_name="first"
    )
    info = run.info
    assert info.experiment_id == experiment_id and info.run_name == "first"
    assert info.user_id == "ada" and info.start_time == 1234 and info.end_time is None
    assert info.status is RunStatus.RUNNING
    assert run.data.tags == {"k": "v", "mlflow.runName": "first"}
    assert rest_store.get_run(info.run_id) == run

    updated = rest_store.update_run_info(info.run_id, RunStatus.FINISHED, 5678, "renamed")
    assert updated.status is RunStatus.FINISHED and updated.end_time == 5678
    assert rest_store.get_run(info.run_id).info.run_name == "renamed"

    rest_store.delete_run(info.run_id)
    rest_store.delete_run(info.run_id)  # idempotent
    assert rest_store.get_run(info.run_id).info.lifecycle_stage is LifecycleStage.DELETED
    rest_store.restore_run(info.run_id)
    assert rest_store.get_run(info.run_id).info.lifecycle_stage is LifecycleStage.ACTIVE


def test_unknown_run(rest_store: RestTrackingStore) -> None:
    with pytest.raises(ResourceDoesNotExist):
        rest_store.get_run("f" * 32)


def test_params_tags_and_metrics(rest_store: RestTrackingStore, experiment_id: str) -> None:
    run_id = rest_store.create_run(experiment_id, start_time=1).info.run_id
    rest_store.log_param(run_id, Param("lr", "0.1"))
    rest_store.log_param(run_id, Param("lr", "0.1"))  # the same value again is fine
    with pytest.raises(InvalidParameterValue):
        rest_store.log_param(run_id, Param("lr", "0.2"))
    rest_store.set_tag(run_id, RunTag("t", "1"))
    rest_store.set_tag(run_id, RunTag("t", "2"))
    rest_store.set_tag(run_id, RunTag("gone", "x"))
    rest_store.delete_tag(run_id, "gone")
    with pytest.raises(ResourceDoesNotExist):
        rest_store.delete_tag(run_id, "gone")
    rest_store.log_metric(run_id, Metric("loss", 0.5, 100, 1))
    rest_store.log_metric(run_id, Metric("loss", 0.25, 200, 2))
    data = rest_store.get_run(run_id).data
    assert data.params == {"lr": "0.1"}
    assert data.tags["t"] == "2" and "gone" not in data.tags
    assert data.metrics == {"loss": 0.25}
    assert data.latest_metrics == (Metric("loss", 0.25, 200, 2),)


def test_unicode_round_trips(rest_store: RestTrackingStore, experiment_id: str) -> None:
    run_id = rest_store.create_run(experiment_id, start_time=1).info.run_id
    rest_store.log_param(run_id, Param("名前", "値 ✓"))
    rest_store.set_tag(run_id, RunTag("emoji", '🚀 "quoted" \\ back'))
    data = rest_store.get_run(run_id).data
    assert data.params["名前"] == "値 ✓" and data.tags["emoji"] == '🚀 "quoted" \\ back'


def test_non_finite_metrics_round_trip(rest_store: RestTrackingStore, experiment_id: str) -> None:
    run_id = rest_store.create_run(experiment_id, start_time=1).info.run_id
    rest_store.log_batch(
        run_id,
        metrics=[
            Metric("nan", math.nan, 1, 0),
            Metric("pinf", math.inf, 1, 0),
            Metric("ninf", -math.inf, 1, 0),
        ],
    )
    rest_store.log_metric(run_id, Metric("nan2", math.nan, 1, 0))
    latest = rest_store.get_run(run_id).data.metrics
    assert math.isnan(latest["nan"]) and math.isnan(latest["nan2"])
    assert latest["pinf"] in (math.inf, DBL_MAX) and latest["ninf"] in (-math.inf, -DBL_MAX)
    (point,) = rest_store.get_metric_history(run_id, "nan")
    assert math.isnan(point.value)


def test_numpy_values_are_sent_as_numbers(
    rest_store: RestTrackingStore, experiment_id: str
) -> None:
    np = pytest.importorskip("numpy")
    run_id = rest_store.create_run(experiment_id, start_time=1).info.run_id
    rest_store.log_metric(run_id, Metric("np", np.float32(0.5), np.int64(2), np.int32(1)))
    assert rest_store.get_metric_history(run_id, "np") == [Metric("np", 0.5, 2, 1)]


def test_a_big_batch_is_split_into_requests(
    rest_store: RestTrackingStore, experiment_id: str
) -> None:
    run_id = rest_store.create_run(experiment_id, start_time=1).info.run_id
    metrics = [Metric("m", float(i), 1000 + i, i) for i in range(2500)]
    params = [Param(f"p{i}", str(i)) for i in range(150)]
    tags = [RunTag(f"t{i}", str(i)) for i in range(120)]
    rest_store.log_batch(run_id, metrics, params, tags)
    data = rest_store.get_run(run_id).data
    assert len(data.params) == 150 and len([k for k in data.tags if k.startswith("t")]) == 120
    assert [m.step for m in rest_store.get_metric_history(run_id, "m")] == list(range(2500))


def test_batch_errors_come_back(rest_store: RestTrackingStore, experiment_id: str) -> None:
    run_id = rest_store.create_run(experiment_id, start_time=1).info.run_id
    with pytest.raises(InvalidParameterValue):
        rest_store.log_batch(run_id, params=[Param("a", "1"), Param("a", "2")])
    with pytest.raises(InvalidParameterValue):
        rest_store.log_batch(run_id, params=[Param("bad key!", "1")])


def test_log_inputs(rest_store: RestTrackingStore, experiment_id: str) -> None:
    run_id = rest_store.create_run(experiment_id, start_time=1).info.run_id
    dataset = Dataset("iris", "abc123", "local", '{"uri": "/data/iris.csv"}', '{"cols": []}')
    item = DatasetInput(dataset, (InputTag("mlflow.data.context", "training"),))
    rest_store.log_inputs(run_id, [item])
    assert rest_store.get_run(run_id).inputs.dataset_inputs == (item,)


# -- metric history -------------------------------------------------------------------------


def test_history_pages(rest_store: RestTrackingStore, experiment_id: str) -> None:
    run_id = rest_store.create_run(experiment_id, start_time=1).info.run_id
    rest_store.log_batch(run_id, metrics=[Metric("m", float(i), i, i) for i in range(25)])
    page = rest_store.get_metric_history(run_id, "m", max_results=10)
    assert len(page) == 10 and page.token
    steps = [m.step for m in page]
    while page.token:
        page = rest_store.get_metric_history(run_id, "m", max_results=10, page_token=page.token)
        steps += [m.step for m in page]
    assert steps == list(range(25))
    assert rest_store.get_metric_history(run_id, "never-logged") == []


def test_iter_history_fetches_page_by_page(
    rest_store: RestTrackingStore, experiment_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = rest_store.create_run(experiment_id, start_time=1).info.run_id
    rest_store.log_batch(run_id, metrics=[Metric("m", float(i), i, i) for i in range(30)])
    monkeypatch.setattr(rest_module, "HISTORY_PAGE_SIZE", 7)
    calls: list[Any] = []
    real = rest_store.get_metric_history

    def spy(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(rest_store, "get_metric_history", spy)
    assert [m.step for m in rest_store.iter_metric_history(run_id, "m")] == list(range(30))
    assert len(calls) == 5 and all(c[2] == 7 for c in calls)


# -- search runs ----------------------------------------------------------------------------


def test_search_runs(rest_store: RestTrackingStore, experiment_id: str) -> None:
    ids = []
    for i in range(5):
        run_id = rest_store.create_run(experiment_id, start_time=1000 + i).info.run_id
        rest_store.log_batch(
            run_id, [Metric("acc", i / 10, 1, 0)], [Param("i", str(i))], [RunTag("odd", str(i % 2))]
        )
        ids.append(run_id)
    found = rest_store.search_runs([experiment_id], "metrics.acc >= 0.2 and tags.odd = '0'")
    assert [r.info.run_id for r in found] == [ids[4], ids[2]]  # newest first by default
    assert found[0].data.params == {"i": "4"}

    ordered = rest_store.search_runs([experiment_id], order_by=["params.i ASC"], max_results=2)
    assert [r.info.run_id for r in ordered] == ids[:2] and ordered.token
    rest = rest_store.search_runs(
        [experiment_id], order_by=["params.i ASC"], max_results=10, page_token=ordered.token
    )
    assert [r.info.run_id for r in rest] == ids[2:] and rest.token is None


def test_search_runs_view_type(rest_store: RestTrackingStore, experiment_id: str) -> None:
    keep = rest_store.create_run(experiment_id, start_time=1).info.run_id
    gone = rest_store.create_run(experiment_id, start_time=2).info.run_id
    rest_store.delete_run(gone)

    def ids(view: ViewType) -> list[str]:
        return [r.info.run_id for r in rest_store.search_runs([experiment_id], None, view)]

    assert ids(ViewType.ACTIVE_ONLY) == [keep]
    assert ids(ViewType.DELETED_ONLY) == [gone]
    assert ids(ViewType.ALL) == [gone, keep]


def test_bad_filters_are_invalid_parameters(
    rest_store: RestTrackingStore, experiment_id: str
) -> None:
    with pytest.raises(InvalidParameterValue):
        rest_store.search_runs([experiment_id], "metrics.acc >>> 1")


# -- what goes on the wire (no server needed) -----------------------------------------------


class RecordingTransport(HttpTransport):
    """Records calls instead of sending them, answering as a server would for each path."""

    def __init__(self) -> None:
        super().__init__("http://recorded:1")
        self.calls: list[tuple[str, str, dict[str, Any], bool]] = []

    def call(self, method: str, path: str, fields: Any = None, *, idempotent: bool = False) -> Any:
        self.calls.append((method, path, dict(fields or {}), idempotent))
        info = {"run_id": "r", "experiment_id": "1", "status": "RUNNING"}
        answers = {
            "/api/2.0/mlflow/experiments/create": {"experiment_id": "1"},
            "/api/2.0/mlflow/runs/create": {"run": {"info": info}},
            "/api/2.0/mlflow/runs/update": {"run_info": info},
        }
        return answers.get(path, {})


def test_only_repeatable_calls_are_marked_idempotent() -> None:
    transport = RecordingTransport()
    store = RestTrackingStore("http://recorded:1", transport=transport)
    store.create_experiment("e")
    store.create_run("1")
    store.delete_experiment("1")
    store.delete_tag("r", "k")
    store.get_metric_history("r", "m")
    store.search_runs(["1"])
    store.log_batch("r", [Metric("m", 1.0, 1, 0)])
    store.log_metric("r", Metric("m", 1.0, 1, 0))
    store.log_param("r", Param("p", "v"))
    store.set_tag("r", RunTag("t", "v"))
    store.update_run_info("r", RunStatus.FINISHED)
    store.delete_run("r")
    marked = {path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1]: flag
              for _, path, _, flag in transport.calls}  # fmt: skip
    assert marked == {
        "experiments/create": False,
        "runs/create": False,
        "experiments/delete": False,
        "runs/delete-tag": False,
        "metrics/get-history": True,
        "runs/search": True,
        "runs/log-batch": True,
        "runs/log-metric": True,
        "runs/log-parameter": True,
        "runs/set-tag": True,
        "runs/update": True,
        "runs/delete": True,
    }


def test_request_shapes_follow_the_protocol() -> None:
    transport = RecordingTransport()
    store = RestTrackingStore("http://recorded:1", transport=transport)
    store.search_runs(["1", "2"], "params.a = 'x'", ViewType.ALL, 5, ["metrics.m DESC"], "tok")
    store.get_metric_history("r", "loss", 10)
    store.create_experiment("e")
    (m1, p1, f1, _), (m2, p2, f2, _), (_, _, f3, _) = transport.calls
    assert (m1, p1) == ("POST", "/api/2.0/mlflow/runs/search")
    assert f1 == {
        "experiment_ids": ["1", "2"],
        "filter": "params.a = 'x'",
        "run_view_type": "ALL",
        "max_results": 5,
        "order_by": ["metrics.m DESC"],
        "page_token": "tok",
    }
    assert (m2, p2) == ("GET", "/api/2.0/mlflow/metrics/get-history")
    assert f2 == {"run_id": "r", "metric_key": "loss", "max_results": 10, "page_token": None}
    assert f3 == {"name": "e"}  # unset fields are left out


def test_batches_are_cut_to_the_server_limits() -> None:
    transport = RecordingTransport()
    store = RestTrackingStore("http://recorded:1", transport=transport)
    store.log_batch("r", [Metric("m", 1.0, 1, i) for i in range(2001)], [Param("p", "v")])
    sizes = [(len(f["metrics"]), len(f["params"])) for _, _, f, _ in transport.calls]
    assert sizes == [(999, 1), (1000, 0), (2, 0)]
