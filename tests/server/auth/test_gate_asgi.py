"""The gate in-process (Starlette's TestClient): deny by default at run time, websockets
refused, the identity handed to the app."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocketDisconnect

from cairn.server.app import ExactRoutes, create_app
from cairn.server.auth.gate import IDENTITY, secure
from cairn.server.config import ServerConfig

with warnings.catch_warnings():  # Starlette suggests `httpx2`; httpx is what this repo has
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ADMIN = ("root", "a long enough password")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    config = ServerConfig(
        backend_store_uri=f"sqlite:///{tmp_path / 'db.sqlite'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        auth=True,
    )
    app = create_app(config)

    async def undeclared(request: Request) -> Response:
        return PlainTextResponse(request.scope[IDENTITY].username)

    app.router.routes.append(Route("/undeclared", undeclared))
    app.state.security.users.create_user(*ADMIN, is_admin=True)
    with TestClient(secure(ExactRoutes(app), app)) as client:
        yield client


def test_a_route_without_a_policy_is_refused_even_to_admins(client: TestClient) -> None:
    answer = client.get("/undeclared", auth=ADMIN)
    assert answer.status_code == 403
    assert answer.json() == {
        "error_code": "PERMISSION_DENIED",
        "message": "This route has no access policy",
    }


def test_websockets_are_refused(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/health"):
        pass


def test_the_app_sees_who_called(client: TestClient) -> None:
    answer = client.get("/api/2.0/cairn/users/current", auth=ADMIN)
    assert answer.json() == {"user": {"username": "root", "is_admin": True}}
    assert client.get("/api/2.0/cairn/users/current").status_code == 401
