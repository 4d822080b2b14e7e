"""`/` and its forms against a real server: list, search, create, rename, delete, restore."""

from __future__ import annotations

import uuid

from tests.ui.conftest import Logged, UiClient, text_of


def test_list_shows_run_counts_and_last_update(ui: UiClient, logged: Logged) -> None:
    page = ui.http.get("/", params={"q": logged.experiment_name[-8:]})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    row = text_of(page.text)
    assert f"{logged.experiment_id} 6 " in row  # id, then its six runs
    assert f'href="/experiments/{logged.experiment_id}"' in page.text


def test_search_by_name_is_literal_and_case_insensitive(ui: UiClient) -> None:
    tag = uuid.uuid4().hex[:8]
    ui.experiment(f"Search_{tag} 100%")
    ui.experiment(f"searchX{tag} 100")
    found = text_of(ui.http.get("/", params={"q": f"search_{tag} 100%"}).text)
    assert f"Search_{tag} 100%" in found and f"searchX{tag}" not in found
    assert "No experiments match" in text_of(ui.http.get("/", params={"q": f"zz{tag}"}).text)


def test_create_redirects_to_the_new_experiment(ui: UiClient) -> None:
    name = f"created-{uuid.uuid4().hex[:8]}"
    response = ui.post_form("/experiments/create", {"name": name})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/experiments/")
    assert name in ui.http.get(response.headers["location"]).text


def test_create_refusals_are_shown_on_the_list(ui: UiClient, logged: Logged) -> None:
    duplicate = ui.post_form("/experiments/create", {"name": logged.experiment_name})
    assert duplicate.status_code == 400
    assert 'id="experiments-error"' in duplicate.text and "already exists" in duplicate.text
    empty = ui.post_form("/experiments/create", {"name": "  "})
    assert empty.status_code == 400 and "Give the new experiment a name" in empty.text


def test_rename_then_back(ui: UiClient) -> None:
    eid, name = ui.experiment()
    response = ui.post_form(f"/experiments/{eid}/rename", {"name": name + "-new", "next": "/?q=x"})
    assert response.status_code == 303 and response.headers["location"] == "/?q=x"
    assert name + "-new" in ui.http.get(f"/experiments/{eid}").text
    _, other_name = ui.experiment()
    clash = ui.post_form(f"/experiments/{eid}/rename", {"name": other_name})
    assert clash.status_code == 400 and "already exists" in clash.text


def test_next_must_be_a_local_path(ui: UiClient) -> None:
    eid, name = ui.experiment()
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = ui.post_form(f"/experiments/{eid}/rename", {"name": name, "next": evil})
        assert response.headers["location"] == "/"


def test_delete_and_restore(ui: UiClient) -> None:
    eid, name = ui.experiment()
    assert ui.post_form(f"/experiments/{eid}/delete", {}).status_code == 303
    assert f'/experiments/{eid}"' not in ui.http.get("/", params={"q": name}).text
    deleted = ui.http.get("/", params={"q": name, "view": "deleted"}).text
    assert name in deleted and f"/experiments/{eid}/restore" in deleted
    assert ui.post_form(f"/experiments/{eid}/restore", {}).status_code == 303
    assert f"/experiments/{eid}/delete" in ui.http.get("/", params={"q": name}).text


def test_unknown_experiments_and_bad_parameters(ui: UiClient) -> None:
    for path in ("/experiments/987654/delete", "/experiments/nope/rename"):
        response = ui.post_form(path, {"name": "x"})
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
    bad_view = ui.http.get("/", params={"view": "archived"})
    assert bad_view.status_code == 400 and "Unknown view" in bad_view.text
    bad_token = ui.http.get("/", params={"page_token": "garbage"})
    assert bad_token.status_code == 400 and "page token" in bad_token.text


def test_the_api_keeps_its_json_404_for_unknown_paths(ui: UiClient) -> None:
    response = ui.http.get("/no/such/page")
    assert response.status_code == 404
    assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
