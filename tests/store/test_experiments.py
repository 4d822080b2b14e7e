"""The SQL store's experiments, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import pytest

from cairn.entities import LifecycleStage, RunTag, ViewType
from cairn.exceptions import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist


def test_default_experiment_exists(store):
    default = store.get_experiment("0")
    assert default.name == "Default"
    assert default.lifecycle_stage is LifecycleStage.ACTIVE
    assert default.artifact_location.endswith("/0")


def test_create_and_get_experiment_with_tags(store, artifact_root):
    eid = store.create_experiment("exp", tags={"team": "vision"})
    exp = store.get_experiment(eid)
    assert exp.name == "exp"
    assert exp.tags == {"team": "vision"}
    assert exp.artifact_location == f"{artifact_root}/{eid}"
    assert exp.creation_time == exp.last_update_time
    assert store.get_experiment_by_name("exp") == exp
    assert store.get_experiment_by_name("nope") is None


def test_explicit_artifact_location_is_kept(store):
    eid = store.create_experiment("exp", artifact_location="s3://bucket/path")
    assert store.get_experiment(eid).artifact_location == "s3://bucket/path"


def test_names_are_unique_among_active_and_deleted(store):
    eid = store.create_experiment("exp")
    with pytest.raises(ResourceAlreadyExists):
        store.create_experiment("exp")
    store.delete_experiment(eid)
    with pytest.raises(ResourceAlreadyExists):
        store.create_experiment("exp")


def test_lookups_are_exact_and_look_alike_names_refused(store):
    store.create_experiment("Exp")
    with pytest.raises(ResourceAlreadyExists):  # see test_experiment_names.py
        store.create_experiment("exp")
    assert store.get_experiment_by_name("EXP") is None


@pytest.mark.parametrize("name", ["", "   ", "x" * 501])
def test_bad_names_are_rejected(store, name):
    with pytest.raises(InvalidParameterValue):
        store.create_experiment(name)


def test_unknown_and_malformed_ids(store):
    with pytest.raises(ResourceDoesNotExist):
        store.get_experiment("12345")
    with pytest.raises(InvalidParameterValue):
        store.get_experiment("abc")


def test_rename(store):
    eid = store.create_experiment("old")
    other = store.create_experiment("other")
    store.rename_experiment(eid, "new")
    assert store.get_experiment(eid).name == "new"
    with pytest.raises(ResourceAlreadyExists):
        store.rename_experiment(eid, "other")
    store.delete_experiment(other)
    with pytest.raises(InvalidParameterValue):
        store.rename_experiment(other, "renamed")


def test_delete_and_restore_cascade_to_runs_deleted_with_it(store):
    eid = store.create_experiment("exp")
    kept = store.create_run(eid).info.run_id
    deleted_before = store.create_run(eid).info.run_id
    store.delete_run(deleted_before)
    store.delete_experiment(eid)
    assert store.get_experiment(eid).lifecycle_stage is LifecycleStage.DELETED
    assert store.get_run(kept).info.lifecycle_stage is LifecycleStage.DELETED
    with pytest.raises(ResourceDoesNotExist):
        store.delete_experiment(eid)
    store.restore_experiment(eid)
    assert store.get_run(kept).info.lifecycle_stage is LifecycleStage.ACTIVE
    # A run deleted on its own before the experiment stays deleted.
    assert store.get_run(deleted_before).info.lifecycle_stage is LifecycleStage.DELETED
    with pytest.raises(ResourceDoesNotExist):
        store.restore_experiment(eid)


def test_runs_cannot_be_created_in_deleted_experiment(store):
    eid = store.create_experiment("exp")
    store.delete_experiment(eid)
    with pytest.raises(InvalidParameterValue):
        store.create_run(eid)


def test_experiment_tags(store):
    eid = store.create_experiment("exp")
    store.set_experiment_tag(eid, "k", "v1")
    store.set_experiment_tag(eid, "k", "v2")
    assert store.get_experiment(eid).tags == {"k": "v2"}
    store.delete_experiment_tag(eid, "k")
    assert store.get_experiment(eid).tags == {}
    with pytest.raises(ResourceDoesNotExist):
        store.delete_experiment_tag(eid, "k")
    with pytest.raises(InvalidParameterValue):
        store.set_experiment_tag(eid, "k", "x" * 20001)


def test_search_experiments_view_types_and_paging(store):
    ids = [store.create_experiment(f"exp-{i}") for i in range(5)]
    store.delete_experiment(ids[0])
    active = store.search_experiments(ViewType.ACTIVE_ONLY)
    assert {e.name for e in active} == {"Default", "exp-1", "exp-2", "exp-3", "exp-4"}
    deleted = store.search_experiments(ViewType.DELETED_ONLY)
    assert [e.name for e in deleted] == ["exp-0"]
    assert len(store.search_experiments(ViewType.ALL)) == 6
    first = store.search_experiments(ViewType.ALL, max_results=4)
    assert len(first) == 4 and first.token
    second = store.search_experiments(ViewType.ALL, max_results=4, page_token=first.token)
    assert len(second) == 2 and second.token is None
    assert {e.experiment_id for e in first} | {e.experiment_id for e in second} == {*ids, "0"}


def test_search_experiments_filter(store):
    store.create_experiment("alpha", tags={"team": "a"})
    store.create_experiment("beta", tags={"team": "b"})
    found = store.search_experiments(filter_string="tags.team = 'b'")
    assert [e.name for e in found] == ["beta"]
    found = store.search_experiments(filter_string="name LIKE 'al%'")
    assert [e.name for e in found] == ["alpha"]


def test_run_tag_mlflow_run_name_is_kept_in_sync(store):
    eid = store.create_experiment("exp")
    run = store.create_run(eid, tags=[RunTag("mlflow.runName", "from-tag")])
    assert run.info.run_name == "from-tag"
