"""The UI under `cairn server --auth` honours the API's experiment permissions: lists filtered
in the query, unreadable experiments and runs answered as missing on every page and data
endpoint, too-low writes refused (403) with nothing written, forms hidden from who may not
use them, and the permissions panel (add, change, remove; CSRF; audited) for managers."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
import pytest

from cairn.auth.audit import AuditLog
from cairn.store.sql.engine import make_engine
from tests.server.auth.conftest import ADMIN, AUTH_ENV, users_of
from tests.server_process import ServerProcess, start_server
from tests.ui.conftest import API, UiClient, metric_points, text_of

PASSWORD = "a long enough password"
USERS = ("manager", "editor", "reader", "stranger", "newcomer")
LEVELS = {"manager": "MANAGE", "editor": "EDIT", "reader": "READ", "stranger": "NO_PERMISSIONS"}
PERMS = f"{API}/experiments/permissions"


@pytest.fixture(scope="module")
def auth_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("ui-auth"), "--auth", env=AUTH_ENV)
    users = users_of(server)
    for user in USERS:
        users.create_user(user, PASSWORD)
    yield server
    server.stop()


def client_of(server: ServerProcess, user: str) -> UiClient:
    client = UiClient(server.url)
    client.http.auth = ADMIN if user == "admin" else (user, PASSWORD)
    return client


@pytest.fixture(scope="module")
def clients(auth_ui: ServerProcess) -> Iterator[dict[str, UiClient]]:
    found = {user: client_of(auth_ui, user) for user in ("admin", *USERS)}
    yield found
    for client in found.values():
        client.close()


@dataclass
class Shared:
    """An experiment made by the admin, on which each user has their level."""

    experiment_id: str
    name: str
    runs: list[str]


def grant(admin: UiClient, experiment_id: str, user: str, level: str) -> None:
    response = admin.http.post(
        f"{PERMS}/create",
        json={"experiment_id": experiment_id, "username": user, "permission": level},
    )
    assert response.status_code == 200, response.text


def level_of(admin: UiClient, experiment_id: str, user: str) -> str | None:
    found = admin.http.get(
        f"{PERMS}/get", params={"experiment_id": experiment_id, "username": user}
    )
    if found.status_code == 404:
        return None
    assert found.status_code == 200, found.text
    return str(found.json()["experiment_permission"]["permission"])


@pytest.fixture
def shared(clients: dict[str, UiClient]) -> Shared:
    admin = clients["admin"]
    eid, name = admin.experiment(f"secret project {uuid.uuid4().hex[:8]}")
    runs = [
        admin.run(eid, f"secret run {i}", 1_000 + i, metrics=metric_points("loss", 5))
        for i in range(2)
    ]
    admin.upload(runs[0], "notes.txt", b"classified")
    for user, level in LEVELS.items():
        grant(admin, eid, user, level)
    return Shared(eid, name, runs)


def run_tags(admin: UiClient, run_id: str) -> dict[str, str]:
    run = admin.http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def experiment_of(admin: UiClient, experiment_id: str) -> dict[str, Any]:
    found = admin.http.get(f"{API}/experiments/get", params={"experiment_id": experiment_id})
    return dict(found.json()["experiment"])


# -- reading -----------------------------------------------------------------------------------


def test_the_list_shows_only_readable_experiments(
    clients: dict[str, UiClient], shared: Shared
) -> None:
    link = f'href="/experiments/{shared.experiment_id}"'
    for user in ("admin", "manager", "editor", "reader", "newcomer"):  # newcomer: default READ
        page = clients[user].http.get("/", params={"q": shared.name})
        assert page.status_code == 200 and link in page.text, user
    hidden = clients["stranger"].http.get("/", params={"q": shared.name})
    assert hidden.status_code == 200
    assert link not in hidden.text and "No experiments" in text_of(hidden.text)
    everything = clients["stranger"].http.get("/", params={"view": "all"})
    assert link not in everything.text and shared.name not in everything.text


def test_hidden_experiments_take_no_place_on_a_page(clients: dict[str, UiClient]) -> None:
    """The filter is in the query: 100 newer unreadable experiments do not push the readable
    one off the first page (of 100)."""
    admin, tag = clients["admin"], uuid.uuid4().hex[:8]
    visible, _ = admin.experiment(f"paging {tag} visible")
    for i in range(100):
        eid, _ = admin.experiment(f"paging {tag} hidden {i}")
        grant(admin, eid, "stranger", "NO_PERMISSIONS")
    page = clients["stranger"].http.get("/", params={"q": f"paging {tag}"})
    assert page.status_code == 200
    assert f"/experiments/{visible}" in page.text
    assert f"{tag} hidden" not in page.text and "Next page" not in page.text
    assert (
        clients["reader"]
        .http.get("/", params={"q": f"paging {tag}"})
        .text.count(f"paging {tag} hidden")
        == 100
    )


def test_unreadable_pages_answer_as_missing(clients: dict[str, UiClient], shared: Shared) -> None:
    stranger, reader = clients["stranger"], clients["reader"]
    run = shared.runs[0]
    pages = [
        f"/experiments/{shared.experiment_id}",
        f"/experiments/{shared.experiment_id}?view=deleted",
        f"/experiments/{shared.experiment_id}/runs/delete?run={run}",
        f"/runs/{run}",
        f"/runs/{run}/metric-history?key=loss",
        f"/runs/{run}/artifacts",
        f"/runs/{run}/artifacts/preview?path=notes.txt",
        f"/runs/{run}/artifacts/file?path=notes.txt",
        f"/compare?runs={run},{shared.runs[1]}",
        f"/compare/metric-history?runs={run},{shared.runs[1]}&key=loss",
    ]
    for path in pages:
        answer = stranger.http.get(path)
        assert answer.status_code == 404, (path, answer.status_code)
        assert shared.name not in answer.text and "secret run" not in answer.text, path
        assert b"classified" not in answer.content, path
        assert reader.http.get(path).status_code != 404, path  # 200, or 403 to delete
    # The same answer as for a run that does not exist (only the id differs).
    ghost = "0" * len(run)
    missing = stranger.http.get(f"/runs/{ghost}")
    hidden = stranger.http.get(f"/runs/{run}")
    assert hidden.text.replace(run, ghost) == missing.text.replace(run, ghost)
    eid, none = shared.experiment_id, "987654321"
    hidden = stranger.http.get(f"/experiments/{eid}")
    missing = stranger.http.get(f"/experiments/{none}")
    assert hidden.text.replace(f"id={eid}", "") == missing.text.replace(f"id={none}", "")


def test_compare_refuses_a_run_the_caller_may_not_read(
    clients: dict[str, UiClient], shared: Shared
) -> None:
    """One unreadable run among readable ones: the comparison answers 404 naming only it."""
    reader = clients["reader"]
    own, _ = reader.experiment()  # the reader manages their own experiment
    mine = [
        reader.run(own, f"mine {i}", 1_000 + i, metrics=metric_points("loss", 3)) for i in range(2)
    ]
    assert reader.http.get(f"/compare?runs={mine[0]},{mine[1]}").status_code == 200
    stranger = clients["stranger"]
    grant(reader, own, "stranger", "READ")
    mixed = stranger.http.get(f"/compare?runs={mine[0]},{mine[1]},{shared.runs[0]}")
    assert mixed.status_code == 404
    assert shared.runs[0] in mixed.text and mine[0] not in text_of(mixed.text).split("No run")[1]
    assert shared.name not in mixed.text and "secret run" not in mixed.text
    data = stranger.http.get(
        "/compare/metric-history", params={"runs": f"{mine[0]},{shared.runs[0]}", "key": "loss"}
    )
    assert data.status_code == 404
    both = stranger.http.get(
        "/compare/metric-history", params={"runs": f"{mine[0]},{mine[1]}", "key": "loss"}
    )
    assert both.status_code == 200 and len(both.json()["runs"]) == 2


# -- writing -----------------------------------------------------------------------------------


def test_too_low_writes_are_refused_and_write_nothing(
    clients: dict[str, UiClient], shared: Shared
) -> None:
    eid, run = shared.experiment_id, shared.runs[0]
    reader, editor, stranger = clients["reader"], clients["editor"], clients["admin"]
    stranger = clients["stranger"]
    refused = [
        (reader, f"/experiments/{eid}/rename", {"name": "taken over"}, 403),
        (reader, f"/runs/{run}/tags", {"key": "k", "value": "v"}, 403),
        (reader, f"/runs/{run}/tags/delete", {"key": "mlflow.runName"}, 403),
        (reader, f"/runs/{run}/description", {"description": "defaced"}, 403),
        (editor, f"/experiments/{eid}/delete", {}, 403),
        (editor, f"/experiments/{eid}/restore", {}, 403),
        (editor, f"/experiments/{eid}/runs/delete", {"runs": run}, 403),
        (editor, f"/experiments/{eid}/runs/restore", {"run": run}, 403),
        (
            editor,
            f"/experiments/{eid}/permissions/create",
            {"username": "editor", "permission": "MANAGE"},
            403,
        ),
        (stranger, f"/experiments/{eid}/rename", {"name": "taken over"}, 404),
        (stranger, f"/runs/{run}/tags", {"key": "k", "value": "v"}, 404),
        (stranger, f"/experiments/{eid}/delete", {}, 404),
    ]
    for client, path, fields, status in refused:
        answer = client.post_form(path, fields)
        assert answer.status_code == status, (path, answer.status_code, answer.text[:300])
        assert shared.name not in answer.text or status == 403, path
    admin = clients["admin"]
    experiment = experiment_of(admin, eid)
    assert experiment["name"] == shared.name and experiment["lifecycle_stage"] == "active"
    tags = run_tags(admin, run)
    assert "k" not in tags and "mlflow.note.content" not in tags and "mlflow.runName" in tags
    got = admin.http.get(f"{API}/runs/get", params={"run_id": run}).json()["run"]
    assert got["info"]["lifecycle_stage"] == "active"
    assert level_of(admin, eid, "editor") == "EDIT"


def test_enough_level_writes(clients: dict[str, UiClient], shared: Shared) -> None:
    eid, run = shared.experiment_id, shared.runs[0]
    editor, manager, admin = clients["editor"], clients["manager"], clients["admin"]
    assert editor.post_form(f"/runs/{run}/tags", {"key": "k", "value": "v"}).status_code == 303
    assert run_tags(admin, run)["k"] == "v"
    renamed = f"{shared.name} renamed"
    assert editor.post_form(f"/experiments/{eid}/rename", {"name": renamed}).status_code == 303
    assert experiment_of(admin, eid)["name"] == renamed
    deleted = manager.post_form(f"/experiments/{eid}/runs/delete", {"runs": run})
    assert deleted.status_code == 303
    assert manager.post_form(f"/experiments/{eid}/runs/restore", {"run": run}).status_code == 303
    assert manager.post_form(f"/experiments/{eid}/delete", {}).status_code == 303
    assert experiment_of(admin, eid)["lifecycle_stage"] == "deleted"


def test_forms_show_only_to_who_may_use_them(clients: dict[str, UiClient], shared: Shared) -> None:
    eid, run = shared.experiment_id, shared.runs[0]
    reader = clients["reader"].http.get(f"/runs/{run}")
    assert reader.status_code == 200
    assert "Save description" not in reader.text and 'class="add-tag"' not in reader.text
    editor = clients["editor"].http.get(f"/runs/{run}")
    assert "Save description" in editor.text and 'class="add-tag"' in editor.text
    as_editor = clients["editor"].http.get(f"/experiments/{eid}")
    assert 'id="delete-button"' not in as_editor.text and 'id="permissions"' not in as_editor.text
    as_manager = clients["manager"].http.get(f"/experiments/{eid}")
    assert 'id="delete-button"' in as_manager.text and 'id="permissions"' in as_manager.text
    listing = clients["reader"].http.get("/", params={"q": shared.name})
    assert f"/experiments/{eid}/rename" not in listing.text
    assert f"/experiments/{eid}/delete" not in listing.text
    listing = clients["editor"].http.get("/", params={"q": shared.name})
    assert f"/experiments/{eid}/rename" in listing.text
    assert f"/experiments/{eid}/delete" not in listing.text
    assert 'id="permissions"' in clients["admin"].http.get(f"/experiments/{eid}").text


def test_creators_manage_what_they_create(clients: dict[str, UiClient]) -> None:
    newcomer, admin = clients["newcomer"], clients["admin"]
    name = f"newcomer's {uuid.uuid4().hex[:8]}"
    created = newcomer.post_form("/experiments/create", {"name": name})
    assert created.status_code == 303
    eid = created.headers["location"].rsplit("/", 1)[1]
    assert level_of(admin, eid, "newcomer") == "MANAGE"
    page = newcomer.http.get(f"/experiments/{eid}")
    assert 'id="permissions"' in page.text and "newcomer" in text_of(page.text)


# -- the permissions panel ---------------------------------------------------------------------


def test_the_panel_adds_changes_and_removes(
    auth_ui: ServerProcess, clients: dict[str, UiClient], shared: Shared
) -> None:
    eid = shared.experiment_id
    manager, admin = clients["manager"], clients["admin"]
    base = f"/experiments/{eid}/permissions"
    page = manager.http.get(f"/experiments/{eid}")
    assert 'data-user="reader"' in page.text and 'data-user="stranger"' in page.text

    no_token = manager.post_form(
        f"{base}/create", {"username": "newcomer", "permission": "EDIT"}, token=False
    )
    assert no_token.status_code == 403 and level_of(admin, eid, "newcomer") is None

    added = manager.post_form(f"{base}/create", {"username": "newcomer", "permission": "EDIT"})
    assert added.status_code == 303 and added.headers["location"].endswith("#permissions")
    assert level_of(admin, eid, "newcomer") == "EDIT"
    # The new level applies at once (this process's cache is cleared).
    assert (
        clients["newcomer"]
        .post_form(f"/runs/{shared.runs[0]}/tags", {"key": "a", "value": "b"})
        .status_code
        == 303
    )

    changed = manager.post_form(f"{base}/update", {"username": "newcomer", "permission": "READ"})
    assert changed.status_code == 303 and level_of(admin, eid, "newcomer") == "READ"
    assert (
        clients["newcomer"]
        .post_form(f"/runs/{shared.runs[0]}/tags", {"key": "a", "value": "c"})
        .status_code
        == 403
    )

    shut = manager.post_form(
        f"{base}/update", {"username": "reader", "permission": "NO_PERMISSIONS"}
    )
    assert shut.status_code == 303
    assert clients["reader"].http.get(f"/experiments/{eid}").status_code == 404

    removed = manager.post_form(f"{base}/delete", {"username": "newcomer"})
    assert removed.status_code == 303 and level_of(admin, eid, "newcomer") is None

    entries = list(AuditLog(make_engine(auth_ui.backend_uri)).entries(username="manager"))
    actions = [(e.action, e.resource, e.status) for e in entries]
    for action in ("create", "update", "delete"):
        assert (
            f"POST /experiments/{{experiment_id}}/permissions/{action}",
            f"experiment:{eid}",
            303,
        ) in actions
    assert (
        "POST /experiments/{experiment_id}/permissions/create",
        f"experiment:{eid}",
        403,
    ) in actions


def test_the_panel_shows_refusals(clients: dict[str, UiClient], shared: Shared) -> None:
    eid, manager = shared.experiment_id, clients["manager"]
    base = f"/experiments/{eid}/permissions"
    unknown = manager.post_form(f"{base}/create", {"username": "nobody-here", "permission": "READ"})
    assert unknown.status_code == 404
    assert "No user named 'nobody-here'" in html.unescape(unknown.text)
    assert 'id="permissions-error"' in unknown.text and 'value="nobody-here"' in unknown.text
    twice = manager.post_form(f"{base}/create", {"username": "reader", "permission": "EDIT"})
    assert twice.status_code == 400
    assert "already has a permission" in text_of(twice.text)
    bad = manager.post_form(f"{base}/update", {"username": "reader", "permission": "OWNER"})
    assert bad.status_code == 400 and "Invalid permission" in text_of(bad.text)
    assert level_of(clients["admin"], eid, "reader") == "READ"


def test_without_authentication_there_is_no_panel(ui: UiClient) -> None:
    eid, _ = ui.experiment()
    page = ui.http.get(f"/experiments/{eid}")
    assert page.status_code == 200 and 'id="permissions"' not in page.text
    refused = ui.post_form(
        f"/experiments/{eid}/permissions/create", {"username": "x", "permission": "READ"}
    )
    assert refused.status_code == 400
    assert "Authentication is not enabled" in text_of(refused.text)


def test_anonymous_callers_get_no_page(auth_ui: ServerProcess) -> None:
    with httpx.Client(base_url=auth_ui.url) as anonymous:
        assert anonymous.get("/").status_code == 401


def test_a_change_to_a_missing_experiment_is_missing_too(clients: dict[str, UiClient]) -> None:
    """Not 403: that would tell a missing experiment from a hidden one (404)."""
    reader = clients["reader"]
    assert reader.post_form("/experiments/987654/rename", {"name": "x"}).status_code == 404
    assert reader.post_form("/experiments/987654/delete", {}).status_code == 404


# -- registered models -------------------------------------------------------------------------

MODEL_PERMS = f"{API}/registered-models/permissions"


def model_level(admin: UiClient, name: str, user: str) -> str | None:
    found = admin.http.get(f"{MODEL_PERMS}/get", params={"name": name, "username": user})
    if found.status_code == 404:
        return None
    assert found.status_code == 200, found.text
    return str(found.json()["registered_model_permission"]["permission"])


@pytest.fixture
def model(clients: dict[str, UiClient]) -> str:
    """A registered model with one version, made by the admin; each user has their level."""
    admin = clients["admin"]
    eid, _ = admin.experiment()
    run = admin.run(eid, "trainer", 1_000)
    admin.upload(run, "model/MLmodel", b"flavors: {}\n")
    name = f"secret model {uuid.uuid4().hex[:8]}"
    admin.api("/registered-models/create", {"name": name, "description": "original"})
    admin.api("/model-versions/create", {"name": name, "source": f"runs:/{run}/model"})
    for user, level in LEVELS.items():
        granted = admin.http.post(
            f"{MODEL_PERMS}/create", json={"name": name, "username": user, "permission": level}
        )
        assert granted.status_code == 200, granted.text
    return name


def test_model_pages_honour_model_permissions(clients: dict[str, UiClient], model: str) -> None:
    path = f"/models/{quote(model, safe='')}"
    stranger, reader, editor, manager = (
        clients[u] for u in ("stranger", "reader", "editor", "manager")
    )
    for page in (path, f"{path}/versions/1", f"{path}/delete"):
        hidden = stranger.http.get(page)
        assert hidden.status_code == 404 and "secret model" not in text_of(hidden.text).replace(
            f"name={model}", ""
        ), page
    assert model not in stranger.http.get("/models", params={"q": "secret model"}).text
    assert model in reader.http.get("/models", params={"q": "secret model"}).text
    assert stranger.post_form(f"{path}/description", {"description": "x"}).status_code == 404

    as_reader = reader.http.get(path)
    assert as_reader.status_code == 200
    assert (
        'id="description-form"' not in as_reader.text and 'id="rename-form"' not in as_reader.text
    )
    version = reader.http.get(f"{path}/versions/1")
    assert version.status_code == 200 and 'id="stage-form"' not in version.text
    assert reader.post_form(f"{path}/description", {"description": "x"}).status_code == 403
    assert reader.post_form(f"{path}/versions/1/stage", {"stage": "Staging"}).status_code == 403

    assert editor.post_form(f"{path}/description", {"description": "edited"}).status_code == 303
    assert editor.post_form(f"{path}/rename", {"new_name": f"{model} x"}).status_code == 403
    assert editor.http.get(f"{path}/delete").status_code == 403
    assert editor.post_form(f"{path}/delete", {}).status_code == 403
    got = clients["admin"].http.get(f"{API}/registered-models/get", params={"name": model})
    assert got.json()["registered_model"]["description"] == "edited"
    assert 'id="permissions"' not in editor.http.get(path).text

    page = manager.http.get(path)
    assert 'id="permissions"' in page.text and 'id="rename-form"' in page.text
    added = manager.post_form(
        f"{path}/permissions/create", {"username": "newcomer", "permission": "EDIT"}
    )
    assert added.status_code == 303 and added.headers["location"] == f"{path}#permissions"
    assert model_level(clients["admin"], model, "newcomer") == "EDIT"
    assert (
        manager.post_form(f"{path}/permissions/delete", {"username": "newcomer"}).status_code == 303
    )
    assert model_level(clients["admin"], model, "newcomer") is None
    assert (
        reader.post_form(
            f"{path}/permissions/create", {"username": "newcomer", "permission": "EDIT"}
        ).status_code
        == 403
    )


def test_model_creators_manage_what_they_create(clients: dict[str, UiClient]) -> None:
    name = f"newcomer model {uuid.uuid4().hex[:8]}"
    created = clients["newcomer"].post_form("/models/create", {"name": name})
    assert created.status_code == 303
    assert model_level(clients["admin"], name, "newcomer") == "MANAGE"
    page = clients["newcomer"].http.get(created.headers["location"])
    assert 'id="permissions"' in page.text and 'data-user="newcomer"' in page.text


def test_the_models_list_leaves_out_unreadable_models_inside_its_query(
    clients: dict[str, UiClient],
) -> None:
    """Seven models, three readable by the stranger: pages of two are full, then one, then end."""
    admin, stranger = clients["admin"], clients["stranger"]
    prefix = f"paged {uuid.uuid4().hex[:8]}"
    names = [f"{prefix} {i}" for i in range(7)]
    for i, name in enumerate(names):
        admin.api("/registered-models/create", {"name": name})
        if i not in (1, 4, 6):
            hidden = {"name": name, "username": "stranger", "permission": "NO_PERMISSIONS"}
            assert admin.http.post(f"{MODEL_PERMS}/create", json=hidden).status_code == 200
    seen: list[list[str]] = []
    params: dict[str, str] = {"q": prefix, "size": "2"}
    while True:
        page = stranger.http.get("/models", params=params)
        assert page.status_code == 200
        seen.append([n for n in names if f">{n}<" in page.text])
        found = re.search(r'href="/models\?([^"]*page_token=[^"]*)" rel="next"', page.text)
        if found is None:
            break
        params = dict(parse_qsl(html.unescape(found.group(1))))
    assert seen == [[names[1], names[4]], [names[6]]]
