"""`Ui.page`: errors become HTML pages; unexpected ones never show their traceback."""

from __future__ import annotations

import asyncio
import logging

import pytest
from starlette.requests import Request
from starlette.responses import Response

from cairn.exceptions import ResourceDoesNotExist
from cairn.ui.csrf import CsrfTokens
from cairn.ui.pages import Ui, redirect_back
from cairn.ui.templating import environment


def bare_ui() -> Ui:
    ui = Ui.__new__(Ui)  # no server context needed to render
    ui.env = environment()
    ui.csrf = CsrfTokens("test")
    return ui


def call(ui: Ui, exc: Exception) -> Response:
    async def handler(request: Request) -> Response:
        raise exc

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [], "query_string": b""}
    return asyncio.run(ui.page(handler)(Request(scope)))


def test_cairn_errors_keep_their_status(caplog: pytest.LogCaptureFixture) -> None:
    response = call(bare_ui(), ResourceDoesNotExist("No run <x>"))
    assert response.status_code == 404
    assert b"No run &lt;x&gt;" in response.body


def test_unexpected_errors_are_a_500_page_with_the_traceback_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="cairn.server"):
        response = call(bare_ui(), RuntimeError("secret detail"))
    assert response.status_code == 500
    assert b"secret detail" not in response.body and b"see the server log" in response.body
    assert "secret detail" in caplog.text


def test_redirects_stay_on_this_site() -> None:
    assert redirect_back({"next": "/experiments/1?q=a"}, "/").headers["location"] == (
        "/experiments/1?q=a"
    )
    for evil in ("//evil", "https://evil", "/\\evil", "", "javascript:alert(1)"):
        assert redirect_back({"next": evil}, "/").headers["location"] == "/"
