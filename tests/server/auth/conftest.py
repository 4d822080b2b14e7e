"""A real `cairn server --auth` subprocess shared by a module's tests, and its credentials.

The shared server allows many failed logins (the rate limit has a test and a server of its
own) and keeps the default credential cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.server_process import ServerProcess, start_server

ADMIN = ("admin", "correct horse battery staple")
AUTH_ENV = {
    "CAIRN_ADMIN_USERNAME": ADMIN[0],
    "CAIRN_ADMIN_PASSWORD": ADMIN[1],
    "CAIRN_AUTH_MAX_FAILURES": "10000",
}
API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("auth-server"), "--auth", env=AUTH_ENV)
    yield server
    server.stop()


@pytest.fixture
def admin(auth_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=auth_server.url, auth=ADMIN, timeout=30) as client:
        yield client


@pytest.fixture
def anonymous(auth_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=auth_server.url, timeout=30) as client:
        yield client


def users_of(server: ServerProcess) -> Any:
    from cairn.auth.users import UserStore
    from cairn.store.sql.engine import make_engine

    return UserStore(make_engine(server.backend_uri))
