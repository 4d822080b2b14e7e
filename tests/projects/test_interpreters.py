"""Finding an interpreter for the Python version an environment asks for."""

from __future__ import annotations

import sys

import pytest

from cairn.exceptions import ExecutionException
from cairn.projects.interpreters import find_interpreter, probe, running_interpreter

RUNNING = "{}.{}".format(*sys.version_info[:2])


def test_the_running_interpreter_serves_its_own_version() -> None:
    found = find_interpreter(RUNNING)
    assert found == running_interpreter()
    assert found.version[:2] == sys.version_info[:2]


def test_an_exact_release_is_preferred_and_another_patch_release_accepted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    exact = "{}.{}.{}".format(*sys.version_info[:3])
    assert find_interpreter(exact) == running_interpreter()
    other = "{}.{}.999".format(*sys.version_info[:2])
    assert find_interpreter(other).version[:2] == sys.version_info[:2]
    assert f"Python {other} is not installed here" in capsys.readouterr().err


def test_a_version_not_on_this_machine_is_a_clear_error() -> None:
    with pytest.raises(ExecutionException, match=r"needs Python 2\.5, and no such interpreter"):
        find_interpreter("2.5")


def test_probe_answers_none_for_something_that_is_not_python(tmp_path) -> None:
    assert probe(str(tmp_path / "missing")) is None
    assert probe("/bin/false") is None
    assert probe(sys.executable) is not None
