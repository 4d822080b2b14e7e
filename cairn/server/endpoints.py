"""The JSON endpoints: path, methods, request message and handler, declared once.

Handlers are plain synchronous functions `(context, fields) -> response dict`; the app runs
them in a worker thread (the stores are synchronous) and encodes the result. A `bounded`
handler touches a fixed handful of rows; on an embedded (SQLite) database the app calls it on
the event loop instead, because handing it to a thread and back costs more than its work. For a
search marked `read_ahead`, the next page is read ahead while the client decodes the one it got
(`cairn.server.readahead`). The same
declarations produce the OpenAPI document, so the document cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cairn.server.context import ServerContext
from cairn.server.messages import Message

Handler = Callable[[ServerContext, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    path: str  # below the version prefix, e.g. "/mlflow/runs/create"
    methods: tuple[str, ...]
    request: Message
    handler: Handler
    summary: str
    response: tuple[str, ...] = ()  # top-level response fields, for the OpenAPI document
    version: str = "2.0"
    bounded: bool = False
    # A search clients page through: the next page is read ahead for pages of up to this
    # many items (0: never; see `cairn.server.readahead`).
    read_ahead: int = 0

    @property
    def api_path(self) -> str:
        return f"/api/{self.version}{self.path}"


def all_endpoints() -> list[Endpoint]:
    from cairn.server.handlers import (
        compat,
        experiments,
        governance,
        logged_models,
        model_versions,
        registered_models,
        runs,
    )

    return [
        *experiments.ENDPOINTS,
        *runs.ENDPOINTS,
        *registered_models.ENDPOINTS,
        *model_versions.ENDPOINTS,
        *governance.ENDPOINTS,
        *logged_models.ENDPOINTS,
        *compat.ENDPOINTS,
    ]
