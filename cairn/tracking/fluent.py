"""The fluent API's run and experiment lifecycle: `start_run`, `end_run`, `set_experiment`, …

Module state, as in MLflow: the experiment chosen with `set_experiment` (forgotten when the
tracking URI changes), and per thread the stack of active runs (`run_context`). Each active
run remembers the client that created it, so it is ended in the database it lives in even if
the tracking URI changes meanwhile. Logging functions are in `fluent_logging`, searches in
`fluent_search`.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Mapping
from typing import Any

from cairn import settings
from cairn.entities import Experiment, LifecycleStage, Run, RunStatus, RunTag
from cairn.exceptions import CairnException, InvalidParameterValue, ResourceAlreadyExists
from cairn.tracking import run_context
from cairn.tracking.client import PARENT_RUN_ID_TAG, CairnClient
from cairn.tracking.run_context import ActiveRun
from cairn.tracking.system_tags import resolve_system_tags
from cairn.tracking.tracking_uri import get_tracking_uri, on_tracking_uri_change

NOTE_TAG = "mlflow.note.content"
DEFAULT_EXPERIMENT_ID = "0"

_active_experiment_id: str | None = None
_clients: dict[tuple[str, str | None, str], CairnClient] = {}
_run_clients: dict[str, CairnClient] = {}
_atexit_registered = False


def _forget_experiment() -> None:
    global _active_experiment_id
    _active_experiment_id = None


on_tracking_uri_change(_forget_experiment)


def client() -> CairnClient:
    """The client for the current tracking URI (one per URI, reused)."""
    key = (get_tracking_uri(), settings.ARTIFACT_ROOT.get(), os.getcwd())
    found = _clients.get(key)
    if found is None:
        found = _clients[key] = CairnClient(key[0])
    return found


def client_for_run(run_id: str) -> CairnClient:
    """The client that started `run_id` if it is active here, else the current one."""
    return _run_clients.get(run_id) or client()


# -- experiments -----------------------------------------------------------------------------


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | int | None = None
) -> Experiment:
    """Make an experiment the one new runs go to; by name it is created if missing."""
    global _active_experiment_id
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidParameterValue("Give exactly one of experiment_name or experiment_id.")
    c = client()
    if experiment_id is not None:
        experiment = c.get_experiment(experiment_id)
    else:
        assert experiment_name is not None
        found = c.get_experiment_by_name(experiment_name)
        if found is None:
            try:
                found = c.get_experiment(c.create_experiment(experiment_name))
            except ResourceAlreadyExists:  # another process created it just now
                found = c.get_experiment_by_name(experiment_name)
        assert found is not None
        experiment = found
    if experiment.lifecycle_stage is LifecycleStage.DELETED:
        raise InvalidParameterValue(
            f"Cannot use deleted experiment '{experiment.name}' (id {experiment.experiment_id}) "
            "as the active experiment: restore it, or pick another name."
        )
    _active_experiment_id = experiment.experiment_id
    return experiment


def get_experiment_id() -> str:
    """The experiment new runs go to: `set_experiment`, else CAIRN_EXPERIMENT_ID, else
    CAIRN_EXPERIMENT_NAME (created if missing), else the Default experiment "0"."""
    if _active_experiment_id is not None:
        return _active_experiment_id
    env_id = settings.EXPERIMENT_ID.get()
    if env_id:
        return client().get_experiment(env_id).experiment_id
    env_name = settings.EXPERIMENT_NAME.get()
    if env_name:
        found = client().get_experiment_by_name(env_name)
        return found.experiment_id if found else client().create_experiment(env_name)
    return DEFAULT_EXPERIMENT_ID


def create_experiment(
    name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
) -> str:
    return client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str | int) -> Experiment:
    return client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return client().get_experiment_by_name(name)


def delete_experiment(experiment_id: str | int) -> None:
    client().delete_experiment(experiment_id)


def set_experiment_tag(key: str, value: Any) -> None:
    """Tag the experiment new runs go to."""
    client().set_experiment_tag(get_experiment_id(), key, value)


def set_experiment_tags(tags: Mapping[str, Any]) -> None:
    for key, value in tags.items():
        set_experiment_tag(key, value)


# -- runs ------------------------------------------------------------------------------------


def start_run(
    run_id: str | None = None,
    experiment_id: str | int | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a run (or resume `run_id` / CAIRN_RUN_ID) and make it the active run.

    Use it as a context manager to end the run when the block ends. Starting a run while
    one is active needs `nested=True` (the new run records `mlflow.parentRunId`).
    `description` is stored as the `mlflow.note.content` tag. `log_system_metrics` is
    accepted for MLflow compatibility and ignored.
    """
    runs = run_context.stack()
    if runs and not nested:
        raise CairnException(
            f"Run with UUID {runs[-1].info.run_id} is already active. To start a new run, "
            "first end the current run with end_run(). To start a nested run, call "
            "start_run with nested=True."
        )
    c = client()
    parent_id = _resolve_parent(c, runs, nested, parent_run_id)
    user_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    if description is not None:
        if NOTE_TAG in user_tags:
            raise InvalidParameterValue(
                f"Both description and the tag {NOTE_TAG} were given; give only one."
            )
        user_tags[NOTE_TAG] = description
    existing_id = run_id or _take_env_run_id()
    if existing_id:
        run = _resume(c, existing_id, experiment_id, run_name, user_tags)
    else:
        if parent_id is not None:
            user_tags[PARENT_RUN_ID_TAG] = parent_id
        exp_id = get_experiment_id() if experiment_id is None else str(experiment_id)
        run = c.create_run(exp_id, tags={**resolve_system_tags(), **user_tags}, run_name=run_name)
    active = ActiveRun(run, _end_from_context)
    runs.append(active)
    _run_clients[run.info.run_id] = c
    _register_atexit()
    return active


def _resolve_parent(
    c: CairnClient, runs: list[ActiveRun], nested: bool, parent_run_id: str | None
) -> str | None:
    if parent_run_id is None:
        return runs[-1].info.run_id if nested and runs else None
    if runs and runs[-1].info.run_id != parent_run_id:
        raise CairnException(
            f"The active run {runs[-1].info.run_id} is not the given parent_run_id "
            f"{parent_run_id}; end the active run first."
        )
    if c.get_run(parent_run_id).info.lifecycle_stage is LifecycleStage.DELETED:
        raise InvalidParameterValue(f"Parent run {parent_run_id} is deleted.")
    return parent_run_id


def _take_env_run_id() -> str | None:
    """CAIRN_RUN_ID / MLFLOW_RUN_ID, used once: nested and later runs must not resume it."""
    run_id = settings.RUN_ID.get()
    if run_id:
        for name in (settings.RUN_ID.env, settings.RUN_ID.mlflow_env):
            if name:
                os.environ.pop(name, None)
    return run_id


def _resume(
    c: CairnClient,
    run_id: str,
    experiment_id: str | int | None,
    run_name: str | None,
    tags: dict[str, str],
) -> Run:
    run = c.get_run(run_id)
    if run.info.lifecycle_stage is LifecycleStage.DELETED:
        raise InvalidParameterValue(f"Cannot resume run {run_id}: it is deleted.")
    if experiment_id is not None and str(experiment_id) != run.info.experiment_id:
        raise InvalidParameterValue(
            f"Run {run_id} belongs to experiment {run.info.experiment_id}, "
            f"not to the requested experiment {experiment_id}."
        )
    c.update_run(run_id, status=RunStatus.RUNNING, name=run_name)
    if tags:
        c.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    return c.get_run(run_id)


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> None:
    """End the active run (FINISHED unless told otherwise); nothing happens without one.

    Values still queued for the run are sent first. If any of them failed, the run is ended
    all the same (with `status`: the program did finish) and the failure is raised after.
    """
    runs = run_context.stack()
    if not runs:
        return
    run = runs.pop()
    run_id = run.info.run_id
    run_context.set_last_run_id(run_id)
    c = client_for_run(run_id)
    try:
        c.flush(run_id)
    finally:
        try:
            c.set_terminated(run_id, status)
        finally:
            _run_clients.pop(run_id, None)


def _end_from_context(active: ActiveRun, status: RunStatus) -> None:
    """End `active`, and any run nested in it that is still open, with `status`.

    Every run is ended even if ending one fails; the first failure is raised at the end.
    """
    runs = run_context.stack()
    if all(r.info.run_id != active.info.run_id for r in runs):
        return  # already ended inside the block
    failure: Exception | None = None
    while runs:
        top_id = runs[-1].info.run_id
        try:
            end_run(status)
        except Exception as exc:
            failure = failure or exc
        if top_id == active.info.run_id:
            break
    if failure is not None:
        raise failure


def active_run() -> ActiveRun | None:
    """The run that fluent logging calls write to in this thread, or None."""
    return run_context.current()


def last_active_run() -> Run | None:
    """The active run, else the most recently ended one (fresh from the store), else None."""
    current = run_context.current()
    run_id = current.info.run_id if current else run_context.last_run_id()
    return None if run_id is None else client_for_run(run_id).get_run(run_id)


def get_or_start_run() -> ActiveRun:
    """The active run; logging without one starts one, as in MLflow."""
    return run_context.current() or start_run()


def get_run(run_id: str) -> Run:
    return client_for_run(run_id).get_run(run_id)


def get_parent_run(run_id: str) -> Run | None:
    return client_for_run(run_id).get_parent_run(run_id)


def delete_run(run_id: str) -> None:
    client_for_run(run_id).delete_run(run_id)


def restore_run(run_id: str) -> None:
    client_for_run(run_id).restore_run(run_id)


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(_end_runs_at_exit)
        _atexit_registered = True


def _end_runs_at_exit() -> None:
    """End runs a script left open: FAILED (KILLED on Ctrl-C) if it died of an exception."""
    status = RunStatus.FINISHED
    crashed = getattr(sys, "last_value", None)
    if crashed is not None and not hasattr(sys, "ps1"):  # ps1: interactive, errors are old
        status = RunStatus.KILLED if isinstance(crashed, KeyboardInterrupt) else RunStatus.FAILED
    while run_context.stack():
        try:
            end_run(status)
        except Exception as exc:  # nobody to raise to: say it rather than lose it
            print(f"cairn: ending a run at exit failed: {exc}", file=sys.stderr)
