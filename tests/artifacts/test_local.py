"""LocalArtifactRepository: files under a directory, written atomically, never escaping it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from cairn.artifacts import ArtifactRepository, LocalArtifactRepository, local
from cairn.entities import FileInfo
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist

from .conftest import write

REPO_ROOT = Path(__file__).resolve().parents[2]


def tree_of(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` by relative posix path, with its content."""
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


class TestLocations:
    def test_is_an_artifact_repository(self, repo: LocalArtifactRepository) -> None:
        assert isinstance(repo, ArtifactRepository)

    @pytest.mark.parametrize(
        "make_uri",
        [
            lambda p: p.as_uri(),
            lambda p: f"file:{p}",
            lambda p: f"file://localhost{p}",
            lambda p: f"FILE://{p}",
            lambda p: str(p),
        ],
        ids=["file:///abs", "file:/abs", "file://localhost/abs", "upper-case scheme", "plain"],
    )
    def test_uri_forms_name_the_same_directory(
        self, tmp_path: Path, make_uri: Callable[[Path], str]
    ) -> None:
        uri = make_uri(tmp_path / "store")
        repo = LocalArtifactRepository(uri)
        assert repo.root == tmp_path / "store"
        assert repo.artifact_uri == uri

    def test_percent_escapes_in_file_uris_are_decoded(self, tmp_path: Path) -> None:
        repo = LocalArtifactRepository((tmp_path / "my dir#1").as_uri())
        assert repo.root == tmp_path / "my dir#1"

    def test_relative_paths_are_fixed_at_construction(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        repo = LocalArtifactRepository("runs/1/artifacts")
        monkeypatch.chdir("/")
        assert repo.root == tmp_path / "runs" / "1" / "artifacts"

    @pytest.mark.parametrize(
        ("uri", "complaint"),
        [
            ("file://otherhost/data", "not this machine"),
            ("file:///data?x=1", "percent-encode"),
            ("s3://bucket/key", "Not a local path"),
            ("", "Invalid local artifact location"),
        ],
    )
    def test_unusable_locations_are_rejected(self, uri: str, complaint: str) -> None:
        with pytest.raises(InvalidParameterValue, match=complaint):
            LocalArtifactRepository(uri)

    def test_repr_shows_the_uri(self) -> None:
        assert repr(LocalArtifactRepository("/data")) == "LocalArtifactRepository('/data')"

    def test_the_root_is_created_on_first_write_only(
        self, repo: LocalArtifactRepository, root: Path, source: Path
    ) -> None:
        assert not root.exists()
        assert repo.list_artifacts() == []
        repo.log_artifact(source / "model.pkl")
        assert (root / "model.pkl").is_file()


class TestLogging:
    def test_a_file_round_trips_at_the_root(
        self, repo: LocalArtifactRepository, source: Path, tmp_path: Path
    ) -> None:
        repo.log_artifact(source / "model.pkl")
        local_copy = repo.download_artifacts("model.pkl", dst_path=tmp_path / "out")
        assert Path(local_copy).read_bytes() == b"\x00\x01binary"

    def test_a_file_goes_under_a_nested_artifact_path(
        self, repo: LocalArtifactRepository, root: Path, source: Path
    ) -> None:
        repo.log_artifact(source / "conf" / "params.yaml", "configs//v1/")
        assert (root / "configs" / "v1" / "params.yaml").read_text() == "lr: 0.1\n"

    def test_path_like_sources_are_accepted(
        self, repo: LocalArtifactRepository, source: Path
    ) -> None:
        repo.log_artifact(str(source / "model.pkl"), "s")
        assert [f.path for f in repo.list_artifacts("s")] == ["s/model.pkl"]

    def test_a_tree_round_trips(
        self, repo: LocalArtifactRepository, source: Path, tmp_path: Path
    ) -> None:
        repo.log_artifacts(source, "model")
        out = repo.download_artifacts("model", dst_path=tmp_path / "out")
        assert out == str(tmp_path / "out" / "model")
        assert tree_of(Path(out)) == tree_of(source)

    def test_a_tree_logged_at_the_root_keeps_its_relative_paths(
        self, repo: LocalArtifactRepository, root: Path, source: Path
    ) -> None:
        repo.log_artifacts(source)
        assert tree_of(root) == tree_of(source)

    def test_empty_directories_are_not_stored(
        self, repo: LocalArtifactRepository, root: Path, source: Path
    ) -> None:
        (source / "empty").mkdir()
        repo.log_artifacts(source)
        assert not (root / "empty").exists()

    def test_logging_again_overwrites(
        self, repo: LocalArtifactRepository, root: Path, tmp_path: Path
    ) -> None:
        repo.log_artifact(write(tmp_path / "v" / "notes.txt", "first version, longer"))
        repo.log_artifact(write(tmp_path / "v" / "notes.txt", "second"))
        assert (root / "notes.txt").read_text() == "second"

    def test_new_files_get_ordinary_permissions(
        self, repo: LocalArtifactRepository, root: Path, source: Path
    ) -> None:
        old_umask = os.umask(0o022)
        try:
            repo.log_artifact(source / "model.pkl")
        finally:
            os.umask(old_umask)
        assert stat.S_IMODE((root / "model.pkl").stat().st_mode) == 0o644

    def test_a_missing_or_directory_source_is_a_clear_error(
        self, repo: LocalArtifactRepository, source: Path, tmp_path: Path
    ) -> None:
        with pytest.raises(InvalidParameterValue, match="does not exist"):
            repo.log_artifact(tmp_path / "nope.txt")
        with pytest.raises(InvalidParameterValue, match="use log_artifacts"):
            repo.log_artifact(source)
        with pytest.raises(InvalidParameterValue, match="does not exist"):
            repo.log_artifacts(tmp_path / "nope")

    def test_a_file_cannot_replace_a_directory(
        self, repo: LocalArtifactRepository, source: Path, tmp_path: Path
    ) -> None:
        repo.log_artifacts(source, "conf")
        with pytest.raises(InvalidParameterValue, match="a directory of that name exists"):
            repo.log_artifact(write(tmp_path / "x" / "conf", "clash"))

    def test_a_file_cannot_be_used_as_a_directory(
        self, repo: LocalArtifactRepository, source: Path
    ) -> None:
        repo.log_artifact(source / "model.pkl")
        with pytest.raises(InvalidParameterValue, match="parent path is an existing file"):
            repo.log_artifact(source / "conf" / "params.yaml", "model.pkl")


class TestListing:
    def test_lists_direct_children_relative_to_the_root_sorted(
        self, repo: LocalArtifactRepository, source: Path
    ) -> None:
        repo.log_artifacts(source)
        assert repo.list_artifacts() == [
            FileInfo("conf", is_dir=True),
            FileInfo("model.pkl", is_dir=False, file_size=8),
        ]
        assert repo.list_artifacts("conf") == [
            FileInfo("conf/deep", is_dir=True),
            FileInfo("conf/params.yaml", is_dir=False, file_size=8),
        ]
        assert repo.list_artifacts("./conf//deep/") == [
            FileInfo("conf/deep/nested.txt", is_dir=False, file_size=4),
        ]

    def test_a_missing_path_or_a_file_lists_as_empty(
        self, repo: LocalArtifactRepository, source: Path
    ) -> None:
        repo.log_artifacts(source)
        assert repo.list_artifacts("nope") == []
        assert repo.list_artifacts("model.pkl") == []

    def test_only_files_and_directories_are_listed(
        self, repo: LocalArtifactRepository, root: Path
    ) -> None:
        write(root / "f.txt", "x")
        os.mkfifo(root / "pipe")
        assert [f.path for f in repo.list_artifacts()] == ["f.txt"]

    def test_interrupted_writes_are_not_listed(
        self, repo: LocalArtifactRepository, root: Path
    ) -> None:
        write(root / f"{local.TEMP_PREFIX}0123abcd", "half a fi")
        assert repo.list_artifacts() == []


class TestDownloading:
    def test_a_file_lands_at_its_path_under_a_chosen_directory(
        self, repo: LocalArtifactRepository, source: Path, tmp_path: Path
    ) -> None:
        repo.log_artifacts(source)
        dst = tmp_path / "not-yet-there"
        out = repo.download_artifacts("conf/params.yaml", dst_path=dst)
        assert out == str(dst / "conf" / "params.yaml")
        assert Path(out).read_text() == "lr: 0.1\n"

    def test_without_a_destination_a_new_temporary_directory_is_used(
        self, repo: LocalArtifactRepository, source: Path
    ) -> None:
        repo.log_artifacts(source)
        first = Path(repo.download_artifacts("conf"))
        second = Path(repo.download_artifacts("conf"))
        assert first != second
        assert tree_of(first) == tree_of(source / "conf")
        assert first.name == "conf"

    def test_the_root_downloads_as_the_destination_itself(
        self, repo: LocalArtifactRepository, source: Path, tmp_path: Path
    ) -> None:
        repo.log_artifacts(source)
        out = repo.download_artifacts(dst_path=tmp_path / "all")
        assert out == str(tmp_path / "all")
        assert tree_of(Path(out)) == tree_of(source)

    def test_an_empty_repository_downloads_as_an_empty_directory(
        self, repo: LocalArtifactRepository, tmp_path: Path
    ) -> None:
        out = repo.download_artifacts("", dst_path=tmp_path / "empty")
        assert os.listdir(out) == []

    def test_a_missing_path_does_not_exist(
        self, repo: LocalArtifactRepository, source: Path, tmp_path: Path
    ) -> None:
        repo.log_artifacts(source)
        with pytest.raises(ResourceDoesNotExist, match=r"'conf/missing\.txt'"):
            repo.download_artifacts("conf/missing.txt", dst_path=tmp_path)

    def test_open_streams_one_file(self, repo: LocalArtifactRepository, source: Path) -> None:
        repo.log_artifacts(source)
        with repo.open("conf/deep/nested.txt") as stream:
            assert stream.read() == b"deep"

    def test_open_refuses_missing_paths_and_directories(
        self, repo: LocalArtifactRepository, source: Path
    ) -> None:
        repo.log_artifacts(source)
        with pytest.raises(ResourceDoesNotExist):
            repo.open("nope.txt")
        with pytest.raises(InvalidParameterValue, match="is a directory"):
            repo.open("conf")


class TestDeleting:
    def test_a_file(self, repo: LocalArtifactRepository, source: Path) -> None:
        repo.log_artifacts(source)
        repo.delete_artifacts("model.pkl")
        assert [f.path for f in repo.list_artifacts()] == ["conf"]

    def test_a_tree(self, repo: LocalArtifactRepository, source: Path) -> None:
        repo.log_artifacts(source)
        repo.delete_artifacts("conf")
        assert [f.path for f in repo.list_artifacts()] == ["model.pkl"]

    def test_everything(self, repo: LocalArtifactRepository, source: Path) -> None:
        repo.log_artifacts(source)
        repo.delete_artifacts()
        assert repo.list_artifacts() == []

    def test_a_missing_path_is_a_no_op(self, repo: LocalArtifactRepository) -> None:
        repo.delete_artifacts("never/logged")
        repo.delete_artifacts()

    def test_a_link_is_removed_not_its_target(
        self, repo: LocalArtifactRepository, root: Path, source: Path
    ) -> None:
        repo.log_artifacts(source)
        (root / "alias.pkl").symlink_to(root / "model.pkl")
        repo.delete_artifacts("alias.pkl")
        assert (root / "model.pkl").read_bytes() == b"\x00\x01binary"


BAD_PATHS = ["../x", "a/../../x", "/etc/passwd", "..\\x", "C:\\x", "\\\\host\\share", "a\x00"]


@pytest.mark.parametrize("bad", BAD_PATHS)
class TestEveryOperationRejectsTraversal:
    def test_log_artifact(self, repo: LocalArtifactRepository, source: Path, bad: str) -> None:
        with pytest.raises(InvalidParameterValue, match="Invalid artifact path"):
            repo.log_artifact(source / "model.pkl", bad)

    def test_log_artifacts(self, repo: LocalArtifactRepository, source: Path, bad: str) -> None:
        with pytest.raises(InvalidParameterValue, match="Invalid artifact path"):
            repo.log_artifacts(source, bad)

    def test_list(self, repo: LocalArtifactRepository, bad: str) -> None:
        with pytest.raises(InvalidParameterValue, match="Invalid artifact path"):
            repo.list_artifacts(bad)

    def test_download(self, repo: LocalArtifactRepository, tmp_path: Path, bad: str) -> None:
        with pytest.raises(InvalidParameterValue, match="Invalid artifact path"):
            repo.download_artifacts(bad, dst_path=tmp_path)

    def test_delete(self, repo: LocalArtifactRepository, bad: str) -> None:
        with pytest.raises(InvalidParameterValue, match="Invalid artifact path"):
            repo.delete_artifacts(bad)

    def test_open(self, repo: LocalArtifactRepository, bad: str) -> None:
        with pytest.raises(InvalidParameterValue, match="Invalid artifact path"):
            repo.open(bad)


class TestSymlinkEscapes:
    @pytest.fixture
    def escape(self, repo: LocalArtifactRepository, root: Path, outside: Path) -> Path:
        """`store/escape` -> the outside directory, planted by hand beside a real artifact."""
        write(root / "kept.txt", "mine")
        (root / "escape").symlink_to(outside)
        return root / "escape"

    def test_reads_through_it_are_rejected(
        self, repo: LocalArtifactRepository, escape: Path, tmp_path: Path
    ) -> None:
        with pytest.raises(InvalidParameterValue, match="symbolic link"):
            repo.open("escape/secret.txt")
        with pytest.raises(InvalidParameterValue, match="symbolic link"):
            repo.download_artifacts("escape/secret.txt", dst_path=tmp_path / "out")
        with pytest.raises(InvalidParameterValue, match="symbolic link"):
            repo.download_artifacts("escape", dst_path=tmp_path / "out")
        with pytest.raises(InvalidParameterValue, match="symbolic link"):
            repo.list_artifacts("escape")
        assert not (tmp_path / "out" / "escape").exists()

    def test_writes_through_it_are_rejected(
        self, repo: LocalArtifactRepository, escape: Path, outside: Path, source: Path
    ) -> None:
        with pytest.raises(InvalidParameterValue, match="symbolic link"):
            repo.log_artifact(source / "model.pkl", "escape")
        with pytest.raises(InvalidParameterValue, match="symbolic link"):
            repo.log_artifacts(source, "escape/deeper")
        with pytest.raises(InvalidParameterValue, match="symbolic link"):
            repo.delete_artifacts("escape/secret.txt")
        assert sorted(os.listdir(outside)) == ["secret.txt"]
        assert (outside / "secret.txt").read_text() == "top secret"

    def test_a_file_link_to_outside_cannot_be_overwritten(
        self, repo: LocalArtifactRepository, root: Path, outside: Path, tmp_path: Path
    ) -> None:
        root.mkdir()
        (root / "secret.txt").symlink_to(outside / "secret.txt")
        with pytest.raises(InvalidParameterValue, match="symbolic link"):
            repo.log_artifact(write(tmp_path / "mine" / "secret.txt", "overwritten"))
        assert (outside / "secret.txt").read_text() == "top secret"

    def test_listings_and_whole_downloads_skip_it(
        self, repo: LocalArtifactRepository, escape: Path, root: Path, tmp_path: Path
    ) -> None:
        (root / "secret-file").symlink_to(escape / "secret.txt")
        assert [f.path for f in repo.list_artifacts()] == ["kept.txt"]
        out = repo.download_artifacts(dst_path=tmp_path / "out")
        assert tree_of(Path(out)) == {"kept.txt": b"mine"}

    def test_links_inside_the_root_still_work(
        self, repo: LocalArtifactRepository, root: Path, source: Path
    ) -> None:
        repo.log_artifacts(source)
        (root / "same.pkl").symlink_to(root / "model.pkl")
        (root / "conf-alias").symlink_to(root / "conf")
        with repo.open("same.pkl") as stream:
            assert stream.read() == b"\x00\x01binary"
        with repo.open("conf-alias/params.yaml") as stream:
            assert stream.read() == b"lr: 0.1\n"
        # Links to directories are not listed (they could loop), links to files are.
        assert "conf-alias" not in [f.path for f in repo.list_artifacts()]
        assert FileInfo("same.pkl", False, 8) in repo.list_artifacts()


class TestProgress:
    def test_uploads_report_bytes_adding_up_to_the_file_size(
        self,
        repo: LocalArtifactRepository,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(local, "CHUNK_SIZE", 1000)
        big = write(tmp_path / "big.bin", os.urandom(4500))
        seen: list[int] = []
        repo.log_artifact(big, progress=seen.append)
        assert seen == [1000, 1000, 1000, 1000, 500]

    def test_tree_uploads_and_downloads_add_up_to_the_tree_size(
        self, repo: LocalArtifactRepository, source: Path, tmp_path: Path
    ) -> None:
        up: list[int] = []
        down: list[int] = []
        repo.log_artifacts(source, progress=up.append)
        repo.download_artifacts(dst_path=tmp_path / "out", progress=down.append)
        assert sum(up) == sum(down) == 8 + 8 + 4

    def test_empty_files_report_nothing_and_still_arrive(
        self, repo: LocalArtifactRepository, root: Path, tmp_path: Path
    ) -> None:
        seen: list[int] = []
        repo.log_artifact(write(tmp_path / "empty.txt", b""), progress=seen.append)
        assert seen == []
        assert (root / "empty.txt").read_bytes() == b""


class TestAtomicWrites:
    def test_a_failure_mid_write_keeps_the_old_file_and_leaves_no_temp(
        self,
        repo: LocalArtifactRepository,
        root: Path,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        repo.log_artifact(write(tmp_path / "v1" / "weights.bin", b"old" * 10))
        monkeypatch.setattr(local, "CHUNK_SIZE", 4)

        def fail_after_first_chunk(_: int) -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            repo.log_artifact(
                write(tmp_path / "v2" / "weights.bin", b"new" * 10),
                progress=fail_after_first_chunk,
            )
        assert os.listdir(root) == ["weights.bin"]
        assert (root / "weights.bin").read_bytes() == b"old" * 10

    def test_a_killed_process_leaves_the_old_file_whole(
        self, repo: LocalArtifactRepository, root: Path, tmp_path: Path
    ) -> None:
        repo.log_artifact(write(tmp_path / "v1" / "weights.bin", b"old" * 10))
        write(tmp_path / "v2" / "weights.bin", b"new" * 10_000)
        script = textwrap.dedent(
            f"""
            import os, signal
            from cairn.artifacts import LocalArtifactRepository, local
            local.CHUNK_SIZE = 1000
            def die(_):
                os.kill(os.getpid(), signal.SIGKILL)
            LocalArtifactRepository({str(root)!r}).log_artifact(
                {str(tmp_path / "v2" / "weights.bin")!r}, progress=die
            )
            """
        )
        done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, check=False)
        assert done.returncode == -9
        assert (root / "weights.bin").read_bytes() == b"old" * 10
        assert len(os.listdir(root)) == 2  # the orphaned temporary file...
        assert [f.path for f in repo.list_artifacts()] == ["weights.bin"]  # ...is never shown

    def test_downloads_replace_existing_local_files_whole(
        self, repo: LocalArtifactRepository, source: Path, tmp_path: Path
    ) -> None:
        repo.log_artifacts(source)
        dst = tmp_path / "out"
        write(dst / "model.pkl", "stale local copy that is longer")
        repo.download_artifacts("model.pkl", dst_path=dst)
        assert (dst / "model.pkl").read_bytes() == b"\x00\x01binary"
        assert os.listdir(dst) == ["model.pkl"]
