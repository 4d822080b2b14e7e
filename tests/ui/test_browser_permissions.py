"""In a real browser, logged in to a `cairn server --auth`: a manager gives, changes and takes
back a user's level from the experiment's permissions panel, and creates, renames and deletes
a registered model. Skipped without chromium, as `test_browser` (a failure under CI=true)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.auth.conftest import ADMIN, AUTH_ENV, users_of
from tests.server_process import ServerProcess, start_server
from tests.ui.conftest import API
from tests.ui.test_browser import CHROMIUM, TIMEOUT_MS, _require_browser

PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("browser-auth"), "--auth", env=AUTH_ENV)
    users = users_of(server)
    for user in ("boss", "helper"):
        users.create_user(user, PASSWORD)
    yield server
    server.stop()


@pytest.fixture
def boss_page(auth_server: ServerProcess) -> Iterator[Any]:
    """A page logged in (HTTP Basic) as `boss`."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000},
            http_credentials={"username": "boss", "password": PASSWORD},
        )
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.cairn_errors = errors
        try:
            yield page
        finally:
            browser.close()


def shot(page: Any, tmp_path: Path, name: str) -> None:
    base = os.environ.get("CAIRN_TEST_ARTIFACTS")
    directory = Path(base) / "ui" if base else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=directory / name, full_page=True)


def level(server: ServerProcess, experiment_id: str, user: str) -> str | None:
    with httpx.Client(base_url=server.url, auth=ADMIN) as admin:
        found = admin.get(
            f"{API}/experiments/permissions/get",
            params={"experiment_id": experiment_id, "username": user},
        )
    if found.status_code == 404:
        return None
    return str(found.json()["experiment_permission"]["permission"])


def test_permissions_panel_in_a_browser(
    auth_server: ServerProcess, boss_page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = boss_page
    page.goto(f"{auth_server.url}/")
    page.fill('form.create input[name="name"]', f"boss's <b>{uuid.uuid4().hex[:6]}</b>")
    page.click("form.create button[type=submit]")
    page.wait_for_url("**/experiments/*")
    eid = page.url.rsplit("/", 1)[1]
    panel = page.locator("#permissions")
    panel.locator("summary").click()
    expect(panel.locator('tr[data-user="boss"]')).to_have_count(1)  # the creator manages

    form = page.locator("#permission-form")
    form.locator('input[name="username"]').fill("helper")
    form.locator('select[name="permission"]').select_option("EDIT")
    form.locator("button[type=submit]").click()
    helper = page.locator('#permissions tr[data-user="helper"]')
    expect(helper).to_have_count(1)
    expect(helper.locator('select[name="permission"]')).to_have_value("EDIT")
    assert level(auth_server, eid, "helper") == "EDIT"

    page.locator("#permissions summary").click()  # the page was reloaded: open it again
    helper.locator('select[name="permission"]').select_option("READ")
    helper.locator("button", has_text="Change").click()
    expect(page.locator('#permissions tr[data-user="helper"] select')).to_have_value("READ")
    assert level(auth_server, eid, "helper") == "READ"
    shot(page, tmp_path, "20-permissions.png")

    page.locator("#permissions summary").click()
    page.locator('#permissions tr[data-user="helper"] button', has_text="Remove").click()
    expect(page.locator('#permissions tr[data-user="helper"]')).to_have_count(0)
    assert level(auth_server, eid, "helper") is None

    page.locator("#permissions summary").click()
    form.locator('input[name="username"]').fill("nobody")
    form.locator("button[type=submit]").click()
    expect(page.locator("#permissions-error")).to_contain_text("No user named 'nobody'")
    assert page.cairn_errors == []


def test_model_create_rename_delete_in_a_browser(
    auth_server: ServerProcess, boss_page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = boss_page
    name = f"boss model <i>{uuid.uuid4().hex[:6]}"  # no "/": model names may not hold one
    page.goto(f"{auth_server.url}/models")
    page.fill('#model-create input[name="name"]', name)
    page.fill('#model-create input[name="description"]', "made in a browser")
    page.click("#model-create button[type=submit]")
    expect(page.locator("h1")).to_have_text(name)
    expect(page.locator("#description p.description")).to_have_text("made in a browser")

    renamed = name.replace("boss model", "renamed model")
    page.click("#model-rename summary")
    page.fill('#rename-form input[name="new_name"]', renamed)
    page.click("#rename-form button[type=submit]")
    expect(page.locator("h1")).to_have_text(renamed)

    page.click("#model-delete")
    expect(page.locator("h1")).to_contain_text("Delete the model")
    shot(page, tmp_path, "21-model-delete.png")
    page.click("#delete-model-form button[type=submit]")
    page.wait_for_url("**/models")
    expect(page.locator("#models-table")).not_to_contain_text(renamed)
    assert page.cairn_errors == []
