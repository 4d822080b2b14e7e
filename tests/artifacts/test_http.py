"""HttpArtifactRepository against a real server's artifact proxy, and proxy URI resolution.

The server is the session's `cairn server` (`live_server`), or CAIRN_TEST_SERVER_URL (for
instance a real `mlflow server --serve-artifacts`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from cairn.artifacts import get_artifact_repository
from cairn.artifacts.http import HttpArtifactRepository, split_proxy_url
from cairn.artifacts.proxy_uri import PROXY_ROUTE, is_proxy_uri, proxy_url
from cairn.entities import FileInfo
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from tests.artifacts.conftest import write

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def server_url(request: pytest.FixtureRequest) -> str:
    return os.environ.get("CAIRN_TEST_SERVER_URL") or request.getfixturevalue("live_server").url


@pytest.fixture(scope="session")
def on_cairn() -> bool:
    """Whether the server is Cairn's own (some checks go beyond what MLflow's server does)."""
    return not os.environ.get("CAIRN_TEST_SERVER_URL")


@pytest.fixture
def remote(server_url: str) -> HttpArtifactRepository:
    """A repository rooted at a fresh directory of the server's artifact destination."""
    repo = get_artifact_repository(f"{server_url}{PROXY_ROUTE}/tests/{uuid.uuid4().hex}")
    assert isinstance(repo, HttpArtifactRepository)
    return repo


# -- URIs (no server needed) ----------------------------------------------------------------


@pytest.mark.parametrize(
    "uri, tracking, expected",
    [
        ("mlflow-artifacts:/1/abc/artifacts", "http://h:5000",
         "http://h:5000/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts"),
        ("mlflow-artifacts:/1/abc/artifacts", "https://h/prefix/",
         "https://h/prefix/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts"),
        ("mlflow-artifacts://other:9/1/x", "http://h:5000/p",
         "http://other:9/p/api/2.0/mlflow-artifacts/artifacts/1/x"),
        ("mlflow-artifacts:///1", "http://h:5000",
         "http://h:5000/api/2.0/mlflow-artifacts/artifacts/1"),
        ("mlflow-artifacts:", "http://h:5000", "http://h:5000/api/2.0/mlflow-artifacts/artifacts"),
    ],
)  # fmt: skip
def test_proxy_url(uri: str, tracking: str, expected: str) -> None:
    assert is_proxy_uri(uri)
    assert proxy_url(uri, tracking) == expected


def test_proxy_url_needs_a_server_tracking_uri() -> None:
    with pytest.raises(InvalidParameterValue, match="set_tracking_uri") as caught:
        proxy_url("mlflow-artifacts:/1", "sqlite:///x.db")
    assert "http://host:5000" in str(caught.value)
    with pytest.raises(InvalidParameterValue):
        proxy_url("s3://bucket/x", "http://h:1")


def test_split_proxy_url() -> None:
    assert split_proxy_url(f"https://h:1/pre{PROXY_ROUTE}/a/b%20c") == ("https://h:1/pre", "a/b c")
    assert split_proxy_url(f"http://h{PROXY_ROUTE}") == ("http://h", "")
    for bad in (
        "http://h:1/some/file",
        f"http://h:1{PROXY_ROUTE}x",
        f"http://h:1{PROXY_ROUTE}/a?x=1",
        f"http://h:1{PROXY_ROUTE}/a/../../etc",
    ):
        with pytest.raises(InvalidParameterValue):
            split_proxy_url(bad)


def test_both_schemes_are_registered() -> None:
    for scheme in ("http", "https"):
        repo = get_artifact_repository(f"{scheme}://h:1{PROXY_ROUTE}/x")
        assert isinstance(repo, HttpArtifactRepository) and repo.root == "x"


def test_importing_artifacts_does_not_import_httpx() -> None:
    code = "import sys, cairn.artifacts; print('httpx' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


# -- against the server ---------------------------------------------------------------------


def test_upload_list_download(remote: HttpArtifactRepository, source: Path, tmp_path: Path) -> None:
    remote.log_artifacts(source, "tree")
    remote.log_artifact(source / "model.pkl")
    assert remote.list_artifacts() == [
        FileInfo("model.pkl", False, 8),
        FileInfo("tree", True),
    ]
    assert remote.list_artifacts("tree/conf") == [
        FileInfo("tree/conf/deep", True),
        FileInfo("tree/conf/params.yaml", False, 8),
    ]
    assert remote.list_artifacts("tree/model.pkl") == []  # a file lists as nothing
    assert remote.list_artifacts("missing") == []

    local = remote.download_artifacts("tree", tmp_path / "out")
    assert local == str(tmp_path / "out" / "tree")
    assert (tmp_path / "out/tree/conf/deep/nested.txt").read_text() == "deep"
    assert (tmp_path / "out/tree/model.pkl").read_bytes() == b"\x00\x01binary"

    one = remote.download_artifacts("tree/conf/params.yaml", tmp_path / "one")
    assert Path(one).read_text() == "lr: 0.1\n"
    everything = Path(remote.download_artifacts())
    assert sorted(p.relative_to(everything).as_posix() for p in everything.rglob("*.*")) == [
        "model.pkl",
        "tree/conf/deep/nested.txt",
        "tree/conf/params.yaml",
        "tree/model.pkl",
    ]


def test_awkward_names(remote: HttpArtifactRepository, tmp_path: Path, on_cairn: bool) -> None:
    names = ["with space.txt", "plus+sign.txt", "ünï çödé.txt", "q?.txt", "a=b&c.txt"]
    if on_cairn:  # MLflow's server refuses '#' and decodes '%' escapes twice
        names += ["per%cent.txt", "hash#tag.txt", "slash%2Fnot.txt"]
    for name in names:
        remote.log_artifact(write(tmp_path / "src" / name, name), "odd dir")
    listed = [f.path for f in remote.list_artifacts("odd dir")]
    assert listed == sorted(f"odd dir/{n}" for n in names)
    for name in names:
        with remote.open(f"odd dir/{name}") as f:
            assert f.read().decode() == name


def test_an_empty_file(remote: HttpArtifactRepository, tmp_path: Path) -> None:
    remote.log_artifact(write(tmp_path / "empty.txt", b""))
    (info,) = remote.list_artifacts()
    assert info.path == "empty.txt" and not info.is_dir and info.file_size == 0
    assert Path(remote.download_artifacts("empty.txt", tmp_path / "dl")).read_bytes() == b""


def test_a_large_file_with_progress(remote: HttpArtifactRepository, tmp_path: Path) -> None:
    payload = os.urandom(5 * 1024 * 1024 + 17)
    sent: list[int] = []
    received: list[int] = []
    remote.log_artifact(write(tmp_path / "big.bin", payload), "blobs", progress=sent.append)
    local = remote.download_artifacts("blobs/big.bin", tmp_path / "dl", progress=received.append)
    assert Path(local).read_bytes() == payload
    assert sum(sent) == sum(received) == len(payload)


def test_overwrite(remote: HttpArtifactRepository, tmp_path: Path) -> None:
    remote.log_artifact(write(tmp_path / "a" / "f.txt", "one"))
    remote.log_artifact(write(tmp_path / "b" / "f.txt", "two"))
    with remote.open("f.txt") as f:
        assert f.read() == b"two"


def test_missing_paths(remote: HttpArtifactRepository, tmp_path: Path) -> None:
    with pytest.raises(ResourceDoesNotExist):
        remote.download_artifacts("nope.txt", tmp_path)
    with pytest.raises(ResourceDoesNotExist):
        remote.open("nope.txt")
    assert not (tmp_path / "nope.txt").exists()


def test_delete(remote: HttpArtifactRepository, source: Path) -> None:
    remote.log_artifacts(source)
    remote.delete_artifacts("conf/deep")
    assert [f.path for f in remote.list_artifacts("conf")] == ["conf/params.yaml"]
    remote.delete_artifacts("model.pkl")
    assert [f.path for f in remote.list_artifacts()] == ["conf"]
    remote.delete_artifacts("never-there")


def test_unsafe_paths_are_refused_before_sending(remote: HttpArtifactRepository) -> None:
    for bad in ("../escape", "/abs", "a/../../b"):
        with pytest.raises(InvalidParameterValue):
            remote.list_artifacts(bad)
        with pytest.raises(InvalidParameterValue):
            remote.open(bad)
