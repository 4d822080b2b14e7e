"""The root command: version, help, speed of start-up, and how errors reach the user."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cairn.version import __version__
from tests.cli.support import REPO, Cli, RunCairn


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"cairn {__version__}"


def test_version_from_the_console_script(cairn_subprocess: RunCairn) -> None:
    proc = cairn_subprocess("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"cairn {__version__}"


def test_help_lists_the_command_groups(cli: Cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for group in ("experiments", "runs", "artifacts", "db"):
        assert group in result.stdout


def test_importing_the_cli_stays_light() -> None:
    """`cairn --help` must not pay for the database layer or the data libraries."""
    heavy = ("sqlalchemy", "pandas", "numpy", "alembic", "cairn.store.sql", "cairn.artifacts")
    code = (
        "import sys, cairn.cli.main; "
        f"print([m for m in sys.modules if m.split('.')[0] in {heavy!r} or m in {heavy!r}])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert proc.stdout.strip() == "[]"


def test_unknown_run_is_a_clean_error(cli: Cli) -> None:
    result = cli("runs", "describe", "0123456789abcdef0123456789abcdef")
    assert result.exit_code == 1
    assert "Error:" in result.stderr
    assert "0123456789abcdef0123456789abcdef" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_unknown_run_from_the_console_script(cairn_subprocess: RunCairn) -> None:
    proc = cairn_subprocess("runs", "describe", "0123456789abcdef0123456789abcdef")
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: ")
    assert "0123456789abcdef0123456789abcdef" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreachable_database_is_a_clean_error(cli: Cli) -> None:
    result = cli("runs", "list", "--tracking-uri", "postgresql://u:secret@127.0.0.1:1/nowhere")
    assert result.exit_code == 1
    assert "Cannot connect to the database" in result.stderr
    assert "secret" not in result.stderr
    assert "Traceback" not in result.output


def test_usage_mistakes_exit_2(cli: Cli) -> None:
    result = cli("runs", "list", "--max-results", "0")
    assert result.exit_code == 2


def test_explicit_tracking_uri_wins_over_the_environment(cli: Cli, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert cli("experiments", "create", "elsewhere", "--tracking-uri", other).exit_code == 0
    here = cli("experiments", "list", "--json")
    there = cli("experiments", "list", "--json", "--tracking-uri", other)
    assert "elsewhere" not in here.stdout
    assert "elsewhere" in there.stdout
