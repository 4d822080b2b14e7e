"""Creating, renaming and deleting registered models from the UI, against a real server: the
forms change what the REST API reads back, names are escaped and percent-encoded, refusals
show on the page, and nothing is written without the CSRF token."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from tests.ui.conftest import API, UiClient, text_of
from tests.ui.test_registry_pages import RAW, register

XSS_NAME = "made <script>alert(1)<img src=x> ü ?#&"


def model_status(ui: UiClient, name: str) -> int:
    return ui.http.get(API + "/registered-models/get", params={"name": name}).status_code


def test_create_a_model_from_the_list(ui: UiClient) -> None:
    name = f"{XSS_NAME} {uuid.uuid4().hex[:6]}"
    created = ui.post_form("/models/create", {"name": name, "description": "<b>first</b>"})
    assert created.status_code == 303
    assert created.headers["location"] == f"/models/{quote(name, safe='')}"
    got = ui.http.get(API + "/registered-models/get", params={"name": name}).json()
    assert got["registered_model"]["description"] == "<b>first</b>"
    page = ui.http.get(created.headers["location"])
    assert page.status_code == 200
    assert not RAW.search(page.text) and "<b>first" not in page.text
    assert "&lt;script&gt;alert(1)&lt;img src=x&gt;" in page.text


def test_a_refused_create_shows_the_message_and_keeps_the_input(ui: UiClient) -> None:
    name = f"dup {uuid.uuid4().hex[:6]}"
    assert ui.post_form("/models/create", {"name": name}).status_code == 303
    again = ui.post_form("/models/create", {"name": name, "description": "kept <i>"})
    assert again.status_code == 400
    assert "already exists" in text_of(again.text)
    assert 'value="kept &lt;i&gt;"' in again.text
    empty = ui.post_form("/models/create", {"name": "  "})
    assert empty.status_code == 400 and "Give the new model a name" in empty.text


def test_create_without_the_csrf_token_writes_nothing(ui: UiClient) -> None:
    name = f"no token {uuid.uuid4().hex[:6]}"
    refused = ui.post_form("/models/create", {"name": name}, token=False)
    assert refused.status_code == 403
    assert model_status(ui, name) == 404


def test_rename_a_model(ui: UiClient) -> None:
    model = register(ui, versions=1)
    new_name = f"renamed <script>alert(3)<img src=x> {uuid.uuid4().hex[:6]}"
    page = ui.http.get(model.path)
    assert 'id="rename-form"' in page.text and f"{model.path}/delete" in page.text
    renamed = ui.post_form(f"{model.path}/rename", {"new_name": new_name})
    assert renamed.status_code == 303
    assert renamed.headers["location"] == f"/models/{quote(new_name, safe='')}"
    assert model_status(ui, model.name) == 404
    assert model_status(ui, new_name) == 200
    shown = ui.http.get(renamed.headers["location"])
    assert shown.status_code == 200 and not RAW.search(shown.text)
    version = ui.http.get(API + "/model-versions/get", params={"name": new_name, "version": "1"})
    assert version.status_code == 200  # the versions follow their model


def test_a_refused_rename_shows_the_message(ui: UiClient) -> None:
    first = register(ui, versions=1)
    second = register(ui, versions=1)
    taken = ui.post_form(f"{first.path}/rename", {"new_name": second.name})
    assert taken.status_code == 400
    assert "already exists" in text_of(taken.text)
    assert model_status(ui, first.name) == 200
    missing = ui.post_form(f"/models/{uuid.uuid4().hex}/rename", {"new_name": "x y"})
    assert missing.status_code == 404


def test_delete_a_model_after_confirming(ui: UiClient) -> None:
    model = register(ui, versions=2)
    confirm = ui.http.get(f"{model.path}/delete")
    assert confirm.status_code == 200
    assert "all 2 of its versions" in text_of(confirm.text)
    assert 'id="delete-model-form"' in confirm.text and not RAW.search(confirm.text)
    assert model_status(ui, model.name) == 200  # the confirmation changes nothing
    refused = ui.post_form(f"{model.path}/delete", {}, token=False)
    assert refused.status_code == 403
    assert model_status(ui, model.name) == 200
    deleted = ui.post_form(f"{model.path}/delete", {})
    assert deleted.status_code == 303 and deleted.headers["location"] == "/models"
    assert model_status(ui, model.name) == 404
    assert ui.http.get(model.path).status_code == 404
    assert ui.post_form(f"{model.path}/delete", {}).status_code == 404
