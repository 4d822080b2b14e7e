"""The registry pages' editing forms against a real server: transition requests (request,
approve, reject), descriptions and tags of models and versions, and paging."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.ui.conftest import API, UiClient, text_of
from tests.ui.test_registry_pages import RAW, Registered, register

GOVERNANCE = "/api/2.0/cairn/registry"
XSS = "<script>alert(9)</script>"


def require_approval(ui: UiClient, model: Registered) -> None:
    policy = {"stages": {"Production": [{"kind": "requires_approval"}]}}
    response = ui.http.post(
        f"{GOVERNANCE}/policy", json={"name": model.name, "policy": json.dumps(policy)}
    )
    assert response.status_code == 200, response.text


def requests_of(ui: UiClient, model: Registered, status: str = "ALL") -> list[dict[str, Any]]:
    response = ui.http.get(
        f"{GOVERNANCE}/transition-requests/list", params={"name": model.name, "status": status}
    )
    assert response.status_code == 200, response.text
    return list(response.json().get("transition_requests", []))


def version_of(ui: UiClient, model: Registered, version: str = "1") -> dict[str, Any]:
    got = ui.http.get(API + "/model-versions/get", params={"name": model.name, "version": version})
    assert got.status_code == 200, got.text
    return dict(got.json()["model_version"])


def model_of(ui: UiClient, model: Registered) -> dict[str, Any]:
    got = ui.http.get(API + "/registered-models/get", params={"name": model.name})
    return dict(got.json()["registered_model"])


def test_request_and_approve_a_transition(ui: UiClient) -> None:
    model = register(ui, versions=2)
    require_approval(ui, model)
    page = f"{model.path}/versions/1"
    direct = ui.post_form(f"{page}/stage", {"stage": "Production"})
    assert direct.status_code == 403 and 'id="action-error"' in direct.text
    asked = ui.post_form(f"{page}/requests", {"stage": "Production", "comment": XSS})
    assert asked.status_code == 303 and asked.headers["location"] == page
    html = ui.http.get(page).text
    assert not RAW.search(html) and "&lt;script&gt;alert(9)&lt;/script&gt;" in html
    (pending,) = requests_of(ui, model, "PENDING")
    rid = pending["id"]
    assert f'data-request="{rid}"' in html and f"{page}/requests/{rid}/approve" in html
    again = ui.post_form(f"{page}/requests", {"stage": "Production"})
    assert again.status_code == 400 and "already pending" in again.text
    # a request decided only under its own version; unknown ids and versions are 404 pages
    assert ui.post_form(f"{model.path}/versions/2/requests/{rid}/approve", {}).status_code == 404
    assert ui.post_form(f"{page}/requests/999999/approve", {}).status_code == 404
    assert ui.post_form(f"{page}/requests/x/approve", {}).status_code == 404
    assert (
        ui.post_form(f"{model.path}/versions/9/requests", {"stage": "Production"}).status_code
        == 404
    )
    done = ui.post_form(f"{page}/requests/{rid}/approve", {"comment": "ok <b>ship</b>"})
    assert done.status_code == 303
    assert version_of(ui, model)["current_stage"] == "Production"
    text = text_of(ui.http.get(page).text)
    assert "APPROVE_TRANSITION" in text and "ok &lt;b&gt;ship&lt;/b&gt;" in text
    assert "No pending requests." in text
    late = ui.post_form(f"{page}/requests/{rid}/reject", {})
    assert late.status_code == 400 and "already approved" in late.text


def test_reject_a_request_and_refusals(ui: UiClient) -> None:
    model = register(ui, versions=1)
    require_approval(ui, model)
    page = f"{model.path}/versions/1"
    needless = ui.post_form(f"{page}/requests", {"stage": "Staging"})
    assert needless.status_code == 400 and "requires no approval" in needless.text
    bad = ui.post_form(f"{page}/requests", {"stage": XSS})
    assert bad.status_code == 400 and not RAW.search(bad.text)
    assert ui.post_form(f"{page}/requests", {"stage": "Production"}).status_code == 303
    (pending,) = requests_of(ui, model, "PENDING")
    refused = ui.post_form(f"{page}/requests/{pending['id']}/reject", {}, token=False)
    assert refused.status_code == 403 and requests_of(ui, model, "PENDING")
    done = ui.post_form(f"{page}/requests/{pending['id']}/reject", {"comment": "not yet"})
    assert done.status_code == 303
    (rejected,) = requests_of(ui, model)
    assert rejected["status"] == "REJECTED" and rejected["resolution_comment"] == "not yet"
    assert version_of(ui, model)["current_stage"] == "None"


def test_request_without_csrf_changes_nothing(ui: UiClient) -> None:
    model = register(ui, versions=1)
    require_approval(ui, model)
    fields = {"stage": "Production"}
    response = ui.post_form(f"{model.path}/versions/1/requests", fields, token=False)
    assert response.status_code == 403 and "security token" in response.text
    assert requests_of(ui, model) == []


def test_edit_model_description_and_tags(ui: UiClient) -> None:
    model = register(ui, versions=1)
    described = ui.post_form(f"{model.path}/description", {"description": f"new {XSS}"})
    assert described.status_code == 303 and described.headers["location"] == model.path
    assert model_of(ui, model)["description"] == f"new {XSS}"
    tagged = ui.post_form(f"{model.path}/tags", {"key": "stage.gate", "value": XSS})
    assert tagged.status_code == 303
    html = ui.http.get(model.path).text
    assert not RAW.search(html)
    assert 'data-tag="stage.gate"' in html and "&lt;script&gt;alert(9)&lt;/script&gt;" in html
    bad = ui.post_form(f"{model.path}/tags", {"key": "<b>", "value": "kept"})
    assert bad.status_code == 400 and 'id="action-error"' in bad.text
    assert 'value="kept"' in bad.text and "&lt;b&gt;" in bad.text
    assert ui.post_form(f"{model.path}/tags/delete", {"key": "stage.gate"}).status_code == 303
    tags = {t["key"] for t in model_of(ui, model).get("tags", [])}
    assert tags == {"owner"}
    audit = ui.http.get(f"{GOVERNANCE}/audit", params={"name": model.name}).json()["entries"]
    actions = [e["action"] for e in audit]
    assert "UPDATE_DESCRIPTION" in actions and "DELETE_TAG" in actions
    for path in ("description", "tags", "tags/delete"):
        assert ui.post_form(f"/models/no-such-model-x/{path}", {"key": "a"}).status_code == 404


def test_edit_version_description_and_tags(ui: UiClient) -> None:
    model = register(ui, versions=1)
    page = f"{model.path}/versions/1"
    assert ui.post_form(f"{page}/description", {"description": XSS}).status_code == 303
    assert ui.post_form(f"{page}/tags", {"key": "validated", "value": "yes"}).status_code == 303
    got = version_of(ui, model)
    assert got["description"] == XSS
    assert {t["key"]: t["value"] for t in got["tags"]}["validated"] == "yes"
    html = ui.http.get(page).text
    assert not RAW.search(html) and 'data-tag="validated"' in html
    assert ui.post_form(f"{page}/tags/delete", {"key": "validated"}).status_code == 303
    assert "validated" not in {t["key"] for t in version_of(ui, model)["tags"]}
    bad = ui.post_form(f"{page}/tags", {"key": "", "value": "v"})
    assert bad.status_code == 400 and 'id="action-error"' in bad.text
    assert ui.post_form(f"{model.path}/versions/7/tags", {"key": "a"}).status_code == 404
    assert ui.post_form(f"{model.path}/versions/7/description", {}).status_code == 404


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("description", {"description": "changed"}),
        ("tags", {"key": "owner", "value": "changed"}),
        ("tags/delete", {"key": "owner"}),
        ("versions/1/description", {"description": "changed"}),
        ("versions/1/tags", {"key": "note", "value": "changed"}),
        ("versions/1/tags/delete", {"key": "note"}),
    ],
)
def test_edits_without_csrf_change_nothing(ui: UiClient, path: str, fields: dict[str, str]) -> None:
    model = register(ui, versions=1)
    response = ui.post_form(f"{model.path}/{path}", fields, token=False)
    assert response.status_code == 403 and "security token" in response.text
    registered = model_of(ui, model)
    assert registered["description"] == "<script>alert('d')</script>"
    assert registered["tags"] == [{"key": "owner", "value": "<img src=x onerror=alert(1)>"}]
    version = version_of(ui, model)
    assert version["description"] == "<script>alert('v')</script>"
    assert version["tags"] == [{"key": "note", "value": "<script>alert(2)</script>"}]


def test_model_page_pages_through_versions(ui: UiClient) -> None:
    model = register(ui, versions=3)
    first = ui.http.get(model.path, params={"size": "2"})
    assert first.status_code == 200
    assert 'data-version="3"' in first.text and 'data-version="1"' not in first.text
    found = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert found is not None
    second = ui.http.get(found.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    assert 'data-version="1"' in second.text and 'data-version="3"' not in second.text
    assert 'rel="next"' not in second.text and 'rel="first"' in second.text
    forged = ui.http.get(model.path, params={"page_token": "garbage"})
    assert forged.status_code == 400 and 'data-version="3"' in forged.text
    whole = ui.http.get(model.path, params={"size": "0"})  # out of range: the default size
    assert all(f'data-version="{n}"' in whole.text for n in (1, 2, 3))


def test_models_list_pages(ui: UiClient) -> None:
    register(ui, versions=0)
    register(ui, versions=0)
    first = ui.http.get("/models", params={"q": "ui model", "size": "1"})
    assert first.status_code == 200 and first.text.count("data-name=") == 1
    assert 'rel="first"' not in first.text
    found = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert found is not None and "size=1" in found.group(1)
    second = ui.http.get(found.group(1).replace("&amp;", "&"))
    assert second.status_code == 200 and second.text.count("data-name=") == 1
    assert 'rel="first"' in second.text
    assert second.text.split("data-name=")[1] != first.text.split("data-name=")[1]
