"""`cairn db upgrade`: creates a fresh database and reports its revision."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect

from cairn.store.sql.migrations import HEAD
from tests.cli.support import Cli, RunCairn


def test_upgrade_creates_a_fresh_database(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "nested" / "fresh.db"
    result = cli("db", "upgrade", f"sqlite:///{path}")
    assert result.exit_code == 0, result.output
    assert f"revision {HEAD}" in result.stdout
    engine = create_engine(f"sqlite:///{path}")
    assert {"experiments", "runs"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_upgrade_is_idempotent(cli: Cli, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'again.db'}"
    assert cli("db", "upgrade", uri).exit_code == 0
    again = cli("db", "upgrade", uri)
    assert again.exit_code == 0
    assert f"revision {HEAD}" in again.stdout


def test_upgrade_defaults_to_the_tracking_uri(cli: Cli, tracking_uri: str) -> None:
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert Path(tracking_uri.removeprefix("sqlite:///")).exists()


def test_upgrade_rejects_a_non_database_uri(cli: Cli, tmp_path: Path) -> None:
    result = cli("db", "upgrade", str(tmp_path / "mlruns"))
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "Traceback" not in result.output


def test_upgrade_from_the_console_script(cairn_subprocess: RunCairn, tmp_path: Path) -> None:
    proc = cairn_subprocess("db", "upgrade", f"sqlite:///{tmp_path / 'proc.db'}")
    assert proc.returncode == 0, proc.stderr
    assert f"revision {HEAD}" in proc.stdout
