"""`cairn audit list` and `cairn audit verify` on a database with a tampered log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from typer.testing import CliRunner, Result

from cairn.auth.audit import AuditLog, AuditRecord
from cairn.store.sql.schema import audit_log
from cairn.store.sql.store import SqlTrackingStore
from tests.cli.support import WIDE


@pytest.fixture
def backend(tmp_path: Path) -> str:
    uri = f"sqlite:///{tmp_path / 'server.db'}"
    log = AuditLog(SqlTrackingStore.for_uri(uri).engine)
    log.append(
        [
            AuditRecord("alice", "POST /api/2.0/mlflow/runs/create", "experiment:1", 200, "::1"),
            AuditRecord("bob", "POST /api/2.0/mlflow/runs/log-batch", "run:abc", 200, "::1"),
            AuditRecord("", "GET /api/2.0/mlflow/runs/get", "run:abc", 401, "10.1.2.3"),
        ]
    )
    return uri


def audit(backend: str, *args: str) -> Result:
    from cairn.cli.main import app

    return CliRunner(env=WIDE).invoke(
        app, ["audit", *args, "--backend-store-uri", backend], prog_name="cairn"
    )


def test_list_filters_and_exports_json_lines(backend: str) -> None:
    lines = audit(backend, "list", "--json").stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3]
    assert set(json.loads(lines[0])) >= {"timestamp", "user", "action", "resource", "status"}
    by_user = audit(backend, "list", "--user", "bob", "--json").stdout.splitlines()
    assert [json.loads(line)["action"] for line in by_user] == [
        "POST /api/2.0/mlflow/runs/log-batch"
    ]
    on_run = audit(backend, "list", "--resource", "run:abc", "--json").stdout.splitlines()
    assert [json.loads(line)["status"] for line in on_run] == [200, 401]
    assert audit(backend, "list", "--since", "1d", "--json").stdout.count("\n") == 3
    assert audit(backend, "list", "--since", "2999-01-01", "--json").stdout == ""
    table = audit(backend, "list").stdout
    assert "runs/log-batch" in table and "10.1.2.3" in table
    bad = audit(backend, "list", "--since", "yesterday")
    assert bad.exit_code == 2


def test_verify_passes_on_an_intact_log(backend: str) -> None:
    result = audit(backend, "verify")
    assert result.exit_code == 0, result.output
    assert "intact: 3 entries" in result.stdout


def test_verify_names_an_edited_entry(backend: str) -> None:
    engine = SqlTrackingStore.for_uri(backend).engine
    with engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == 2).values(status=403))
    result = audit(backend, "verify")
    assert result.exit_code == 1
    assert "broken at entry 2" in result.stderr and "edited" in result.stderr


def test_verify_finds_a_deleted_entry(backend: str) -> None:
    engine = SqlTrackingStore.for_uri(backend).engine
    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id == 1))
    result = audit(backend, "verify")
    assert result.exit_code == 1 and "deleted" in result.stderr
