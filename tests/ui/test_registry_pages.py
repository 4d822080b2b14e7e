"""`/models`, `/models/<name>`, `/models/<name>/versions/<n>` and the stage and alias forms,
against a real server: escaping, URL-encoded names, CSRF and promotion policies."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import pytest

from tests.ui.conftest import API, UiClient, text_of

RAW = re.compile(r"<script>alert|<img src=x")
SIGNED = (
    "flavors:\n  python_function: {}\n"
    "signature:\n"
    '  inputs: \'[{"type": "double", "name": "<script>alert(1)</script>", "required": true},'
    ' {"type": "string", "name": "city", "required": false}]\'\n'
    '  outputs: \'[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}]\'\n'
)


@dataclass
class Registered:
    name: str
    path: str  # /models/<encoded name>
    run_id: str


def register(ui: UiClient, mlmodel: str = SIGNED, versions: int = 2) -> Registered:
    """A model whose name tries markup, spaces, unicode and URL characters, with versions
    registered from a run's uploaded files."""
    eid, _ = ui.experiment()
    run_id = ui.run(eid, "trainer", 1_000)
    ui.upload(run_id, "model/MLmodel", mlmodel.encode())
    name = f"ui model <script>alert(1)<img src=x> ü ?#& {uuid.uuid4().hex[:6]}"
    ui.api(
        "/registered-models/create",
        {"name": name, "description": "<script>alert('d')</script>",
         "tags": [{"key": "owner", "value": "<img src=x onerror=alert(1)>"}]},
    )  # fmt: skip
    for _ in range(versions):
        ui.api(
            "/model-versions/create",
            {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id,
             "description": "<script>alert('v')</script>",
             "tags": [{"key": "note", "value": "<script>alert(2)</script>"}]},
        )  # fmt: skip
    return Registered(name, f"/models/{quote(name, safe='')}", run_id)


def test_models_list_search_and_escaping(ui: UiClient) -> None:
    model = register(ui)
    ui.api("/registered-models/alias", {"name": model.name, "alias": "champion", "version": "2"})
    listing = ui.http.get("/models", params={"q": model.name[-6:].upper()})
    assert listing.status_code == 200
    html = listing.text
    assert not RAW.search(html)
    assert f'href="{model.path}"' in html
    assert "&lt;script&gt;alert(1)&lt;img src=x&gt; ü ?#&amp;" in html
    assert f'href="{model.path}/versions/2">@champion → v2' in html
    assert "v2" in text_of(html) and "None" in text_of(html)
    none = ui.http.get("/models", params={"q": "no-such-model-%_"})
    assert none.status_code == 200 and "No registered models match" in none.text
    forged = ui.http.get("/models", params={"page_token": "garbage"})
    assert forged.status_code == 400


def test_model_page_lists_versions_aliases_and_tags(ui: UiClient) -> None:
    model = register(ui)
    ui.api("/registered-models/alias", {"name": model.name, "alias": "champion", "version": "1"})
    response = ui.http.get(model.path)
    assert response.status_code == 200
    html = response.text
    assert not RAW.search(html)
    assert f'href="{model.path}/versions/2">Version 2' in html
    assert f'href="{model.path}/versions/1">Version 1' in html
    assert html.index('data-version="2"') < html.index('data-version="1"')  # newest first
    assert "@champion" in html and f'href="/runs/{model.run_id}"' in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the model's tag
    assert "&lt;script&gt;alert(&#39;d&#39;)&lt;/script&gt;" in html  # its description
    assert ui.http.get("/models/no-such-model").status_code == 404


def test_version_page_signature_run_link_and_audit(ui: UiClient) -> None:
    model = register(ui, versions=1)
    ui.post_form(f"{model.path}/versions/1/stage", {"stage": "Staging", "comment": "<b>go</b>"})
    response = ui.http.get(f"{model.path}/versions/1")
    assert response.status_code == 200
    html = response.text
    assert not RAW.search(html)
    assert f'id="source-run" href="/runs/{model.run_id}"' in html
    text = text_of(html)
    assert "city string no" in text  # signature: name, type, required
    assert "&lt;script&gt;alert(1)&lt;/script&gt; double yes" in text
    assert "tensor float32 yes shape [-1, 2]" in text
    assert "TRANSITION_STAGE None Staging &lt;b&gt;go&lt;/b&gt;" in text
    assert "CREATE_VERSION" in text
    assert ui.http.get(f"{model.path}/versions/9").status_code == 404
    assert ui.http.get(f"{model.path}/versions/x").status_code == 404


def test_version_without_signature(ui: UiClient) -> None:
    model = register(ui, mlmodel="flavors: {}\n", versions=1)
    html = ui.http.get(f"{model.path}/versions/1").text
    assert "The MLmodel file has no signature" in html


def test_transition_with_archive_and_comment(ui: UiClient) -> None:
    model = register(ui)
    first = ui.post_form(f"{model.path}/versions/1/stage", {"stage": "Production"})
    assert first.status_code == 303
    assert first.headers["location"] == f"{model.path}/versions/1"
    second = ui.post_form(
        f"{model.path}/versions/2/stage",
        {"stage": "Production", "archive_existing_versions": "true", "comment": "replace v1"},
    )
    assert second.status_code == 303
    stages = {
        v["version"]: v["current_stage"]
        for v in ui.http.get(
            API + "/model-versions/search", params={"filter": f"name = '{model.name}'"}
        ).json()["model_versions"]
    }
    assert stages == {"1": "Archived", "2": "Production"}
    audit = ui.http.get("/api/2.0/cairn/registry/audit", params={"name": model.name}).json()
    assert any(e.get("comment") == "replace v1" for e in audit["entries"])
    bad = ui.post_form(f"{model.path}/versions/1/stage", {"stage": "Shipped"})
    assert bad.status_code == 400 and 'id="action-error"' in bad.text


def test_set_and_delete_alias(ui: UiClient) -> None:
    model = register(ui, versions=1)
    version = f"{model.path}/versions/1"
    done = ui.post_form(f"{version}/alias", {"alias": "champion", "comment": "best so far"})
    assert done.status_code == 303
    html = ui.http.get(version).text
    assert "@champion" in html and "SET_ALIAS champion" in text_of(html)
    assert ui.post_form(f"{version}/alias/delete", {"alias": "champion"}).status_code == 303
    model_api = ui.http.get(API + "/registered-models/get", params={"name": model.name}).json()
    assert "aliases" not in model_api["registered_model"]
    bad = ui.post_form(f"{version}/alias", {"alias": "<script>alert(1)</script>"})
    assert bad.status_code == 400 and not RAW.search(bad.text)


def test_policy_refusal_is_shown_inline(ui: UiClient) -> None:
    model = register(ui, mlmodel="flavors: {}\n", versions=1)
    policy = {"stages": {"Production": [{"kind": "requires_signature"}]},
              "aliases": {"champion": [{"kind": "requires_tag", "key": "validated"}]}}  # fmt: skip
    set_policy = ui.http.post(
        "/api/2.0/cairn/registry/policy", json={"name": model.name, "policy": json.dumps(policy)}
    )
    assert set_policy.status_code == 200, set_policy.text
    version = f"{model.path}/versions/1"
    refused = ui.post_form(f"{version}/stage", {"stage": "Production", "comment": "ship"})
    assert refused.status_code == 403
    assert 'id="action-error"' in refused.text and "signature" in refused.text
    assert 'value="ship"' in refused.text  # the form keeps what was typed
    alias = ui.post_form(f"{version}/alias", {"alias": "champion"})
    assert alias.status_code == 403 and "validated" in alias.text
    got = ui.http.get(API + "/model-versions/get", params={"name": model.name, "version": "1"})
    assert got.json()["model_version"]["current_stage"] == "None"
    assert "refused" in text_of(ui.http.get(version).text).lower()


@pytest.mark.parametrize("action", ["stage", "alias", "alias/delete"])
def test_forms_without_csrf_are_refused(ui: UiClient, action: str) -> None:
    model = register(ui, versions=1)
    fields = {"stage": "Production", "alias": "champion"}
    response = ui.post_form(f"{model.path}/versions/1/{action}", fields, token=False)
    assert response.status_code == 403 and "security token" in response.text
    got = ui.http.get(API + "/model-versions/get", params={"name": model.name, "version": "1"})
    assert got.json()["model_version"]["current_stage"] == "None"
    assert "aliases" not in got.json()["model_version"]
