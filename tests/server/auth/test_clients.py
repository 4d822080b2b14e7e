"""The real MLflow client (mlflow-skinny) and Cairn's own client against `cairn server --auth`:
credentials from their usual environment variables are accepted, none or wrong ones refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from cairn.exceptions import Unauthenticated
from tests.server.auth.conftest import ADMIN, users_of
from tests.server.mlflow_compat.support import connect
from tests.server_process import ServerProcess

CREDENTIAL_VARIABLES = (
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "CAIRN_TRACKING_USERNAME",
    "CAIRN_TRACKING_PASSWORD",
    "CAIRN_TRACKING_TOKEN",
)


@pytest.fixture
def server(auth_server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerProcess]:
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield from connect(auth_server, monkeypatch)


def _token(server: ServerProcess) -> str:
    token = users_of(server).create_token(ADMIN[0], "client", "1h").token
    assert token is not None
    return token


def _mlflow_logs_a_run(server: ServerProcess) -> str:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=server.url)
    experiment_id = client.create_experiment(f"mlflow-auth-{uuid.uuid4().hex}")
    run = client.create_run(experiment_id)
    client.log_batch(run.info.run_id, metrics=[], params=[], tags=[])
    client.log_metric(run.info.run_id, "loss", 0.5)
    assert client.get_run(run.info.run_id).data.metrics == {"loss": 0.5}
    client.log_text(run.info.run_id, "hello", "notes/hello.txt")  # through the artifact proxy
    assert [f.path for f in client.list_artifacts(run.info.run_id, "notes")] == ["notes/hello.txt"]
    return run.info.run_id


def test_mlflow_with_username_and_password(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN[1])
    _mlflow_logs_a_run(server)


def test_mlflow_with_a_token(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", _token(server))
    _mlflow_logs_a_run(server)


@pytest.mark.parametrize("password", [None, "wrong password here"])
def test_mlflow_without_or_with_wrong_credentials_is_refused(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch, password: str | None
) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if password is not None:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN[0])
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    with pytest.raises(MlflowException) as refused:
        MlflowClient(tracking_uri=server.url).create_experiment(f"refused-{uuid.uuid4().hex}")
    assert refused.value.get_http_status_code() == 401
    assert refused.value.error_code == "UNAUTHENTICATED"


@pytest.mark.parametrize("kind", ["password", "token"])
def test_cairn_client_with_its_own_variables(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    from cairn.tracking.client import CairnClient

    if kind == "password":
        monkeypatch.setenv("CAIRN_TRACKING_USERNAME", ADMIN[0])
        monkeypatch.setenv("CAIRN_TRACKING_PASSWORD", ADMIN[1])
    else:
        monkeypatch.setenv("CAIRN_TRACKING_TOKEN", _token(server))
    client = CairnClient(tracking_uri=server.url)
    experiment_id = client.create_experiment(f"cairn-auth-{uuid.uuid4().hex}")
    assert client.get_experiment(experiment_id).experiment_id == experiment_id


def test_cairn_client_without_credentials_is_refused(server: ServerProcess) -> None:
    from cairn.tracking.client import CairnClient

    with pytest.raises(Unauthenticated):
        CairnClient(tracking_uri=server.url).create_experiment(f"x-{uuid.uuid4().hex}")


def test_mlflow_as_a_user_with_experiment_permissions(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-admin user: manages what they create (log, artifacts through the proxy), is
    refused 403 on someone else's experiment they may only read, and does not find by name
    an experiment closed to them."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from cairn.auth.permissions import Permission, PermissionStore

    users = users_of(server)
    name = f"perm-user-{uuid.uuid4().hex[:8]}"
    users.create_user(name, "a long enough password")
    admin_client = MlflowClient(tracking_uri=server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN[1])
    readable = admin_client.create_experiment(f"readable-{uuid.uuid4().hex}")
    closed_name = f"closed-{uuid.uuid4().hex}"
    closed = admin_client.create_experiment(closed_name)
    PermissionStore(users.engine).grant(int(closed), name, Permission.NO_PERMISSIONS)

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", name)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "a long enough password")
    _mlflow_logs_a_run(server)  # in an experiment of their own
    client = MlflowClient(tracking_uri=server.url)
    assert client.get_experiment(readable).experiment_id == readable
    with pytest.raises(MlflowException) as refused:
        client.create_run(readable)
    assert refused.value.error_code == "PERMISSION_DENIED"
    assert client.get_experiment_by_name(closed_name) is None
    found = client.search_experiments(filter_string=f"name = '{closed_name}'")
    assert found == []
