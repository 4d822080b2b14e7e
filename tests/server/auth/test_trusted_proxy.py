"""Trusted-proxy mode and X-Forwarded-* (security corpus §6), against real servers.

The test client connects from 127.0.0.1. A server that trusts 127.0.0.1 plays the part of a
server behind OAuth2 Proxy: the user header and X-Forwarded-For are believed. A server that
trusts only 10.0.0.0/8 sees the same headers from an untrusted peer: they are ignored, the
request needs credentials of its own, and the audit log records the real peer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cairn.auth.audit import AuditEntry, AuditLog
from cairn.store.sql.engine import make_engine
from tests.server.auth.conftest import ADMIN, API, AUTH_ENV, users_of
from tests.server_process import ServerProcess, start_server

HEADER = "X-Auth-Request-User"
PROXY_ENV = {**AUTH_ENV, "CAIRN_AUTH_PROXY_HEADER": HEADER}
PASSWORD = "a long enough password"
FORWARDED = "203.0.113.7"


def start(workdir: Path, proxies: str, **env: str) -> ServerProcess:
    server = start_server(
        workdir, "--auth", env={**PROXY_ENV, "CAIRN_TRUSTED_PROXIES": proxies, **env}
    )
    users_of(server).create_user("alice", PASSWORD)
    return server


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start(tmp_path_factory.mktemp("behind-proxy"), "127.0.0.1, ::1")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start(tmp_path_factory.mktemp("proxy-elsewhere"), "10.0.0.0/8")
    yield server
    server.stop()


def audit(server: ServerProcess, action_suffix: str, resource: str) -> list[AuditEntry]:
    entries = AuditLog(make_engine(server.backend_uri)).entries(resource=resource)
    return [e for e in entries if e.action.endswith(action_suffix)]


def current_user(client: httpx.Client, **headers: str) -> httpx.Response:
    return client.get("/api/2.0/cairn/users/current", headers=headers)


# -- from a trusted proxy ----------------------------------------------------------------------
def test_the_proxy_header_authenticates_from_a_trusted_address(
    behind_proxy: ServerProcess,
) -> None:
    with httpx.Client(base_url=behind_proxy.url, timeout=30) as client:
        response = current_user(client, **{HEADER: "alice"})
        assert response.status_code == 200, response.text
        assert response.json()["user"] == {"username": "alice", "is_admin": False}
        # It wins over an Authorization header the proxy passes on (an ID token, say).
        response = current_user(client, **{HEADER: "alice", "Authorization": "Bearer id-token"})
        assert response.json()["user"]["username"] == "alice"
        # Without the header the request needs credentials as usual.
        assert current_user(client).status_code == 401
        with httpx.Client(base_url=behind_proxy.url, timeout=30, auth=ADMIN) as admin:
            assert current_user(admin).json()["user"]["username"] == ADMIN[0]


def test_an_unknown_user_is_refused_unless_creation_is_on(
    behind_proxy: ServerProcess, tmp_path: Path
) -> None:
    with httpx.Client(base_url=behind_proxy.url, timeout=30) as client:
        response = current_user(client, **{HEADER: "mallory"})
        assert response.status_code == 403
        assert "CAIRN_AUTH_PROXY_CREATE_USERS" in response.json()["message"]
    refused = audit(behind_proxy, "/users/current", "")
    assert any(e.username == "mallory" and e.status == 403 for e in refused)
    names = [u.username for u in users_of(behind_proxy).list_users()]
    assert "mallory" not in names

    creating = start(tmp_path, "127.0.0.1", CAIRN_AUTH_PROXY_CREATE_USERS="true")
    try:
        with httpx.Client(base_url=creating.url, timeout=30) as client:
            response = current_user(client, **{HEADER: "carol@example.com"})
            assert response.status_code == 200, response.text
            assert response.json()["user"] == {"username": "carol@example.com", "is_admin": False}
            assert current_user(client, **{HEADER: "carol@example.com"}).status_code == 200
            # A name that is not a valid user name is not created.
            assert current_user(client, **{HEADER: "<bad name>"}).status_code == 403
        user = users_of(creating).get_user("carol@example.com")
        assert not user.is_admin
    finally:
        creating.stop()


def test_forwarded_for_is_believed_from_a_trusted_proxy_on_both_paths(
    behind_proxy: ServerProcess,
) -> None:
    headers = {HEADER: "alice", "X-Forwarded-For": f"198.51.100.1, {FORWARDED}"}
    with httpx.Client(base_url=behind_proxy.url, timeout=30, headers=headers) as client:
        name = f"proxied-{uuid.uuid4().hex[:8]}"
        created = client.post(f"{API}/experiments/create", json={"name": name})
        assert created.status_code == 200, created.text
        experiment_id = created.json()["experiment_id"]
        run = client.post(f"{API}/runs/create", json={"experiment_id": experiment_id}).json()
        run_id = run["run"]["info"]["run_id"]
        # Small writes on a keep-alive connection: the fast path answers all but the first.
        for step in range(5):
            metric = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": step}
            assert client.post(f"{API}/runs/log-metric", json=metric).status_code == 200
        points = client.get(
            f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}
        ).json()["metrics"]
        assert len(points) == 5
    entries = audit(behind_proxy, "/runs/log-metric", f"run:{run_id}")
    assert len(entries) == 5
    # The last address that is not a trusted proxy: the one the proxy saw, not the client's claim.
    assert {(e.username, e.client, e.status) for e in entries} == {("alice", FORWARDED, 200)}
    created_entry = audit(behind_proxy, "/experiments/create", f"experiment:{name}")
    assert [(e.username, e.client) for e in created_entry] == [("alice", FORWARDED)]


# -- from anywhere else ------------------------------------------------------------------------
def test_the_proxy_header_is_ignored_from_an_untrusted_address(elsewhere: ServerProcess) -> None:
    with httpx.Client(base_url=elsewhere.url, timeout=30) as client:
        response = current_user(client, **{HEADER: ADMIN[0]})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Basic realm="cairn"'
        response = client.post(
            f"{API}/experiments/create", json={"name": "forged"}, headers={HEADER: ADMIN[0]}
        )
        assert response.status_code == 401
    with httpx.Client(base_url=elsewhere.url, timeout=30, auth=("alice", PASSWORD)) as alice:
        # Credentials of her own count; the header claiming the admin does not.
        response = current_user(alice, **{HEADER: ADMIN[0]})
        assert response.json()["user"] == {"username": "alice", "is_admin": False}
        assert alice.get("/api/2.0/cairn/users/list", headers={HEADER: ADMIN[0]}).status_code == 403


def test_forwarded_headers_are_ignored_from_an_untrusted_address(
    elsewhere: ServerProcess,
) -> None:
    headers = {"X-Forwarded-For": FORWARDED, "X-Forwarded-Proto": "https"}
    with httpx.Client(base_url=elsewhere.url, timeout=30, auth=ADMIN, headers=headers) as admin:
        experiment = admin.post(f"{API}/experiments/create", json={"name": f"e-{uuid.uuid4()}"})
        experiment_id = experiment.json()["experiment_id"]
        run = admin.post(f"{API}/runs/create", json={"experiment_id": experiment_id}).json()
        run_id = run["run"]["info"]["run_id"]
        for step in range(3):  # the fast path too
            metric = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": step}
            assert admin.post(f"{API}/runs/log-metric", json=metric).status_code == 200
    with httpx.Client(base_url=elsewhere.url, timeout=30, headers=headers) as anonymous:
        assert anonymous.get(f"{API}/runs/get", params={"run_id": run_id}).status_code == 401
    entries = audit(elsewhere, "/runs/log-metric", f"run:{run_id}")
    assert len(entries) == 3
    assert {e.client for e in entries} == {"127.0.0.1"}
    refused = audit(elsewhere, "/runs/get", f"run:{run_id}")
    assert [(e.status, e.client) for e in refused] == [(401, "127.0.0.1")]


def test_without_trusted_proxies_uvicorn_does_not_rewrite_the_address(
    auth_server: ServerProcess,
) -> None:
    """uvicorn by itself believes X-Forwarded-For from 127.0.0.1; Cairn turns that off."""
    name = f"e-{uuid.uuid4()}"
    with httpx.Client(base_url=auth_server.url, timeout=30, auth=ADMIN) as admin:
        created = admin.post(
            f"{API}/experiments/create", json={"name": name}, headers={"X-Forwarded-For": FORWARDED}
        )
        assert created.status_code == 200
    entries = audit(auth_server, "/experiments/create", f"experiment:{name}")
    assert [e.client for e in entries] == ["127.0.0.1"]


def test_a_proxy_header_without_trusted_proxies_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="--trusted-proxies"):
        start_server(tmp_path, "--auth", env=PROXY_ENV)
