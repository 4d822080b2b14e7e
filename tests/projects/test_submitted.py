"""A submitted run: the watcher records the final status; cancel escalates to SIGKILL."""

from __future__ import annotations

import subprocess
import time

import pytest

from cairn.entities import RunStatus
from cairn.projects.submitted import LocalSubmittedRun
from cairn.tracking.client import CairnClient


def _submit(client: CairnClient, script: str, ended: list[str]) -> LocalSubmittedRun:
    run_id = client.create_run("0").info.run_id
    process = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    return LocalSubmittedRun(run_id, process, client, on_end=lambda: ended.append(run_id))


@pytest.mark.parametrize("script, status", [("exit 0", "FINISHED"), ("exit 5", "FAILED")])
def test_the_status_is_recorded_without_anyone_waiting(
    client: CairnClient, script: str, status: str
) -> None:
    ended: list[str] = []
    submitted = _submit(client, script, ended)
    deadline = time.monotonic() + 30
    while submitted.get_status() == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert submitted.get_status() == status
    assert client.get_run(submitted.run_id).info.status is RunStatus[status]
    assert ended == [submitted.run_id]
    assert submitted.wait() is (status == "FINISHED")


def test_a_command_that_ignores_sigterm_is_killed_after_the_grace_period(
    client: CairnClient,
) -> None:
    ended: list[str] = []
    submitted = _submit(client, "trap '' TERM; echo ready; sleep 60 & wait", ended)
    time.sleep(0.3)  # let the shell install its trap
    started = time.monotonic()
    submitted.cancel(grace_period=0.5)
    assert time.monotonic() - started < 10
    assert submitted.get_status() == "KILLED"
    assert submitted.returncode is not None and submitted.returncode < 0
    assert client.get_run(submitted.run_id).info.status is RunStatus.KILLED
    assert ended == [submitted.run_id]


def test_cancelling_a_finished_run_changes_nothing(client: CairnClient) -> None:
    submitted = _submit(client, "exit 0", [])
    assert submitted.wait()
    submitted.cancel()
    assert submitted.get_status() == "FINISHED"
    assert client.get_run(submitted.run_id).info.status is RunStatus.FINISHED
