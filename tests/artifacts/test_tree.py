"""Walks and size totals built on the protocol alone (used for progress-bar totals)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.artifacts import LocalArtifactRepository, artifact_size, local_size, walk_artifacts
from cairn.artifacts.tree import iter_local_files, stat_artifact
from cairn.entities import FileInfo
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist

from .conftest import write


def test_local_size_totals_a_file_or_a_tree(source: Path) -> None:
    assert local_size(source / "model.pkl") == 8
    assert local_size(source) == 8 + 8 + 4


def test_local_size_of_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValue, match="does not exist"):
        local_size(tmp_path / "nope")


def test_local_files_come_in_path_order_with_posix_relative_paths(source: Path) -> None:
    assert [rel for _, rel in iter_local_files(source)] == [
        "model.pkl",
        "conf/params.yaml",
        "conf/deep/nested.txt",
    ]


def test_dangling_local_links_are_skipped(source: Path, tmp_path: Path) -> None:
    (source / "dangling").symlink_to(tmp_path / "gone")
    assert "dangling" not in [rel for _, rel in iter_local_files(source)]


def test_walk_yields_every_stored_file_depth_first(
    repo: LocalArtifactRepository, source: Path
) -> None:
    repo.log_artifacts(source)
    assert [f.path for f in walk_artifacts(repo)] == [
        "conf/deep/nested.txt",
        "conf/params.yaml",
        "model.pkl",
    ]
    assert [f.path for f in walk_artifacts(repo, "conf/deep")] == ["conf/deep/nested.txt"]


def test_walking_a_file_yields_that_file(repo: LocalArtifactRepository, source: Path) -> None:
    repo.log_artifacts(source)
    assert list(walk_artifacts(repo, "conf/params.yaml")) == [
        FileInfo("conf/params.yaml", is_dir=False, file_size=8)
    ]


def test_walking_a_missing_path_does_not_exist(repo: LocalArtifactRepository) -> None:
    assert list(walk_artifacts(repo)) == []
    with pytest.raises(ResourceDoesNotExist):
        list(walk_artifacts(repo, "nope"))


def test_artifact_size_matches_what_a_download_transfers(
    repo: LocalArtifactRepository, source: Path, tmp_path: Path
) -> None:
    repo.log_artifacts(source, "m")
    write(tmp_path / "extra.txt", "12345")
    repo.log_artifact(tmp_path / "extra.txt")
    moved: list[int] = []
    repo.download_artifacts("m", dst_path=tmp_path / "out", progress=moved.append)
    assert artifact_size(repo, "m") == sum(moved) == local_size(source)
    assert artifact_size(repo) == local_size(source) + 5
    assert artifact_size(repo, "extra.txt") == 5


def test_stat_finds_files_and_directories(repo: LocalArtifactRepository, source: Path) -> None:
    repo.log_artifacts(source)
    assert stat_artifact(repo, None) == FileInfo("", is_dir=True)
    assert stat_artifact(repo, "conf") == FileInfo("conf", is_dir=True)
    assert stat_artifact(repo, "conf//params.yaml") == FileInfo("conf/params.yaml", False, 8)
    assert stat_artifact(repo, "conf/nope") is None
