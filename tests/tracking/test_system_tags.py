"""System tags: who ran what, from which source file and git commit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cairn.tracking import system_tags
from cairn.tracking.system_tags import git_info, resolve_system_tags, strip_credentials

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    (repo / "src" / "train.py").write_text("print('hi')\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    return repo


def test_local_script_tags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "train.py"
    script.write_text("")
    monkeypatch.setenv("CAIRN_USER", "ada")

    tags = resolve_system_tags(str(script))

    assert tags == {
        "mlflow.user": "ada",
        "mlflow.source.name": str(script),
        "mlflow.source.type": "LOCAL",
    }


def test_argv0_is_the_default_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "main.py"
    script.write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["main.py", "--epochs", "3"])
    assert resolve_system_tags()["mlflow.source.name"] == str(script)
    monkeypatch.setattr("sys.argv", [""])
    assert resolve_system_tags()["mlflow.source.name"] == "<console>"


def test_user_falls_back_to_the_login_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "login")
    assert system_tags.current_user() == "login"

    def fail() -> str:
        raise OSError("no passwd entry")

    monkeypatch.setattr("getpass.getuser", fail)
    assert system_tags.current_user() == "unknown"


def test_project_entry_point_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_PROJECT_ENTRY_POINT", "train")
    tags = resolve_system_tags("<console>")
    assert tags["mlflow.source.type"] == "PROJECT"
    assert tags["mlflow.project.entryPoint"] == "train"


@needs_git
def test_git_commit_branch_and_origin_of_the_script(repo: Path) -> None:
    _git(repo, "remote", "add", "origin", "https://user:s3cret@git.example.com/team/repo.git")
    head = _git(repo, "rev-parse", "HEAD")

    tags = resolve_system_tags(str(repo / "src" / "train.py"))

    assert tags["mlflow.source.git.commit"] == head
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags["mlflow.source.git.repoURL"] == "https://git.example.com/team/repo.git"


@needs_git
def test_packed_refs_and_detached_head(repo: Path) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    _git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert git_info(repo / "src") == system_tags.GitInfo(head, "main", None)

    _git(repo, "checkout", "-q", "--detach")
    assert git_info(repo) == system_tags.GitInfo(head, None, None)


@needs_git
def test_linked_worktree(repo: Path, tmp_path: Path) -> None:
    _git(repo, "worktree", "add", "-q", "-b", "feature", str(tmp_path / "wt"))
    (tmp_path / "wt" / "x.txt").write_text("x")
    _git(tmp_path / "wt", "add", "x.txt")
    _git(tmp_path / "wt", "commit", "-q", "-m", "second")
    head = _git(tmp_path / "wt", "rev-parse", "HEAD")

    info = git_info(tmp_path / "wt" / "src")

    assert info is not None
    assert (info.commit, info.branch) == (head, "feature")


@needs_git
def test_unreadable_refs_fall_back_to_git_rev_parse(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    monkeypatch.setattr(system_tags, "_resolve_ref", lambda *a: None)
    info = git_info(repo)
    assert info is not None and info.commit == head


def test_no_git_tags_outside_a_repository(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("")
    assert git_info(tmp_path) is None
    assert not any(k.startswith("mlflow.source.git") for k in resolve_system_tags(str(script)))


def test_an_unborn_branch_gives_no_commit(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert git_info(tmp_path) is None


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://tok@github.com/a/b.git", "https://github.com/a/b.git"),
        ("http://u:p@host:8080/r", "http://host:8080/r"),
        ("git@github.com:a/b.git", "git@github.com:a/b.git"),
        ("https://github.com/a/b", "https://github.com/a/b"),
    ],
)
def test_credentials_never_reach_the_tags(url: str, clean: str) -> None:
    assert strip_credentials(url) == clean
