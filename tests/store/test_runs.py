"""The SQL store's runs: lifecycle, params, tags, inputs — on all three databases."""

from __future__ import annotations

import math

import pytest

from cairn.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunStatus,
    RunTag,
)
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.store.validation import RUN_NAME_TAG


@pytest.fixture
def run_id(store):
    return store.create_run("0", user_id="alice", start_time=1000).info.run_id


def test_create_run_fills_info(store):
    eid = store.create_experiment("exp")
    run = store.create_run(eid, user_id="alice", start_time=123, run_name="first")
    info = run.info
    assert len(info.run_id) == 32
    assert info.experiment_id == eid
    assert info.run_name == "first"
    assert info.user_id == "alice"
    assert info.status is RunStatus.RUNNING
    assert info.start_time == 123 and info.end_time is None
    assert info.lifecycle_stage is LifecycleStage.ACTIVE
    assert (
        info.artifact_uri
        == f"{store.get_experiment(eid).artifact_location}/{info.run_id}/artifacts"
    )
    assert run.data.tags == {"mlflow.runName": "first"}


def test_generated_run_names(store):
    name = store.create_run("0").info.run_name
    adjective, animal, number = name.split("-")
    assert adjective and animal and 100 <= int(number) <= 999


def test_run_name_and_tag_must_agree(store):
    with pytest.raises(InvalidParameterValue):
        store.create_run("0", run_name="a", tags=[RunTag("mlflow.runName", "b")])


def test_unknown_run(store):
    with pytest.raises(ResourceDoesNotExist):
        store.get_run("f" * 32)
    with pytest.raises(ResourceDoesNotExist):
        store.log_param("f" * 32, Param("a", "b"))


def test_update_run_info(store, run_id):
    info = store.update_run_info(run_id, RunStatus.FINISHED, end_time=2000, run_name="renamed")
    assert info.status is RunStatus.FINISHED and info.end_time == 2000
    run = store.get_run(run_id)
    assert run.info.run_name == "renamed"
    assert run.data.tags["mlflow.runName"] == "renamed"


def test_setting_run_name_tag_renames_the_run(store, run_id):
    store.set_tag(run_id, RunTag("mlflow.runName", "via-tag"))
    assert store.get_run(run_id).info.run_name == "via-tag"


def test_params_are_write_once(store, run_id):
    store.log_param(run_id, Param("lr", "0.1"))
    store.log_param(run_id, Param("lr", "0.1"))  # same value again is fine
    with pytest.raises(InvalidParameterValue, match="lr"):
        store.log_param(run_id, Param("lr", "0.2"))
    assert store.get_run(run_id).data.params == {"lr": "0.1"}


def test_duplicate_param_in_one_batch(store, run_id):
    with pytest.raises(InvalidParameterValue):
        store.log_batch(run_id, params=[Param("a", "1"), Param("a", "2")])
    store.log_batch(run_id, params=[Param("a", "1"), Param("a", "1")])
    assert store.get_run(run_id).data.params == {"a": "1"}


def test_failed_batch_writes_nothing(store, run_id):
    from cairn.entities import Metric

    store.log_param(run_id, Param("a", "1"))
    with pytest.raises(InvalidParameterValue):
        store.log_batch(
            run_id,
            metrics=[Metric("m", 1.0, 1, 0)],
            params=[Param("a", "2")],
            tags=[RunTag("t", "v")],
        )
    data = store.get_run(run_id).data
    assert data.metrics == {} and "t" not in data.tags


def test_long_values_are_truncated(store, run_id):
    store.log_param(run_id, Param("p", "x" * 7000))
    store.set_tag(run_id, RunTag("t", "y" * 9000))
    data = store.get_run(run_id).data
    assert len(data.params["p"]) == 6000 and len(data.tags["t"]) == 8000


def test_long_values_error_when_truncation_is_off(store, run_id, monkeypatch):
    monkeypatch.setenv("CAIRN_TRUNCATE_LONG_VALUES", "false")
    with pytest.raises(InvalidParameterValue, match="6000"):
        store.log_param(run_id, Param("p", "x" * 7000))


@pytest.mark.parametrize("key", ["", "a" * 251, "bad!key", "../up", "/abs", "a//b", "./a"])
def test_bad_keys_are_rejected(store, run_id, key):
    with pytest.raises(InvalidParameterValue):
        store.log_param(run_id, Param(key, "v"))


def test_tags_upsert_and_delete(store, run_id):
    store.set_tag(run_id, RunTag("t", "1"))
    store.set_tag(run_id, RunTag("t", "2"))
    assert store.get_run(run_id).data.tags["t"] == "2"
    store.delete_tag(run_id, "t")
    assert "t" not in store.get_run(run_id).data.tags
    with pytest.raises(ResourceDoesNotExist):
        store.delete_tag(run_id, "t")


def test_deleted_runs_refuse_writes_and_restore(store, run_id):
    store.delete_run(run_id)
    store.delete_run(run_id)  # idempotent
    assert store.get_run(run_id).info.lifecycle_stage is LifecycleStage.DELETED
    for write in (
        lambda: store.log_param(run_id, Param("a", "1")),
        lambda: store.set_tag(run_id, RunTag("a", "1")),
        lambda: store.update_run_info(run_id, RunStatus.FINISHED),
        lambda: store.delete_tag(run_id, "mlflow.runName"),
    ):
        with pytest.raises(InvalidParameterValue, match="deleted"):
            write()
    store.restore_run(run_id)
    store.log_param(run_id, Param("a", "1"))


def test_batch_limits(store, run_id):
    from cairn.entities import Metric

    with pytest.raises(InvalidParameterValue, match="1000"):
        store.log_batch(run_id, metrics=[Metric("m", 1.0, 1, i) for i in range(1001)])
    with pytest.raises(InvalidParameterValue, match="100"):
        store.log_batch(run_id, params=[Param(f"p{i}", "v") for i in range(101)])
    with pytest.raises(InvalidParameterValue, match="100"):
        store.log_batch(run_id, tags=[RunTag(f"t{i}", "v") for i in range(101)])


def test_log_inputs(store, run_id):
    dataset = Dataset("iris", "abc123", "local", '{"uri": "/data/iris.csv"}', '{"cols": []}')
    item = DatasetInput(dataset, (InputTag("mlflow.data.context", "training"),))
    store.log_inputs(run_id, [item])
    store.log_inputs(run_id, [item])  # logging the same input twice keeps one
    inputs = store.get_run(run_id).inputs.dataset_inputs
    assert inputs == (item,)
    assert inputs[0].context == "training"


def test_log_inputs_rejects_oversized_fields(store, run_id):
    with pytest.raises(InvalidParameterValue, match="digest"):
        store.log_inputs(run_id, [DatasetInput(Dataset("d", "x" * 37, "local", "s"))])


def test_unicode_round_trips(store, run_id):
    store.log_param(run_id, Param("名前", "値 ✓"))
    store.set_tag(run_id, RunTag("emoji", "🚀"))
    data = store.get_run(run_id).data
    assert data.params["名前"] == "値 ✓" and data.tags["emoji"] == "🚀"


@pytest.mark.parametrize("bad", ["soon", 1.5, 2**63, True])
def test_run_times_must_be_64_bit_integers(store, run_id, bad):
    with pytest.raises(InvalidParameterValue, match="64 bits"):
        store.create_run("0", start_time=bad)
    with pytest.raises(InvalidParameterValue, match="64 bits"):
        store.update_run_info(run_id, end_time=bad)


def _rest_shape(run: Run) -> dict:
    """`Run.to_dict` with empty lists left out (as MLflow leaves them out), NaN made comparable."""
    d = run.to_dict()
    d["data"] = {k: v for k, v in d["data"].items() if v}
    d["inputs"] = {k: v for k, v in d["inputs"].items() if v}
    for metric in d["data"].get("metrics", ()):
        if math.isnan(metric["value"]):
            metric["value"] = "nan"
    return d


def test_search_run_dicts_gives_the_runs_of_search_runs_in_rest_shape(store, run_id):
    store.log_batch(
        run_id,
        metrics=[
            Metric("b", math.inf, 5, 1),
            Metric("a", -math.inf, 6, 2),
            Metric("c", math.nan, 7, 3),
            Metric("d", 0.1, 8, 4),
        ],
        params=[Param("p", "1")],
        tags=[RunTag("t", "x")],
    )
    dataset = Dataset("iris", "abc123", "local", '{"uri": "/data/iris.csv"}', '{"cols": []}')
    store.log_inputs(run_id, [DatasetInput(dataset, (InputTag("mlflow.data.context", "train"),))])
    store.update_run_info(run_id, RunStatus.FINISHED, 2000, None)
    store.create_run("0", start_time=None)  # no metrics, params, inputs or start time
    bare = store.create_run("0", start_time=3000, run_name="bare").info.run_id
    store.delete_tag(bare, RUN_NAME_TAG)  # and no tags at all

    runs = store.search_runs(["0"], order_by=["attributes.start_time ASC"])
    dicts = store.search_run_dicts(["0"], order_by=["attributes.start_time ASC"])
    assert len(dicts) == 3
    for d in dicts:
        for metric in d["data"].get("metrics", ()):
            if math.isnan(metric["value"]):
                metric["value"] = "nan"
    assert dicts == [_rest_shape(r) for r in runs]
    assert dicts.token == runs.token
    full = next(d for d in dicts if d["info"]["run_id"] == run_id)["data"]
    assert list(full) == ["metrics", "params", "tags"]  # MLflow's order
    assert [m["key"] for m in full["metrics"]] == ["a", "b", "c", "d"]


def test_search_run_dicts_spell_non_finite_metric_values_as_asked(store, run_id):
    store.log_batch(
        run_id,
        metrics=[
            Metric("inf", math.inf, 5, 1),
            Metric("nan", math.nan, 7, 3),
            Metric("one", 1.0, 8, 4),
        ],
    )
    (run,) = store.search_run_dicts(["0"], non_finite=lambda value: f"<{value}>")
    values = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert values == {"inf": "<inf>", "nan": "<nan>", "one": 1.0}


@pytest.mark.parametrize("others_between", [0, 1, 3])
def test_search_pages_hold_their_own_runs_whatever_was_created_among_them(store, others_between):
    """A page whose runs were created close together is read as one range of run keys; the
    runs of other experiments, and deleted runs, created among them must not leak in, with
    or without datasets (0: consecutive keys, 1: a range to filter, 3: keys too far apart)."""
    mine, theirs = store.create_experiment("mine"), store.create_experiment("theirs")
    dataset = Dataset("iris", "abc123", "local", '{"uri": "/data/iris.csv"}')
    expected = {}
    for i in range(12):
        run_id = store.create_run(mine, start_time=i, run_name=f"m{i}").info.run_id
        store.log_batch(run_id, [Metric("m", i, 0, 0)], [Param("p", str(i))], [RunTag("t", str(i))])
        expected[run_id] = i
        if i == 6:
            gone = store.create_run(mine, start_time=i).info.run_id
            store.log_batch(gone, [Metric("m", -1, 0, 0)], [Param("p", "gone")])
            store.delete_run(gone)
        for _ in range(others_between):
            other = store.create_run(theirs, start_time=i).info.run_id
            store.log_batch(other, [Metric("m", -1, 0, 0)], [Param("p", "other")])
            store.log_inputs(other, [DatasetInput(dataset)])

    seen: list[str] = []
    token = None
    while True:
        dicts = store.search_run_dicts([mine], max_results=5, page_token=token)
        runs = store.search_runs([mine], max_results=5, page_token=token)
        assert [d["info"]["run_id"] for d in dicts] == [r.info.run_id for r in runs]
        for d, run in zip(dicts, runs, strict=True):
            i = expected[run.info.run_id]
            assert d["info"]["experiment_id"] == run.info.experiment_id == mine
            assert d["data"]["metrics"] == [{"key": "m", "value": i, "timestamp": 0, "step": 0}]
            assert d["data"]["params"] == [{"key": "p", "value": str(i)}]
            assert run.data.params == {"p": str(i)}
            assert run.data.tags == {"t": str(i), RUN_NAME_TAG: f"m{i}"}
            assert d["inputs"] == {} and not run.inputs.dataset_inputs
        seen += [r.info.run_id for r in runs]
        token = runs.token
        if token is None:
            break
    assert seen == sorted(expected, key=expected.__getitem__, reverse=True)
