"""Every route of the app has an explicit policy: enumerated from the app's own router, so a
route added without one fails here (and is refused to everyone at run time)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.routing import Route

from cairn.server.app import ExactRoutes, create_app
from cairn.server.auth.policy import (
    API_POLICIES,
    DENY,
    PUBLIC,
    Access,
    Policy,
    policy_for,
)
from cairn.server.config import ServerConfig


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("policy")
    config = ServerConfig(
        backend_store_uri=f"sqlite:///{root / 'db.sqlite'}",
        artifacts_destination=str(root / "artifacts"),
        auth=True,
    )
    return create_app(config)


def _route_methods(app) -> list[tuple[Route, str]]:  # type: ignore[no-untyped-def]
    found = []
    for route in app.router.routes:
        assert isinstance(route, Route), f"{route!r} is not a plain Route"
        for method in sorted(route.methods or {"GET"}):
            found.append((route, method))
    return found


def test_every_route_and_method_has_a_declared_policy(app) -> None:  # type: ignore[no-untyped-def]
    missing = [
        f"{method} {route.path}"
        for route, method in _route_methods(app)
        if policy_for(route, method) is DENY
    ]
    assert not missing, f"routes without a policy (declare them in policy.py): {missing}"


def test_only_health_and_version_are_public(app) -> None:  # type: ignore[no-untyped-def]
    public = {
        route.path for route, method in _route_methods(app) if policy_for(route, method) is PUBLIC
    }
    assert public == {"/health", "/version"}


def test_ui_and_artifact_routes_need_authentication(app) -> None:  # type: ignore[no-untyped-def]
    kinds = {route.path: policy_for(route, method).access for route, method in _route_methods(app)}
    assert kinds["/"] is Access.AUTHENTICATED
    assert kinds["/static/{path:path}"] is Access.AUTHENTICATED
    assert kinds["/api/2.0/mlflow-artifacts/artifacts/{path:path}"] is Access.AUTHENTICATED
    assert kinds["/openapi.json"] is Access.AUTHENTICATED
    assert kinds["/api/2.0/cairn/users/list"] is Access.ADMIN


def test_no_declared_policy_is_stale(app) -> None:  # type: ignore[no-untyped-def]
    # A policy for an endpoint that no longer exists hides nothing but misleads readers.
    declared = {f"{m} {r.path}" for r, m in _route_methods(app)}
    for key in API_POLICIES:
        method, path = key.split(" ", 1)
        assert any(d.endswith(path) and d.startswith(method) for d in declared), key


def test_an_undeclared_route_is_denied() -> None:
    async def endpoint(request):  # type: ignore[no-untyped-def]
        raise AssertionError

    assert policy_for(Route("/api/2.0/mlflow/new-thing", endpoint), "POST") is DENY
    assert policy_for(Route("/elsewhere", endpoint), "GET") is DENY


def test_writes_are_declared_for_the_audit(app) -> None:  # type: ignore[no-untyped-def]
    def policy(key: str) -> Policy:
        return API_POLICIES[key]

    assert policy("POST /mlflow/runs/log-batch").writes
    assert not policy("POST /mlflow/runs/search").writes  # a read, though a POST
    assert policy("POST /mlflow/runs/search").filtered


def test_with_auth_on_the_gate_is_outermost_and_guards_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cairn.server.app import app_from_env
    from cairn.server.auth.gate import AuthGate, SecuredAnswer
    from cairn.server.config import CONFIG_ENV
    from cairn.server.runner import _inline_table

    config = ServerConfig(
        backend_store_uri=f"sqlite:///{tmp_path / 'db.sqlite'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        auth=True,
    )
    monkeypatch.setenv(CONFIG_ENV, config.to_env())
    monkeypatch.setattr("gc.freeze", lambda: None)
    from cairn.server.headers import HeaderGuard

    guard = app_from_env()
    assert isinstance(guard, HeaderGuard)  # host/origin/proxy checks come first
    served = guard.app
    assert isinstance(served, AuthGate)
    assert isinstance(served.app, ExactRoutes) and served.app.exact
    # The fast path answers only through the gate: every entry checks credentials first.
    inline = _inline_table(served)
    assert inline and inline.keys() <= served.app.inline.keys()
    assert all(isinstance(answer, SecuredAnswer) for answer, _ in inline.values())
    assert (b"POST", b"/api/2.0/mlflow/runs/log-metric") in inline
