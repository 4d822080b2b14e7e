"""Experiment permissions through the gate (in-process): the permission matrix of the tracking
routes for admin, manager, editor, reader, stranger and anonymous; searches filtered in SQL
with full pages; names not leaked; creators manage; the fast path checks the same."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cairn.auth.permissions import Permission, PermissionStore
from cairn.server.app import ExactRoutes, create_app
from cairn.server.auth.gate import AuthGate, secure
from cairn.server.config import ServerConfig

with warnings.catch_warnings():  # Starlette suggests `httpx2`; httpx is what this repo has
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

API = "/api/2.0/mlflow"
PASSWORD = "a long enough password"
USERS = ("admin", "manager", "editor", "reader", "stranger")
LEVELS = {
    "manager": Permission.MANAGE,
    "editor": Permission.EDIT,
    "reader": Permission.READ,
    "stranger": Permission.NO_PERMISSIONS,
}


@dataclass
class Server:
    client: TestClient
    gate: AuthGate
    permissions: PermissionStore

    def call(self, user: str | None, method: str, path: str, **kwargs: Any) -> Any:
        auth = (user, PASSWORD) if user else None
        return self.client.request(method, path, auth=auth, **kwargs)

    def as_admin(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.call("admin", method, path, **kwargs)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def experiment(self) -> str:
        """A new experiment (created by the admin) on which each user has their level."""
        name = f"perm-{uuid.uuid4().hex[:10]}"
        eid = self.as_admin("POST", f"{API}/experiments/create", json={"name": name})
        eid = eid["experiment_id"]
        for user, level in LEVELS.items():
            self.permissions.grant(int(eid), user, level)
        return str(eid)

    def run(self, experiment_id: str) -> str:
        found = self.as_admin("POST", f"{API}/runs/create", json={"experiment_id": experiment_id})
        return str(found["run"]["info"]["run_id"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("permissions")
    config = ServerConfig(
        backend_store_uri=f"sqlite:///{tmp / 'db.sqlite'}",
        artifacts_destination=str(tmp / "artifacts"),
        auth=True,
    )
    app = create_app(config)
    security = app.state.security
    for user in USERS:
        security.users.create_user(user, PASSWORD, is_admin=user == "admin")
    gate = secure(ExactRoutes(app), app)
    with TestClient(gate) as client:
        yield Server(client, gate, security.guard.store)


# (route, needed level, request) where request(server, experiment_id, run_id) -> (method,
# path, keyword arguments).
Request = Callable[[str, str], tuple[str, str, dict[str, Any]]]


def _post(path: str, body: Callable[[str, str], dict[str, Any]]) -> Request:
    return lambda e, r: ("POST", f"{API}{path}", {"json": body(e, r)})


def _get(path: str, params: Callable[[str, str], dict[str, Any]]) -> Request:
    return lambda e, r: ("GET", f"{API}{path}", {"params": params(e, r)})


ROUTES: list[tuple[str, str, Request]] = [
    ("experiments/get", "READ", _get("/experiments/get", lambda e, r: {"experiment_id": e})),
    (
        "experiments/update",
        "EDIT",
        _post("/experiments/update", lambda e, r: {"experiment_id": e, "new_name": f"n-{r}"}),
    ),
    (
        "experiments/set-experiment-tag",
        "EDIT",
        _post(
            "/experiments/set-experiment-tag",
            lambda e, r: {"experiment_id": e, "key": "k", "value": "v"},
        ),
    ),
    (
        "experiments/delete",
        "MANAGE",
        _post("/experiments/delete", lambda e, r: {"experiment_id": e}),
    ),
    ("runs/create", "EDIT", _post("/runs/create", lambda e, r: {"experiment_id": e})),
    ("runs/get", "READ", _get("/runs/get", lambda e, r: {"run_id": r})),
    (
        "runs/update",
        "EDIT",
        _post("/runs/update", lambda e, r: {"run_id": r, "status": "FINISHED"}),
    ),
    (
        "runs/log-metric",
        "EDIT",
        _post(
            "/runs/log-metric", lambda e, r: {"run_id": r, "key": "m", "value": 1, "timestamp": 1}
        ),
    ),
    (
        "runs/log-parameter",
        "EDIT",
        _post("/runs/log-parameter", lambda e, r: {"run_id": r, "key": "p", "value": "1"}),
    ),
    (
        "runs/log-batch",
        "EDIT",
        _post(
            "/runs/log-batch",
            lambda e, r: {"run_id": r, "metrics": [{"key": "m", "value": 2, "timestamp": 2}]},
        ),
    ),
    (
        "runs/set-tag",
        "EDIT",
        _post("/runs/set-tag", lambda e, r: {"run_id": r, "key": "t", "value": "v"}),
    ),
    (
        "runs/log-inputs",
        "EDIT",
        _post("/runs/log-inputs", lambda e, r: {"run_id": r, "datasets": []}),
    ),
    ("runs/delete", "MANAGE", _post("/runs/delete", lambda e, r: {"run_id": r})),
    ("runs/restore", "MANAGE", _post("/runs/restore", lambda e, r: {"run_id": r})),
    (
        "metrics/get-history",
        "READ",
        _get("/metrics/get-history", lambda e, r: {"run_id": r, "metric_key": "m"}),
    ),
    ("artifacts/list", "READ", _get("/artifacts/list", lambda e, r: {"run_id": r})),
    (
        "mlflow-artifacts read",
        "READ",
        lambda e, r: ("GET", f"/api/2.0/mlflow-artifacts/artifacts/{e}/{r}/artifacts/x.txt", {}),
    ),
    (
        "mlflow-artifacts write",
        "EDIT",
        lambda e, r: (
            "PUT",
            f"/api/2.0/mlflow-artifacts/artifacts/{e}/{r}/artifacts/x.txt",
            {"content": b"x"},
        ),
    ),
]


def _expected(user: str | None, needed: str) -> int:
    if user is None:
        return 401
    if user == "admin":
        return 200
    return 200 if LEVELS[user].allows(needed) else 403


@pytest.mark.parametrize("user", [*USERS, None])
def test_permission_matrix(server: Server, user: str | None) -> None:
    failures = []
    for name, needed, request in ROUTES:
        experiment_id = server.experiment()
        run_id = server.run(experiment_id)
        if name == "mlflow-artifacts read":  # something to read
            put = f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts/x.txt"
            assert server.call("admin", "PUT", put, content=b"x").status_code == 200
        method, path, kwargs = request(experiment_id, run_id)
        answer = server.call(user, method, path, **kwargs)
        expected = _expected(user, needed)
        if answer.status_code != expected:
            failures.append(f"{name}: {answer.status_code} != {expected} ({answer.text[:120]})")
        elif expected == 403:
            assert answer.json()["error_code"] == "PERMISSION_DENIED"
    assert not failures, "\n".join(failures)


def test_get_by_name_of_an_unreadable_experiment_is_not_found(server: Server) -> None:
    experiment_id = server.experiment()
    name = server.as_admin("GET", f"{API}/experiments/get", params={"experiment_id": experiment_id})
    name = name["experiment"]["name"]
    params = {"experiment_name": name}
    assert server.call("reader", "GET", f"{API}/experiments/get-by-name", params=params).is_success
    hidden = server.call("stranger", "GET", f"{API}/experiments/get-by-name", params=params)
    missing = server.call(
        "stranger", "GET", f"{API}/experiments/get-by-name", params={"experiment_name": "nope"}
    )
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error_code"] == missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_creators_manage_what_they_create(server: Server) -> None:
    name = f"mine-{uuid.uuid4().hex[:8]}"
    created = server.call("stranger", "POST", f"{API}/experiments/create", json={"name": name})
    assert created.status_code == 200, created.text
    experiment_id = created.json()["experiment_id"]
    assert server.permissions.level("stranger", int(experiment_id)) is Permission.MANAGE
    deleted = server.call(
        "stranger", "POST", f"{API}/experiments/delete", json={"experiment_id": experiment_id}
    )
    assert deleted.status_code == 200, deleted.text


def test_searches_filter_in_the_query_with_full_pages(server: Server) -> None:
    prefix = f"page-{uuid.uuid4().hex[:8]}"
    visible, hidden, runs = [], [], []
    for i in range(12):
        name = f"{prefix}-{i:02d}"
        eid = server.as_admin("POST", f"{API}/experiments/create", json={"name": name})
        eid = eid["experiment_id"]
        runs.append((eid, server.run(eid)))
        if i % 3 == 1:  # every third experiment is closed to the stranger
            server.permissions.grant(int(eid), "stranger", Permission.NO_PERMISSIONS)
            hidden.append(name)
        else:
            visible.append(name)

    seen: list[str] = []
    token = None
    sizes = []
    while True:
        body: dict[str, Any] = {"max_results": 3, "filter": f"name LIKE '{prefix}-%'"}
        body["order_by"] = ["name ASC"]
        if token:
            body["page_token"] = token
        page = server.call("stranger", "POST", f"{API}/experiments/search", json=body).json()
        names = [e["name"] for e in page.get("experiments", [])]
        sizes.append(len(names))
        seen.extend(names)
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == visible  # no gaps, no duplicates, nothing hidden
    assert sizes[:-1] == [3] * (len(sizes) - 1) and sizes[-1] > 0
    assert not set(hidden) & set(seen)

    every = [eid for eid, _ in runs]
    found = server.call(
        "stranger",
        "POST",
        f"{API}/runs/search",
        json={"experiment_ids": every, "max_results": 2},
    )
    run_ids = set()
    body = {"experiment_ids": every, "max_results": 2}
    while True:
        page = found.json()
        assert len(page.get("runs", [])) == 2 or not page.get("next_page_token")
        run_ids |= {r["info"]["run_id"] for r in page.get("runs", [])}
        if not page.get("next_page_token"):
            break
        found = server.call(
            "stranger",
            "POST",
            f"{API}/runs/search",
            json={**body, "page_token": page["next_page_token"]},
        )
    readable = {r for (eid, r), i in zip(runs, range(12), strict=True) if i % 3 != 1}
    assert run_ids == readable
    admin_runs = server.as_admin("POST", f"{API}/runs/search", json={"experiment_ids": every})
    assert len(admin_runs["runs"]) == 12


def test_the_fast_path_checks_permissions_too(server: Server) -> None:
    """`SecuredAnswer` (what the server answers from the HTTP parser) runs the same check."""
    experiment_id = server.experiment()
    run_id = server.run(experiment_id)
    entry = server.gate.inline.get((b"POST", b"/api/2.0/mlflow/runs/log-batch"))
    if entry is None:
        pytest.skip("log-batch is not answered on the fast path here")
    answer, _limit = entry
    body = b'{"run_id": "' + run_id.encode() + b'", "params": [{"key": "a", "value": "1"}]}'
    from cairn.auth.users import Identity

    for user, expected in (("reader", 403), ("stranger", 403), ("editor", 200)):
        status, _ = answer("POST", b"", body, "application/json", Identity(user, False), "t")
        assert status == expected, user


PERMS = f"{API}/experiments/permissions"


def test_managing_permissions_over_rest_needs_manage(server: Server) -> None:
    experiment_id = server.experiment()
    body = {"experiment_id": experiment_id, "username": "stranger", "permission": "READ"}
    for user in ("editor", "reader", "stranger"):
        refused = server.call(user, "PATCH", f"{PERMS}/update", json=body)
        assert refused.status_code == 403, (user, refused.text)
    assert server.call(None, "PATCH", f"{PERMS}/update", json=body).status_code == 401

    updated = server.call("manager", "PATCH", f"{PERMS}/update", json=body)
    assert updated.status_code == 200, updated.text
    params = {"experiment_id": experiment_id, "username": "stranger"}
    got = server.call("manager", "GET", f"{PERMS}/get", params=params).json()
    assert got["experiment_permission"]["permission"] == "READ"
    assert got["experiment_permission"]["experiment_id"] == experiment_id
    assert server.call("stranger", "GET", f"{API}/experiments/get", params=params).is_success

    duplicate = server.call("manager", "POST", f"{PERMS}/create", json=body)
    assert duplicate.status_code == 400 or duplicate.status_code == 409
    assert duplicate.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"

    deleted = server.call("admin", "DELETE", f"{PERMS}/delete", json=params)
    assert deleted.status_code == 200, deleted.text
    missing = server.call("manager", "GET", f"{PERMS}/get", params=params)
    assert missing.status_code == 404
    created = server.call(
        "manager", "POST", f"{PERMS}/create", json={**params, "permission": "NO_PERMISSIONS"}
    )
    assert created.status_code == 200, created.text
    assert created.json()["experiment_permission"]["permission"] == "NO_PERMISSIONS"
    hidden = server.call("stranger", "GET", f"{API}/experiments/get", params=params)
    assert hidden.status_code == 403

    bad = server.call("manager", "PATCH", f"{PERMS}/update", json={**params, "permission": "ALL"})
    assert bad.status_code == 400


def test_every_experiment_scoped_route_consults_the_authorizer(server: Server) -> None:
    """A route needing a level on an experiment, run, logged model or registered model must
    be a JSON handler or a permission route (both call the gate's authorizer): a new kind of
    endpoint would otherwise pass unchecked."""
    from starlette.routing import Route

    from cairn.server.app import ANSWERS_ERRORS
    from cairn.server.auth.permissions import CHECKED
    from cairn.server.auth.policy import policy_for

    app = server.gate.app.app  # type: ignore[attr-defined]
    unchecked = []
    for route in app.router.routes:
        if not isinstance(route, Route):
            continue
        for method in route.methods or ():
            policy = policy_for(route, method)
            if policy.resource not in CHECKED:
                continue
            module = route.endpoint.__module__
            if not getattr(route.endpoint, ANSWERS_ERRORS, False) and module != (
                "cairn.server.auth.routes"
            ):
                unchecked.append(f"{method} {route.path}")
    assert not unchecked


def test_artifact_paths_are_judged_after_normalisation(server: Server) -> None:
    mine = server.experiment()  # the stranger has NO_PERMISSIONS on it...
    server.permissions.grant(int(mine), "stranger", Permission.EDIT)  # ...now EDIT
    closed = server.experiment()
    run_id = server.run(closed)
    target = f"{closed}/{run_id}/artifacts/secret.txt"
    put = f"/api/2.0/mlflow-artifacts/artifacts/{target}"
    assert server.call("admin", "PUT", put, content=b"s").status_code == 200
    for sneaky in (f"{mine}/../{target}", f"{mine}/%2e%2e/{target}", f"./{target}"):
        answer = server.call("stranger", "GET", f"/api/2.0/mlflow-artifacts/artifacts/{sneaky}")
        assert answer.status_code in (400, 403, 404), (sneaky, answer.status_code)
        assert answer.content != b"s"


def test_a_closed_server_shows_users_only_what_they_are_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CAIRN_AUTH_DEFAULT_PERMISSION=NO_PERMISSIONS: nothing is readable without a row."""
    monkeypatch.setenv("CAIRN_AUTH_DEFAULT_PERMISSION", "NO_PERMISSIONS")
    config = ServerConfig(
        backend_store_uri=f"sqlite:///{tmp_path / 'db.sqlite'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        auth=True,
    )
    app = create_app(config)
    security = app.state.security
    security.users.create_user("root", PASSWORD, is_admin=True)
    security.users.create_user("ada", PASSWORD)
    with TestClient(secure(ExactRoutes(app), app)) as client:
        root, ada = ("root", PASSWORD), ("ada", PASSWORD)
        ids = [
            client.post(f"{API}/experiments/create", json={"name": f"c{i}"}, auth=root).json()[
                "experiment_id"
            ]
            for i in range(3)
        ]
        security.guard.store.grant(int(ids[1]), "ada", Permission.READ)
        search = {"max_results": 10}
        found = client.post(f"{API}/experiments/search", json=search, auth=ada).json()
        assert [e["experiment_id"] for e in found["experiments"]] == [ids[1]]
        refused = client.get(f"{API}/experiments/get", params={"experiment_id": ids[0]}, auth=ada)
        assert refused.status_code == 403
        own = client.post(f"{API}/experiments/create", json={"name": "ada's"}, auth=ada)
        run = client.post(
            f"{API}/runs/create", json={"experiment_id": own.json()["experiment_id"]}, auth=ada
        )
        assert run.status_code == 200, run.text
