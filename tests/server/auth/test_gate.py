"""`cairn server --auth` as a client sees it: Basic and Bearer accepted, anything else 401
with nothing written, expired and revoked tokens refused, admins-only routes, the UI and
unknown paths behind the same gate, and every write and refusal in the audit log."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import update

from cairn.auth.audit import AuditLog
from cairn.store.sql.engine import make_engine
from cairn.store.sql.schema import api_tokens
from tests.conftest import database_uri
from tests.server.auth.conftest import ADMIN, API, AUTH_ENV, users_of
from tests.server_process import ServerProcess, start_server


def _name() -> str:
    return f"auth-{uuid.uuid4().hex[:12]}"


def _create_experiment(client: httpx.Client, name: str) -> httpx.Response:
    return client.post(f"{API}/experiments/create", json={"name": name})


def _exists(admin: httpx.Client, name: str) -> bool:
    found = admin.get(f"{API}/experiments/get-by-name", params={"experiment_name": name})
    return found.status_code == 200


def _assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Basic realm="cairn"'
    assert response.json()["error_code"] == "UNAUTHENTICATED"


def test_health_and_version_stay_public(anonymous: httpx.Client) -> None:
    assert anonymous.get("/health").status_code == 200
    assert anonymous.get("/version").status_code == 200


def test_every_other_route_needs_credentials(anonymous: httpx.Client) -> None:
    for method, path in [
        ("GET", f"{API}/experiments/search?max_results=1"),
        ("POST", f"{API}/runs/log-metric"),  # a fast-path endpoint without auth
        ("POST", f"{API}/runs/search"),
        ("GET", "/ajax-api/2.0/mlflow/experiments/get?experiment_id=0"),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts/0/x.txt"),
        ("GET", "/openapi.json"),
        ("GET", "/"),  # the web UI: the browser shows its login prompt
        ("GET", "/static/cairn.css"),
        ("GET", "/no/such/path"),  # unknown paths do not reveal that they are unknown
        ("GET", "/api/2.0/cairn/tokens/list"),
    ]:
        _assert_unauthenticated(anonymous.request(method, path))


def test_basic_credentials_are_accepted(admin: httpx.Client) -> None:
    name = _name()
    assert _create_experiment(admin, name).status_code == 200
    assert _exists(admin, name)
    me = admin.get("/api/2.0/cairn/users/current").json()["user"]
    assert me == {"username": ADMIN[0], "is_admin": True}
    assert admin.get("/").status_code == 200  # the UI with credentials


def test_missing_or_wrong_credentials_write_nothing(
    anonymous: httpx.Client, admin: httpx.Client, auth_server: ServerProcess
) -> None:
    name = _name()
    _assert_unauthenticated(_create_experiment(anonymous, name))
    for auth in [(ADMIN[0], "wrong password!!"), ("nobody", ADMIN[1])]:
        with httpx.Client(base_url=auth_server.url, auth=auth) as wrong:
            _assert_unauthenticated(_create_experiment(wrong, name))
    for header in ["Bearer cairn_not-a-token", "Basic !!!", "Digest x", "Bearer"]:
        answer = anonymous.post(
            f"{API}/experiments/create", json={"name": name}, headers={"Authorization": header}
        )
        _assert_unauthenticated(answer)
    upload = anonymous.put("/api/2.0/mlflow-artifacts/artifacts/1/evil.txt", content=b"x")
    _assert_unauthenticated(upload)
    assert not _exists(admin, name)
    assert not list(auth_server.artifacts_destination.rglob("evil.txt"))


def test_bearer_tokens_work_until_revoked(admin: httpx.Client, auth_server: ServerProcess) -> None:
    created = admin.post("/api/2.0/cairn/tokens/create", json={"name": "ci", "expires_in": "1d"})
    assert created.status_code == 200, created.text
    token = created.json()["token"]
    bearer = {"Authorization": f"Bearer {token['token']}"}
    with httpx.Client(base_url=auth_server.url, headers=bearer) as client:
        assert _create_experiment(client, _name()).status_code == 200
        listed = admin.get("/api/2.0/cairn/tokens/list").json()["tokens"]
        assert token["token_id"] in [t["token_id"] for t in listed]
        assert all("token" not in t for t in listed)  # secrets are shown once only
        revoked = admin.post("/api/2.0/cairn/tokens/revoke", json={"token_id": token["token_id"]})
        assert revoked.status_code == 200
        _assert_unauthenticated(_create_experiment(client, _name()))


def test_expired_and_cli_revoked_tokens_are_refused(
    anonymous: httpx.Client, auth_server: ServerProcess
) -> None:
    users = users_of(auth_server)
    expired = users.create_token(ADMIN[0], "old", "1d")
    revoked = users.create_token(ADMIN[0], "gone", "1d")
    engine = make_engine(auth_server.backend_uri)
    with engine.begin() as conn:
        conn.execute(
            update(api_tokens)
            .where(api_tokens.c.token_id == expired.token_id)
            .values(expiry_time=int(time.time() * 1000) - 1000)
        )
    users.revoke_token(revoked.token_id)
    for token in (expired, revoked):
        answer = anonymous.get(
            f"{API}/experiments/search",
            params={"max_results": 1},
            headers={"Authorization": f"Bearer {token.token}"},
        )
        _assert_unauthenticated(answer)


def test_admin_routes_refuse_other_users(admin: httpx.Client, auth_server: ServerProcess) -> None:
    name = f"user-{uuid.uuid4().hex[:8]}"
    users_of(auth_server).create_user(name, "a long enough password")
    with httpx.Client(base_url=auth_server.url, auth=(name, "a long enough password")) as user:
        denied = user.get("/api/2.0/cairn/users/list")
        assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
        assert _create_experiment(user, _name()).status_code == 200  # any user may create
    listed = admin.get("/api/2.0/cairn/users/list").json()["users"]
    assert name in [u["username"] for u in listed]


def test_writes_and_refusals_are_audited(
    admin: httpx.Client, anonymous: httpx.Client, auth_server: ServerProcess
) -> None:
    name = _name()
    experiment_id = _create_experiment(admin, name).json()["experiment_id"]
    run = admin.post(f"{API}/runs/create", json={"experiment_id": experiment_id}).json()
    run_id = run["run"]["info"]["run_id"]
    batch = {"run_id": run_id, "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": 0}]}
    assert admin.post(f"{API}/runs/log-batch", json=batch).status_code == 200
    admin.post(f"{API}/runs/search", json={"experiment_ids": [experiment_id]})
    anonymous.get(f"{API}/runs/get", params={"run_id": run_id})
    audit = AuditLog(make_engine(auth_server.backend_uri))
    entries = list(audit.entries(resource=f"run:{run_id}"))
    assert [(e.username, e.action, e.status) for e in entries] == [
        (ADMIN[0], "POST /api/2.0/mlflow/runs/log-batch", 200),
        ("", "GET /api/2.0/mlflow/runs/get", 401),
    ]
    assert entries[0].client == "127.0.0.1"
    created = list(audit.entries(resource=f"experiment:{name}"))
    assert [e.action for e in created] == ["POST /api/2.0/mlflow/experiments/create"]
    searches = [e for e in audit.entries(username=ADMIN[0]) if "search" in e.action]
    assert searches == []  # reads are not recorded, even as POSTs
    assert audit.verify().ok


def test_a_server_on_postgresql_authenticates_and_audits(tmp_path: Path) -> None:
    # On PostgreSQL and MySQL the gate's verification and audit writes run in threads.
    backend = database_uri("postgresql", tmp_path)
    server = start_server(tmp_path, "--auth", backend_uri=backend, env=AUTH_ENV)
    try:
        with httpx.Client(base_url=server.url, auth=ADMIN) as admin:
            name = _name()
            assert _create_experiment(admin, name).status_code == 200
        _assert_unauthenticated(httpx.get(f"{server.url}{API}/experiments/search"))
        audit = AuditLog(make_engine(backend))
        assert [e.status for e in audit.entries()] == [200, 401]
        assert audit.verify().ok
    finally:
        server.stop()


def test_several_workers_share_users_and_one_audit_chain(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--auth", "--workers", "2", env=AUTH_ENV)
    try:
        with httpx.Client(base_url=server.url, auth=ADMIN) as admin:
            for _ in range(6):  # new connections: spread over both workers
                with httpx.Client(base_url=server.url, auth=ADMIN) as fresh:
                    assert _create_experiment(fresh, _name()).status_code == 200
            assert admin.get("/api/2.0/cairn/users/current").status_code == 200
        report = AuditLog(make_engine(server.backend_uri)).verify()
        assert report.ok and report.checked == 6
    finally:
        server.stop()


def test_the_fast_path_answers_only_cached_credentials_and_audits(
    admin: httpx.Client, auth_server: ServerProcess
) -> None:
    from tests.server.test_fast_path import Connection

    experiment_id = _create_experiment(admin, _name()).json()["experiment_id"]
    run_id = admin.post(f"{API}/runs/create", json={"experiment_id": experiment_id}).json()["run"][
        "info"
    ]["run_id"]
    body = json.dumps({"run_id": run_id, "key": "m", "value": 1, "timestamp": 1, "step": 0})
    basic = "Basic " + base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
    wrong = "Basic " + base64.b64encode(f"{ADMIN[0]}:not the password".encode()).decode()

    def log_metric(conn: Connection, authorization: str | None) -> int:
        head = f"POST {API}/runs/log-metric HTTP/1.1\r\nHost: x\r\n"
        head += "Content-Type: application/json\r\n"
        if authorization:
            head += f"Authorization: {authorization}\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        conn.send(head.encode() + body.encode())
        return conn.answer().status

    first_id = max(e.id for e in AuditLog(make_engine(auth_server.backend_uri)).entries())
    conn = Connection(auth_server.url)
    # The admin's header is cached by now: these are answered by the fast path.
    assert [log_metric(conn, basic) for _ in range(3)] == [200, 200, 200]
    assert log_metric(conn, None) == 401
    assert log_metric(conn, wrong) == 401
    assert log_metric(conn, basic) == 200
    audit = AuditLog(make_engine(auth_server.backend_uri))
    entries = [e for e in audit.entries() if e.id > first_id]
    assert [(e.username, e.resource, e.status) for e in entries] == [
        (ADMIN[0], f"run:{run_id}", 200),
        (ADMIN[0], f"run:{run_id}", 200),
        (ADMIN[0], f"run:{run_id}", 200),
        ("", "", 401),  # refused before the body is read: no resource
        (ADMIN[0], "", 401),  # the name a wrong Basic header claimed
        (ADMIN[0], f"run:{run_id}", 200),
    ]
    assert all(e.action == f"POST {API}/runs/log-metric" for e in entries)
    assert audit.verify().ok
