"""Proxied artifacts (`/api/2.0/mlflow-artifacts/artifacts/...`) — being written."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from cairn.server.context import ServerContext


def routes(ctx: ServerContext) -> list[BaseRoute]:
    return []


def openapi_paths() -> dict[str, Any]:
    return {}
