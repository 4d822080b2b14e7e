"""Cairn is importable in a built environment, behind the project's own pinned packages.

`idna` is installed beside the running Cairn at another version than the one the project
pins: the script must see the pinned one (the environment's packages come first) and still
import cairn (the bridge). With another Python minor version there is no bridge, and Cairn
says what to do instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import cairn
from cairn.entities import RunStatus
from cairn.projects.interpreters import find_interpreter
from cairn.tracking.client import CairnClient

PINNED_IDNA = "3.4"


def _project(root: Path, python: str, dependencies: list[str], script: str) -> Path:
    root.mkdir()
    (root / "MLproject").write_text(
        "python_env: python_env.yaml\nentry_points:\n  main:\n    command: python step.py\n"
    )
    (root / "python_env.yaml").write_text(f'python: "{python}"\ndependencies: {dependencies}\n')
    (root / "step.py").write_text(script)
    return root


@pytest.mark.slow
def test_the_projects_pins_win_and_cairn_is_still_importable(
    client: CairnClient, tmp_path: Path
) -> None:
    import idna

    assert idna.__version__ != PINNED_IDNA, "pick a pin that differs from the running one"
    script = (
        "import idna, cairn\n\nwith cairn.start_run():\n"
        "    cairn.set_tag('idna', idna.__version__)\n"
        "    cairn.set_tag('cairn_from', cairn.__file__)\n"
    )
    python = "{}.{}".format(*sys.version_info[:2])
    project = _project(tmp_path / "p", python, [f"idna=={PINNED_IDNA}"], script)

    submitted = cairn.projects.run(str(project))

    tags = client.get_run(submitted.run_id).data.tags
    assert tags["idna"] == PINNED_IDNA
    assert tags["cairn_from"] == cairn.__file__  # the running Cairn, not a copy


@pytest.mark.slow
def test_another_minor_version_gets_no_bridge_and_a_notice(
    client: CairnClient, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    other = next(
        (v for v in ("3.12", "3.13", "3.11", "3.10") if v != "{}.{}".format(*sys.version_info[:2])),
        None,
    )
    try:
        interpreter = find_interpreter(other or "0.0")
    except Exception:
        pytest.skip(f"no Python {other} on this machine")
    out = tmp_path / "out.txt"
    script = (
        "import pathlib, sys\n\ntry:\n    import cairn\n    found = 'importable'\n"
        "except ImportError:\n    found = 'missing'\n"
        f"pathlib.Path({str(out)!r}).write_text(found + ' ' + sys.version.split()[0])\n"
    )
    project = _project(tmp_path / "p", other or "", [], script)

    submitted = cairn.projects.run(str(project), synchronous=False)

    assert submitted.wait()
    assert client.get_run(submitted.run_id).info.status is RunStatus.FINISHED
    err = capfd.readouterr().err
    assert f"the environment's Python is {interpreter.version_text}" in err
    assert "list cairn-ml in the environment's dependencies" in err
    assert out.read_text() == f"missing {interpreter.version_text}"
