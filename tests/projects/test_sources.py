"""Where a project's code comes from: local directories, git repositories at a version, and
subdirectories."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.exceptions import InvalidParameterValue
from cairn.projects.sources import fetch_project, is_git_uri, split_subdirectory
from tests.projects.support import git, make_repo


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("proj", ("proj", "")),
        ("proj#sub/dir", ("proj", "sub/dir")),
        ("https://host/repo.git#./a/b/", ("https://host/repo.git", "a/b")),
    ],
)
def test_split_subdirectory(uri: str, expected: tuple[str, str]) -> None:
    assert split_subdirectory(uri) == expected


@pytest.mark.parametrize("uri", ["proj#../up", "proj#a/../../b", "proj#/abs", "p#a#b"])
def test_subdirectories_may_not_leave_the_project(uri: str) -> None:
    with pytest.raises(InvalidParameterValue):
        split_subdirectory(uri)


@pytest.mark.parametrize(
    "uri, remote",
    [
        ("https://github.com/org/repo", True),
        ("git@github.com:org/repo.git", True),
        ("git+https://github.com/org/repo", True),
        ("ssh://git@host/repo", True),
        ("file:///tmp/repo", False),
        ("/tmp/repo", False),
        ("relative/dir", False),
    ],
)
def test_which_uris_are_cloned(uri: str, remote: bool) -> None:
    assert is_git_uri(uri) is remote


def test_a_local_directory_runs_in_place(tmp_path: Path) -> None:
    fetched = fetch_project(str(tmp_path))
    assert fetched.directory == tmp_path.resolve()
    assert fetched.source_name == str(tmp_path.resolve())
    assert fetched.git is None and fetched.clone is None


def test_a_local_work_tree_records_its_commit_and_branch(tmp_path: Path) -> None:
    repo, _, second = make_repo(tmp_path)
    fetched = fetch_project(f"{repo}#sub")
    assert fetched.directory == repo / "sub"
    assert fetched.source_name == f"{repo}#sub"
    assert fetched.git is not None
    assert (fetched.git.commit, fetched.git.branch) == (second, "main")


def test_version_clones_and_checks_out_a_commit(tmp_path: Path) -> None:
    repo, first, _ = make_repo(tmp_path)
    fetched = fetch_project(f"file://{repo}#sub", version=first)
    try:
        assert fetched.clone is not None and fetched.directory == fetched.clone / "sub"
        assert "first" in (fetched.directory / "step.py").read_text()
        assert fetched.git is not None and fetched.git.commit == first
        assert fetched.git.branch is None  # a commit, not a branch
        assert fetched.git.repo_url == str(repo)
    finally:
        fetched.cleanup()
    assert not fetched.clone.exists()


def test_version_may_name_a_branch(tmp_path: Path) -> None:
    repo, first, _ = make_repo(tmp_path)
    git(repo, "branch", "old", first)
    fetched = fetch_project(str(repo), version="old")
    try:
        assert fetched.git is not None and fetched.git.branch == "old"
        assert fetched.git.commit == first
    finally:
        fetched.cleanup()


def test_an_unknown_version_is_bad_input(tmp_path: Path) -> None:
    repo, _, _ = make_repo(tmp_path)
    with pytest.raises(InvalidParameterValue, match="'nope' is not a commit, branch or tag"):
        fetch_project(str(repo), version="nope")


def test_version_needs_a_git_repository(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValue, match="needs a git repository"):
        fetch_project(str(tmp_path), version="main")


def test_missing_directories_and_subdirectories(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValue, match="no such directory"):
        fetch_project(str(tmp_path / "missing"))
    with pytest.raises(InvalidParameterValue, match="no directory 'missing'"):
        fetch_project(f"{tmp_path}#missing")
