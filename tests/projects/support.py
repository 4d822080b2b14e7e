"""Helpers shared by the project tests (and the CLI's): the sample project and git repos."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent / "sample_project"
RUNNING_PYTHON = "{}.{}".format(*sys.version_info[:2])


def copy_sample(target: Path) -> Path:
    """A copy of the sample project whose python_env asks for the running Python's version
    (the file says 3.11; the copy follows whatever Python runs the tests)."""
    shutil.copytree(SAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    env_file = target / "python_env.yaml"
    env_file.write_text(
        env_file.read_text().replace('python: "3.11"', f'python: "{RUNNING_PYTHON}"')
    )
    return target


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def make_repo(root: Path) -> tuple[Path, str, str]:
    """A repository whose project lives in sub/, with two commits of its script, which tags
    the run with the commit it came from: (path, first commit, second commit)."""
    repo = root / "repo"
    (repo / "sub").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "sub" / "MLproject").write_text(
        "name: versions\nentry_points:\n  main:\n    command: python step.py\n"
    )
    (repo / "sub" / "step.py").write_text(_step("first"))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    first = git(repo, "rev-parse", "HEAD")
    (repo / "sub" / "step.py").write_text(_step("second"))
    git(repo, "commit", "-q", "-am", "second")
    return repo, first, git(repo, "rev-parse", "HEAD")


def _step(label: str) -> str:
    return f"import cairn\n\nwith cairn.start_run():\n    cairn.set_tag('step', {label!r})\n"
