"""Checksums manifest: written once, then any changed, missing or added file is caught."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tracemalloc
from pathlib import Path

import pytest

from cairn.exceptions import CairnException, ModelIntegrityError
from cairn.models import compute_checksums, verify_manifest, write_manifest
from cairn.models.integrity import MANIFEST_FILE

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="symlinks and FIFOs need POSIX")


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "data" / "nested").mkdir(parents=True)
    (root / "MLmodel").write_text("flavors: {}\n")
    (root / "data" / "model.pkl").write_bytes(bytes(range(256)) * 10)
    (root / "data" / "nested" / "weights.bin").write_bytes(b"\x00" * 1000)
    (root / "empty.txt").write_bytes(b"")
    return root


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_manifest_lists_every_file_by_relative_posix_path(model_dir: Path) -> None:
    path = write_manifest(model_dir)
    assert path == model_dir / MANIFEST_FILE
    body = json.loads(path.read_text())
    assert body["format_version"] == 1
    assert body["algorithm"] == "sha256"
    assert body["files"] == {
        "MLmodel": _sha(b"flavors: {}\n"),
        "data/model.pkl": _sha(bytes(range(256)) * 10),
        "data/nested/weights.bin": _sha(b"\x00" * 1000),
        "empty.txt": _sha(b""),
    }
    assert list(body["files"]) == sorted(body["files"])  # sorted, the manifest left out


def test_an_untouched_directory_verifies(model_dir: Path) -> None:
    write_manifest(model_dir)
    assert verify_manifest(model_dir) is True
    write_manifest(model_dir)  # rewriting replaces the manifest and does not list it
    assert verify_manifest(model_dir) is True


def test_a_directory_without_a_manifest_is_unverified_not_an_error(model_dir: Path) -> None:
    assert verify_manifest(model_dir) is False


def test_the_error_is_a_cairn_exception_with_mlflows_invalid_state() -> None:
    err = ModelIntegrityError("x")
    assert isinstance(err, CairnException)
    assert err.to_dict() == {"error_code": "INVALID_STATE", "message": "x"}
    assert err.http_status == 500


# --- tampering --------------------------------------------------------------------------------


def _verify_fails(model_dir: Path) -> ModelIntegrityError:
    with pytest.raises(ModelIntegrityError) as info:
        verify_manifest(model_dir)
    return info.value


def test_one_changed_byte_is_caught(model_dir: Path) -> None:
    write_manifest(model_dir)
    target = model_dir / "data" / "model.pkl"
    data = bytearray(target.read_bytes())
    data[1234] ^= 0x01
    target.write_bytes(bytes(data))
    err = _verify_fails(model_dir)
    assert err.changed == ("data/model.pkl",) and not err.missing and not err.added
    assert "changed: 'data/model.pkl'" in err.message


def test_a_deleted_file_is_caught(model_dir: Path) -> None:
    write_manifest(model_dir)
    (model_dir / "data" / "nested" / "weights.bin").unlink()
    err = _verify_fails(model_dir)
    assert err.missing == ("data/nested/weights.bin",) and not err.changed and not err.added
    assert "missing: 'data/nested/weights.bin'" in err.message


def test_an_added_file_is_caught(model_dir: Path) -> None:
    write_manifest(model_dir)
    (model_dir / "data" / "extra.py").write_text("import os\n")
    err = _verify_fails(model_dir)
    assert err.added == ("data/extra.py",) and not err.changed and not err.missing


def test_every_difference_is_named_at_once(model_dir: Path) -> None:
    write_manifest(model_dir)
    (model_dir / "MLmodel").write_text("flavors: {evil: {}}\n")
    (model_dir / "empty.txt").unlink()
    (model_dir / "new.bin").write_bytes(b"1")
    err = _verify_fails(model_dir)
    assert (err.changed, err.missing, err.added) == (("MLmodel",), ("empty.txt",), ("new.bin",))
    assert re.search(r"changed: 'MLmodel'; missing: 'empty.txt'; added: 'new.bin'", err.message)


def test_long_lists_are_cut_short_in_the_message_but_kept_whole(model_dir: Path) -> None:
    write_manifest(model_dir)
    for i in range(25):
        (model_dir / f"added_{i:02}").write_bytes(b"")
    err = _verify_fails(model_dir)
    assert len(err.added) == 25
    assert err.message.endswith("and 15 more")


def test_an_edited_manifest_is_caught(model_dir: Path) -> None:
    path = write_manifest(model_dir)
    body = json.loads(path.read_text())
    body["files"]["MLmodel"] = _sha(b"something else")
    del body["files"]["empty.txt"]
    body["files"]["../../etc/passwd"] = _sha(b"")  # compared, never opened
    path.write_text(json.dumps(body))
    err = _verify_fails(model_dir)
    assert err.changed == ("MLmodel",)
    assert err.added == ("empty.txt",)
    assert err.missing == ("../../etc/passwd",)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"format_version": 2, "algorithm": "sha256", "files": {}}', "format_version 2"),
        ('{"format_version": 1, "algorithm": "md5", "files": {}}', "algorithm 'md5'"),
        ('{"format_version": 1, "algorithm": "sha256", "files": {"a": "zz"}}', "SHA-256 hex"),
        ('{"format_version": 1, "algorithm": "sha256"}', "'files' should map"),
    ],
)
def test_an_unreadable_manifest_is_an_integrity_error(
    model_dir: Path, content: str, why: str
) -> None:
    (model_dir / MANIFEST_FILE).write_text(content)
    err = _verify_fails(model_dir)
    assert "Cannot read checksums manifest" in err.message and why in err.message


# --- symlinks and special files ---------------------------------------------------------------


@posix_only
def test_a_symlink_leading_outside_is_refused(model_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    (model_dir / "data" / "link").symlink_to(secret)
    with pytest.raises(ModelIntegrityError, match="'data/link' is a symlink leading outside"):
        write_manifest(model_dir)


@posix_only
def test_a_symlink_swapped_in_after_the_manifest_is_refused(model_dir: Path) -> None:
    write_manifest(model_dir)
    pkl = model_dir / "data" / "model.pkl"
    pkl.unlink()
    pkl.symlink_to("/etc/hostname")
    with pytest.raises(ModelIntegrityError, match="leading outside"):
        verify_manifest(model_dir)


@posix_only
def test_a_relative_symlink_climbing_out_is_refused(model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "sibling.txt").write_text("x")
    (model_dir / "data" / "up").symlink_to("../../sibling.txt")
    with pytest.raises(ModelIntegrityError, match="leading outside"):
        write_manifest(model_dir)


@posix_only
def test_a_symlinked_directory_is_refused_inside_or_out(model_dir: Path, tmp_path: Path) -> None:
    (model_dir / "inside").symlink_to(model_dir / "data", target_is_directory=True)
    with pytest.raises(ModelIntegrityError, match="symlinked directory"):
        write_manifest(model_dir)
    (model_dir / "inside").unlink()
    (model_dir / "outside").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ModelIntegrityError, match="leading outside"):
        write_manifest(model_dir)


@posix_only
def test_a_symlink_to_a_file_inside_is_checksummed_by_content(model_dir: Path) -> None:
    (model_dir / "alias.txt").symlink_to("MLmodel")
    sums = compute_checksums(model_dir)
    assert sums["alias.txt"] == sums["MLmodel"]


@posix_only
def test_a_dangling_symlink_is_refused(model_dir: Path) -> None:
    (model_dir / "gone").symlink_to(model_dir / "nothing-here")
    with pytest.raises(ModelIntegrityError, match="'gone'"):
        write_manifest(model_dir)


@posix_only
def test_a_named_pipe_is_refused_without_hanging(model_dir: Path) -> None:
    os.mkfifo(model_dir / "pipe")
    with pytest.raises(ModelIntegrityError, match="'pipe' is not a regular file"):
        write_manifest(model_dir)


@posix_only
def test_a_symlinked_manifest_is_refused(model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.json").write_text("{}")
    (model_dir / MANIFEST_FILE).symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(ModelIntegrityError, match="is a symlink"):
        verify_manifest(model_dir)
    with pytest.raises(ModelIntegrityError, match="is a symlink"):
        write_manifest(model_dir)


def test_a_path_that_is_not_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelIntegrityError, match="Not a model directory"):
        compute_checksums(tmp_path / "missing")


# --- large files ------------------------------------------------------------------------------


def test_a_large_file_is_hashed_in_bounded_memory(tmp_path: Path) -> None:
    size = 64 * 1024 * 1024
    with open(tmp_path / "big.bin", "wb") as f:
        f.truncate(size)  # sparse: cheap to create, still 64 MiB to read
    tracemalloc.start()
    try:
        sums = compute_checksums(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    expected = hashlib.sha256()
    chunk = b"\x00" * (1024 * 1024)
    for _ in range(size // len(chunk)):
        expected.update(chunk)
    assert sums == {"big.bin": expected.hexdigest()}
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes while hashing a {size}-byte file"
