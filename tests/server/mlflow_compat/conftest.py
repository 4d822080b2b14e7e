"""The compatibility suite: the real MLflow client (mlflow-skinny) against `cairn server`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mlflow import MlflowClient

from tests.server.mlflow_compat.support import connect, unique


@pytest.fixture
def server(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The shared live server, with MLflow pointed at it for this test only."""
    yield from connect(live_server, monkeypatch)


@pytest.fixture
def client(server: Any) -> MlflowClient:
    return MlflowClient(tracking_uri=server.url)


@pytest.fixture
def experiment_id(client: MlflowClient) -> str:
    return client.create_experiment(unique())
