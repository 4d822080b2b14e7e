"""The server the REST tests talk to: the real `cairn server` of the session (`live_server`).

Set CAIRN_TEST_SERVER_URL to run the same tests against another server instead, e.g. a real
`mlflow server`, the best check that the client speaks the protocol and not just our dialect.
"""

from __future__ import annotations

import os
import uuid

import pytest

from cairn.store.rest import RestTrackingStore


@pytest.fixture(scope="session")
def server_url(request: pytest.FixtureRequest) -> str:
    return os.environ.get("CAIRN_TEST_SERVER_URL") or request.getfixturevalue("live_server").url


@pytest.fixture
def rest_store(server_url: str) -> RestTrackingStore:
    return RestTrackingStore(server_url)


@pytest.fixture
def experiment_id(rest_store: RestTrackingStore) -> str:
    """A new experiment of this test's own: the server is shared by the whole session."""
    return rest_store.create_experiment(f"rest-{uuid.uuid4().hex}")
