"""The MLflow 3.x pieces a 3.x client calls even in 2.x-style workflows (spec §14.1).

`server-info` tells the client that artifact transfers go through the proxy in one piece (no
multipart uploads) and that workspaces are off. (`logged-models/search`, which a 3.x client
calls on every `runs:/` download, is a real search: see `logged_models.py`.)
"""

from __future__ import annotations

from typing import Any

from cairn.server.context import ServerContext
from cairn.server.endpoints import Endpoint


def server_info(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    return {
        "store_type": "SqlStore",
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
        "workspaces_enabled": False,
    }


ENDPOINTS = [
    Endpoint(
        "/mlflow/server-info",
        ("GET",),
        (),
        server_info,
        "What this server supports (MLflow 3.x clients ask before artifact transfers)",
        ("store_type", "multipart_uploads_enabled", "workspaces_enabled"),
        version="3.0",
        bounded=True,
    ),
]
