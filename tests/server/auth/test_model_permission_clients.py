"""Registered-model permissions on a real `cairn server --auth` subprocess: the MLflow client
(mlflow-skinny) as a user who creates, registers, searches and is refused; MLflow's
`registered-models/permissions/*` routes with the request and answer shapes of MLflow's
`AuthServiceClient` (that client needs Flask, which mlflow-skinny lacks, so httpx speaks
them); `cairn permissions model` on the server's database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from tests.server.auth.conftest import ADMIN, API, users_of
from tests.server.mlflow_compat.support import connect
from tests.server_process import ServerProcess

PASSWORD = "a long enough password"
PERMS = f"{API}/registered-models/permissions"


@pytest.fixture
def server(auth_server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerProcess]:
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    yield from connect(auth_server, monkeypatch)


def _user(server: ServerProcess) -> str:
    name = f"user-{uuid.uuid4().hex[:8]}"
    users_of(server).create_user(name, PASSWORD)
    return name


def _as(monkeypatch: pytest.MonkeyPatch, user: str, password: str = PASSWORD) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)


def test_mlflow_client_as_a_user_with_model_permissions(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    user = _user(server)
    client = MlflowClient(tracking_uri=server.url)
    _as(monkeypatch, *ADMIN)
    closed_experiment = client.create_experiment(f"closed-{uuid.uuid4().hex}")
    closed_run = client.create_run(closed_experiment).info.run_id
    client.log_text(closed_run, "flavors: {}\n", "model/MLmodel")
    hidden = f"hidden-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(hidden)
    admin = httpx.Client(base_url=server.url, auth=ADMIN, timeout=30)
    for resource, body in (
        ("experiments", {"experiment_id": closed_experiment}),
        ("registered-models", {"name": hidden}),
    ):
        granted = admin.post(
            f"{API}/{resource}/permissions/create",
            json={**body, "username": user, "permission": "NO_PERMISSIONS"},
        )
        assert granted.status_code == 200, granted.text

    _as(monkeypatch, user)
    mine = f"mine-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(mine)  # the creator manages it
    experiment = client.create_experiment(f"own-{uuid.uuid4().hex}")
    run = client.create_run(experiment).info.run_id
    client.log_text(run, "flavors: {}\n", "model/MLmodel")
    version = client.create_model_version(mine, f"runs:/{run}/model", run_id=run)
    assert version.version == "1"
    client.set_registered_model_alias(mine, "champion", "1")
    assert client.get_model_version_by_alias(mine, "champion").version == "1"

    with pytest.raises(MlflowException) as refused:  # a run they may not read
        client.create_model_version(mine, f"runs:/{closed_run}/model", run_id=closed_run)
    assert refused.value.error_code == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as missing:
        client.get_registered_model(hidden)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    names = {m.name for m in client.search_registered_models(max_results=1000)}
    assert mine in names and hidden not in names
    versions = client.search_model_versions(f"name = '{hidden}'")
    assert list(versions) == []

    client.delete_registered_model(mine)


def test_permission_routes_with_mlflow_shapes(server: ServerProcess) -> None:
    """What MLflow's AuthServiceClient sends: create/update/delete with a JSON body, get with
    query parameters; answers {"registered_model_permission": {name, user_id, permission}}."""
    manager, other = _user(server), _user(server)
    name = f"shared-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=server.url, auth=(manager, PASSWORD), timeout=30) as client:
        assert client.post(f"{API}/registered-models/create", json={"name": name}).is_success
        body = {"name": name, "username": other, "permission": "EDIT"}
        created = client.post(f"{PERMS}/create", json=body)
        assert created.status_code == 200, created.text
        shown = created.json()["registered_model_permission"]
        assert {k: shown[k] for k in ("name", "username", "permission")} == {
            "name": name,
            "username": other,
            "permission": "EDIT",
        }
        assert isinstance(shown["user_id"], int)
        params = {"name": name, "username": other}
        got = client.get(f"{PERMS}/get", params=params).json()["registered_model_permission"]
        assert got == shown
        update = client.patch(f"{PERMS}/update", json={**params, "permission": "MANAGE"})
        assert update.status_code == 200 and update.json() == {}
        assert client.request("DELETE", f"{PERMS}/delete", json=params).json() == {}
        assert client.get(f"{PERMS}/get", params=params).status_code == 404
    with httpx.Client(base_url=server.url, auth=(other, PASSWORD), timeout=30) as client:
        refused = client.post(f"{PERMS}/create", json={**params, "permission": "MANAGE"})
        assert refused.status_code == 403  # the default READ: they see it, may not manage it
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get(f"{PERMS}/get", params=params).status_code == 401


def test_cli_grants_what_the_server_enforces(server: ServerProcess) -> None:
    from cairn.cli.main import app

    user = _user(server)
    name = f"cli-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=server.url, auth=ADMIN, timeout=30) as admin:
        assert admin.post(f"{API}/registered-models/create", json={"name": name}).is_success
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(
            app,
            ["permissions", "model", *args, "--backend-store-uri", server.backend_uri],
            prog_name="cairn",
        )
        assert result.exit_code == 0, result.output
        return result.output

    assert f"'{user}' has NO_PERMISSIONS on registered model '{name}'" in cli(
        "grant", name, user, "no_permissions"
    )
    with httpx.Client(base_url=server.url, auth=(user, PASSWORD), timeout=30) as client:
        hidden = client.get(f"{API}/registered-models/get", params={"name": name})
        assert hidden.status_code == 404
        assert '"username"' in cli("list", "--model", name, "--json")
        cli("revoke", name, user)
        # this process's cache still holds the level for CAIRN_AUTH_CACHE_SECONDS; a fresh
        # model's level is looked up at once
        other = f"cli-{uuid.uuid4().hex[:8]}"
        with httpx.Client(base_url=server.url, auth=ADMIN, timeout=30) as admin:
            assert admin.post(f"{API}/registered-models/create", json={"name": other}).is_success
        cli("grant", other, user, "READ")
        assert client.get(f"{API}/registered-models/get", params={"name": other}).is_success
