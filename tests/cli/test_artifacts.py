"""`cairn artifacts`: log files and directories, list them, download them back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cairn.tracking.client import CairnClient
from tests.cli.support import Cli, RunCairn


@pytest.fixture
def run_id(client: CairnClient) -> str:
    return client.create_run(client.create_experiment("arts")).info.run_id


@pytest.fixture
def local_tree(tmp_path: Path) -> Path:
    """A small directory: two files at the top, one nested, of known sizes."""
    root = tmp_path / "outputs"
    (root / "plots").mkdir(parents=True)
    (root / "model.bin").write_bytes(b"\x00" * 2048)
    (root / "notes.txt").write_text("hello\n")
    (root / "plots" / "loss.svg").write_text("<svg/>")
    return root


def _listing(cli: Cli, run_id: str, *args: str) -> dict[str, dict[str, Any]]:
    result = cli("artifacts", "list", "--run-id", run_id, "--json", *args)
    assert result.exit_code == 0, result.output
    return {e["path"]: e for e in json.loads(result.stdout)}


def test_log_a_file_then_list_it(cli: Cli, run_id: str, local_tree: Path) -> None:
    result = cli("artifacts", "log", "--run-id", run_id, str(local_tree / "notes.txt"))
    assert result.exit_code == 0, result.output
    assert _listing(cli, run_id) == {
        "notes.txt": {"path": "notes.txt", "is_dir": False, "file_size": 6}
    }


def test_log_a_directory_under_an_artifact_path(cli: Cli, run_id: str, local_tree: Path) -> None:
    result = cli("artifacts", "log", "-r", run_id, str(local_tree), "--artifact-path", "out")
    assert result.exit_code == 0, result.output
    assert f"runs:/{run_id}/out/" in result.stdout
    assert set(_listing(cli, run_id)) == {"out"}
    listed = _listing(cli, run_id, "--path", "out")
    assert set(listed) == {"out/model.bin", "out/notes.txt", "out/plots"}
    assert listed["out/plots"]["is_dir"] is True
    assert listed["out/model.bin"]["file_size"] == 2048


def test_list_table(cli: Cli, run_id: str, local_tree: Path) -> None:
    cli("artifacts", "log", "-r", run_id, str(local_tree))
    result = cli("artifacts", "list", "-r", run_id)
    assert result.exit_code == 0, result.output
    assert "plots/" in result.stdout and "model.bin" in result.stdout
    assert "2.0 KiB" in result.stdout and "6 B" in result.stdout


def test_download_round_trip(cli: Cli, run_id: str, local_tree: Path, tmp_path: Path) -> None:
    cli("artifacts", "log", "-r", run_id, str(local_tree), "-a", "out")
    dst = tmp_path / "downloaded"
    result = cli("artifacts", "download", "-r", run_id, "--dst", str(dst))
    assert result.exit_code == 0, result.output
    assert Path(result.stdout.strip()) == dst
    for original in local_tree.rglob("*"):
        if original.is_file():
            copy = dst / "out" / original.relative_to(local_tree)
            assert copy.read_bytes() == original.read_bytes()


def test_download_one_file(cli: Cli, run_id: str, local_tree: Path, tmp_path: Path) -> None:
    cli("artifacts", "log", "-r", run_id, str(local_tree))
    dst = tmp_path / "one"
    result = cli("artifacts", "download", "-r", run_id, "-p", "plots/loss.svg", "-d", str(dst))
    assert result.exit_code == 0, result.output
    assert Path(result.stdout.strip()).read_text() == "<svg/>"
    assert [p.name for p in dst.rglob("*") if p.is_file()] == ["loss.svg"]


def test_download_missing_path_is_a_clean_error(cli: Cli, run_id: str, tmp_path: Path) -> None:
    result = cli("artifacts", "download", "-r", run_id, "-p", "nope.txt", "-d", str(tmp_path))
    assert result.exit_code == 1
    assert "nope.txt" in result.stderr and "Traceback" not in result.output


def test_log_missing_local_path(cli: Cli, run_id: str, tmp_path: Path) -> None:
    result = cli("artifacts", "log", "-r", run_id, str(tmp_path / "missing"))
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_unknown_run(cli: Cli) -> None:
    result = cli("artifacts", "list", "--run-id", "f" * 32)
    assert result.exit_code == 1
    assert "f" * 32 in result.stderr


def test_round_trip_through_the_console_script(
    cairn_subprocess: RunCairn, run_id: str, local_tree: Path, tmp_path: Path
) -> None:
    logged = cairn_subprocess("artifacts", "log", "--run-id", run_id, str(local_tree))
    assert logged.returncode == 0, logged.stderr
    dst = tmp_path / "dl"
    downloaded = cairn_subprocess("artifacts", "download", "--run-id", run_id, "--dst", str(dst))
    assert downloaded.returncode == 0, downloaded.stderr
    assert (dst / "plots" / "loss.svg").read_text() == "<svg/>"
    # Progress bars are drawn only on a terminal: captured output stays clean.
    assert downloaded.stderr == ""
