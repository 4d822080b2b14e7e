"""The fluent run lifecycle: start_run / end_run, nesting, resuming, experiments."""

from __future__ import annotations

import pytest

import cairn
from cairn.entities import LifecycleStage, RunStatus
from cairn.exceptions import CairnException, InvalidParameterValue, ResourceDoesNotExist
from cairn.tracking.client import CairnClient

pytestmark = pytest.mark.usefixtures("tracking_uri")


def _status(run_id: str) -> RunStatus:
    return cairn.get_run(run_id).info.status


def test_start_run_makes_an_active_running_run_and_end_run_finishes_it() -> None:
    run = cairn.start_run()
    assert cairn.active_run() is run
    assert run.info.status is RunStatus.RUNNING
    assert run.info.experiment_id == "0"

    cairn.end_run()

    assert cairn.active_run() is None
    info = cairn.get_run(run.info.run_id).info
    assert info.status is RunStatus.FINISHED
    assert info.end_time is not None


def test_end_run_without_an_active_run_does_nothing() -> None:
    cairn.end_run()


def test_end_run_with_a_status() -> None:
    run = cairn.start_run()
    cairn.end_run("KILLED")
    assert _status(run.info.run_id) is RunStatus.KILLED


def test_context_manager_finishes_on_success() -> None:
    with cairn.start_run() as run:
        assert cairn.active_run() is run
    assert _status(run.info.run_id) is RunStatus.FINISHED
    assert cairn.active_run() is None


def test_context_manager_fails_on_exception_and_reraises() -> None:
    with pytest.raises(ZeroDivisionError), cairn.start_run() as run:
        1 / 0  # noqa: B018
    assert _status(run.info.run_id) is RunStatus.FAILED
    assert cairn.active_run() is None


def test_context_manager_is_killed_on_keyboard_interrupt() -> None:
    with pytest.raises(KeyboardInterrupt), cairn.start_run() as run:
        raise KeyboardInterrupt
    assert _status(run.info.run_id) is RunStatus.KILLED


def test_a_run_ended_inside_its_block_is_not_ended_again() -> None:
    with cairn.start_run() as run:
        cairn.end_run("KILLED")
    assert _status(run.info.run_id) is RunStatus.KILLED


def test_starting_a_second_run_while_one_is_active_needs_nested() -> None:
    with cairn.start_run() as run:
        with pytest.raises(CairnException, match=f"Run with UUID {run.info.run_id} is already"):
            cairn.start_run()
        assert cairn.active_run() is run


def test_nested_runs_record_their_parent_and_end_innermost_first() -> None:
    with cairn.start_run() as parent:
        with cairn.start_run(nested=True) as child:
            assert cairn.active_run() is child
            with cairn.start_run(nested=True) as grandchild:
                pass
        assert cairn.active_run() is parent
    tags = cairn.get_run(child.info.run_id).data.tags
    assert tags["mlflow.parentRunId"] == parent.info.run_id
    grand_tags = cairn.get_run(grandchild.info.run_id).data.tags
    assert grand_tags["mlflow.parentRunId"] == child.info.run_id
    assert "mlflow.parentRunId" not in cairn.get_run(parent.info.run_id).data.tags
    assert cairn.get_parent_run(child.info.run_id).info.run_id == parent.info.run_id  # type: ignore[union-attr]


def test_leaving_a_parent_block_ends_children_left_open() -> None:
    with pytest.raises(RuntimeError), cairn.start_run() as parent:
        child = cairn.start_run(nested=True)
        raise RuntimeError("boom")
    assert _status(child.info.run_id) is RunStatus.FAILED
    assert _status(parent.info.run_id) is RunStatus.FAILED
    assert cairn.active_run() is None


def test_nested_without_an_active_run_is_a_top_level_run() -> None:
    with cairn.start_run(nested=True) as run:
        pass
    assert "mlflow.parentRunId" not in cairn.get_run(run.info.run_id).data.tags


def test_parent_run_id_nests_under_a_run_that_is_not_active() -> None:
    parent = CairnClient().create_run("0")
    with cairn.start_run(parent_run_id=parent.info.run_id) as child:
        pass
    tags = cairn.get_run(child.info.run_id).data.tags
    assert tags["mlflow.parentRunId"] == parent.info.run_id


def test_parent_run_id_must_match_the_active_run() -> None:
    other = CairnClient().create_run("0")
    with cairn.start_run(), pytest.raises(CairnException, match="parent_run_id"):
        cairn.start_run(nested=True, parent_run_id=other.info.run_id)


def test_run_name_tags_and_description() -> None:
    with cairn.start_run(run_name="baseline", tags={"team": "ml", "n": 2}, description="notes"):
        pass
    run = cairn.last_active_run()
    assert run is not None
    assert run.info.run_name == "baseline"
    assert run.data.tags["team"] == "ml"
    assert run.data.tags["n"] == "2"
    assert run.data.tags["mlflow.note.content"] == "notes"
    assert run.data.tags["mlflow.runName"] == "baseline"


def test_runs_without_a_name_get_a_generated_one() -> None:
    with cairn.start_run() as a, cairn.start_run(nested=True) as b:
        pass
    assert a.info.run_name and b.info.run_name
    assert a.info.run_name != b.info.run_name


def test_run_name_from_the_run_name_tag() -> None:
    with cairn.start_run(tags={"mlflow.runName": "from-tag"}) as run:
        pass
    assert run.info.run_name == "from-tag"


def test_description_and_note_tag_together_are_refused() -> None:
    with pytest.raises(InvalidParameterValue, match="description"):
        cairn.start_run(description="a", tags={"mlflow.note.content": "b"})


def test_system_tags_are_recorded_and_user_tags_win() -> None:
    with cairn.start_run(tags={"mlflow.source.type": "JOB"}) as run:
        pass
    tags = cairn.get_run(run.info.run_id).data.tags
    assert tags["mlflow.user"]
    assert "mlflow.source.name" in tags
    assert tags["mlflow.source.type"] == "JOB"
    assert run.info.user_id == tags["mlflow.user"]


def test_resume_a_run_by_id() -> None:
    with cairn.start_run() as first:
        cairn.log_param("p", 1)
    with cairn.start_run(run_id=first.info.run_id, tags={"resumed": "yes"}) as again:
        assert again.info.run_id == first.info.run_id
        assert again.info.status is RunStatus.RUNNING
        assert again.data.params == {"p": "1"}
        cairn.log_metric("m", 1.0)
    run = cairn.get_run(first.info.run_id)
    assert run.info.status is RunStatus.FINISHED
    assert run.data.tags["resumed"] == "yes"
    assert run.data.metrics == {"m": 1.0}


def test_resume_refuses_a_deleted_run_and_a_wrong_experiment() -> None:
    run = CairnClient().create_run("0")
    other = cairn.create_experiment("other")
    with pytest.raises(InvalidParameterValue, match="experiment"):
        cairn.start_run(run_id=run.info.run_id, experiment_id=other)
    cairn.delete_run(run.info.run_id)
    with pytest.raises(InvalidParameterValue, match="deleted"):
        cairn.start_run(run_id=run.info.run_id)


@pytest.mark.parametrize("env", ["CAIRN_RUN_ID", "MLFLOW_RUN_ID"])
def test_run_id_from_the_environment_is_resumed_once(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = CairnClient().create_run("0").info.run_id
    monkeypatch.setenv(env, existing)
    with cairn.start_run() as run, cairn.start_run(nested=True) as child:
        pass
    assert run.info.run_id == existing
    assert child.info.run_id != existing
    with cairn.start_run() as later:
        pass
    assert later.info.run_id != existing


def test_logging_without_a_run_starts_one() -> None:
    cairn.log_metric("m", 1.0)
    run = cairn.active_run()
    assert run is not None
    assert cairn.get_run(run.info.run_id).data.metrics == {"m": 1.0}


def test_last_active_run_is_fresh_from_the_store() -> None:
    assert cairn.last_active_run() is None
    with cairn.start_run():
        cairn.log_param("a", 1)
        live = cairn.last_active_run()
        assert live is not None and live.data.params == {"a": "1"}
    ended = cairn.last_active_run()
    assert ended is not None
    assert ended.info.status is RunStatus.FINISHED


def test_runs_are_per_thread() -> None:
    import threading

    seen: list[object] = []
    with cairn.start_run():
        thread = threading.Thread(target=lambda: seen.append(cairn.active_run()))
        thread.start()
        thread.join()
    assert seen == [None]


# -- experiments -----------------------------------------------------------------------------


def test_set_experiment_by_name_creates_it_and_new_runs_go_there() -> None:
    exp = cairn.set_experiment("my-exp")
    assert exp.name == "my-exp"
    assert cairn.set_experiment("my-exp").experiment_id == exp.experiment_id
    with cairn.start_run() as run:
        pass
    assert run.info.experiment_id == exp.experiment_id


def test_set_experiment_by_id() -> None:
    exp_id = cairn.create_experiment("by-id")
    assert cairn.set_experiment(experiment_id=exp_id).name == "by-id"
    with pytest.raises(ResourceDoesNotExist):
        cairn.set_experiment(experiment_id="9999")


def test_set_experiment_needs_exactly_one_argument() -> None:
    with pytest.raises(InvalidParameterValue):
        cairn.set_experiment()
    with pytest.raises(InvalidParameterValue):
        cairn.set_experiment("a", "1")


def test_set_experiment_refuses_a_deleted_experiment() -> None:
    exp_id = cairn.create_experiment("gone")
    cairn.delete_experiment(exp_id)
    with pytest.raises(InvalidParameterValue, match="restore"):
        cairn.set_experiment("gone")


def test_start_run_with_an_explicit_experiment() -> None:
    exp_id = cairn.create_experiment("explicit")
    with cairn.start_run(experiment_id=exp_id) as run:
        pass
    assert run.info.experiment_id == exp_id


def test_experiment_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_EXPERIMENT_NAME", "from-env")
    with cairn.start_run() as run:
        pass
    exp = cairn.get_experiment_by_name("from-env")
    assert exp is not None and run.info.experiment_id == exp.experiment_id

    other = cairn.create_experiment("by-env-id")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", other)
    with cairn.start_run() as run:
        pass
    assert run.info.experiment_id == other


def test_experiment_tags_and_lifecycle_functions() -> None:
    cairn.set_experiment("tagged")
    cairn.set_experiment_tag("a", 1)
    cairn.set_experiment_tags({"b": "2"})
    exp = cairn.get_experiment_by_name("tagged")
    assert exp is not None and exp.tags == {"a": "1", "b": "2"}
    assert cairn.get_experiment(exp.experiment_id).name == "tagged"
    cairn.delete_experiment(exp.experiment_id)
    assert cairn.get_experiment(exp.experiment_id).lifecycle_stage is LifecycleStage.DELETED


def test_delete_and_restore_run() -> None:
    with cairn.start_run() as run:
        pass
    cairn.delete_run(run.info.run_id)
    assert cairn.get_run(run.info.run_id).info.lifecycle_stage is LifecycleStage.DELETED
    cairn.restore_run(run.info.run_id)
    assert cairn.get_run(run.info.run_id).info.lifecycle_stage is LifecycleStage.ACTIVE


def test_an_active_run_is_ended_in_its_own_database_after_a_uri_change(tmp_path: object) -> None:
    run = cairn.start_run()
    first_db = CairnClient()
    cairn.set_tracking_uri(f"sqlite:///{tmp_path}/elsewhere.db")
    cairn.end_run()
    assert first_db.get_run(run.info.run_id).info.status is RunStatus.FINISHED
