"""`cairn.server.app.ThenResponse`: what follows an answer happens once it is sent, and also
when sending it fails (a client gone mid-download must not leave the collector paused)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cairn.server.app import ThenResponse


async def receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}


def test_then_follows_the_sent_answer() -> None:
    events: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        events.append(message["type"])

    response = ThenResponse(b"{}", lambda: events.append("then"))
    asyncio.run(response({"type": "http"}, receive, send))
    assert events == ["http.response.start", "http.response.body", "then"]


def test_then_happens_when_sending_fails() -> None:
    made: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        raise OSError("connection reset by peer")

    response = ThenResponse(b"{}", lambda: made.append("then"))
    with pytest.raises(OSError):
        asyncio.run(response({"type": "http"}, receive, send))
    assert made == ["then"]
