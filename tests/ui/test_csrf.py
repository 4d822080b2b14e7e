"""CSRF tokens: made and checked under one secret; every mutating form is refused without."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from cairn.ui.csrf import COOKIE, FIELD, HEADER, CsrfTokens
from tests.ui.conftest import UiClient


def request_with(cookie: str | None = None, header: str | None = None) -> Request:
    headers: list[tuple[bytes, bytes]] = []
    if cookie is not None:
        headers.append((b"cookie", f"{COOKIE}={cookie}".encode()))
    if header is not None:
        headers.append((HEADER.encode(), header.encode()))
    return Request({"type": "http", "method": "POST", "headers": headers, "path": "/"})


@pytest.mark.parametrize(("scheme", "secure"), [("http", False), ("https", True)])
def test_the_cookie_is_strict_http_only_and_secure_over_https(scheme: str, secure: bool) -> None:
    tokens = CsrfTokens("s")
    request = Request(
        {"type": "http", "method": "GET", "headers": [], "path": "/", "scheme": scheme}
    )
    response = Response()
    tokens.set_cookie(request, response, tokens.new_token())
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert ("; secure" in cookie) is secure


def test_tokens_are_signed_by_their_secret() -> None:
    tokens = CsrfTokens("secret-a")
    token = tokens.new_token()
    assert tokens.is_valid(token)
    assert not CsrfTokens("secret-b").is_valid(token)
    nonce, signature = token.split(".")
    assert not tokens.is_valid(f"{nonce}x.{signature}")
    for bad in ("", "no-dot", "a.b.c", None):
        assert not tokens.is_valid(bad)


def test_a_post_needs_the_cookie_and_the_same_token_in_field_or_header() -> None:
    tokens = CsrfTokens("s")
    token = tokens.new_token()
    assert tokens.check(request_with(cookie=token), {FIELD: token})
    assert tokens.check(request_with(cookie=token, header=token), {})
    assert not tokens.check(request_with(cookie=token), {})
    assert not tokens.check(request_with(), {FIELD: token})
    assert not tokens.check(request_with(cookie=token), {FIELD: tokens.new_token()})
    forged = "abc.def"  # a cookie planted by someone without the secret
    assert not tokens.check(request_with(cookie=forged), {FIELD: forged})


def test_pages_set_the_cookie_once_and_repeat_it_in_forms(ui: UiClient) -> None:
    first = ui.http.get("/")
    cookie = first.cookies[COOKIE]
    assert "httponly" in first.headers["set-cookie"].lower()
    assert "samesite=strict" in first.headers["set-cookie"].lower()
    assert f'name="csrf_token" value="{cookie}"' in first.text
    again = ui.http.get("/")
    assert "set-cookie" not in again.headers  # the valid cookie is kept


@pytest.mark.parametrize(
    "path, fields",
    [
        ("/experiments/create", {"name": "csrf-should-not-exist"}),
        ("/experiments/{eid}/rename", {"name": "csrf-renamed"}),
        ("/experiments/{eid}/delete", {}),
        ("/experiments/{eid}/restore", {}),
        ("/runs/{run}/tags", {"key": "k", "value": "v"}),
        ("/runs/{run}/tags/delete", {"key": "team"}),
        ("/runs/{run}/description", {"description": "nope"}),
    ],
)
def test_every_form_is_refused_without_a_valid_token(
    ui: UiClient, logged: Any, path: str, fields: dict[str, str]
) -> None:
    target = path.format(eid=logged.experiment_id, run=logged.run_ids["alpha"])
    ui.token()  # the client holds a valid cookie; only the field is missing or wrong
    missing = ui.post_form(target, fields, token=False)
    assert missing.status_code == 403
    assert "security token" in missing.text
    wrong = ui.http.post(target, data={**fields, "csrf_token": CsrfTokens("other").new_token()})
    assert wrong.status_code == 403
    no_cookie = UiClient(ui.url)
    try:
        stolen = no_cookie.http.post(target, data={**fields, "csrf_token": ui.token()})
        assert stolen.status_code == 403
    finally:
        no_cookie.close()
    names = ui.http.get("/", params={"q": "csrf-"}).text
    assert "csrf-should-not-exist" not in names and "csrf-renamed" not in names


def test_the_htmx_header_is_accepted_instead_of_the_field(ui: UiClient, logged: Any) -> None:
    run = logged.run_ids["gamma"]
    response = ui.http.post(
        f"/runs/{run}/tags", data={"key": "via", "value": "header"}, headers={HEADER: ui.token()}
    )
    assert response.status_code == 303
    assert "header" in ui.http.get(f"/runs/{run}").text


def test_the_secret_comes_from_the_setting_or_is_drawn_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAIRN_UI_CSRF_SECRET", "shared")
    assert CsrfTokens().is_valid(CsrfTokens("shared").new_token())
    monkeypatch.delenv("CAIRN_UI_CSRF_SECRET")
    first = CsrfTokens()  # draws a secret into the environment, for worker processes
    assert CsrfTokens().is_valid(first.new_token())
