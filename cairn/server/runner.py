"""Running the app on uvicorn: workers, TCP_NODELAY, graceful shutdown.

Every accepted connection gets TCP_NODELAY, whatever the worker count: without it a small
JSON response on a reused keep-alive connection can wait ~40 ms for a delayed ACK (Nagle's
algorithm), which is what makes a multi-worker MLflow server slow for sequential clients.
On SIGTERM uvicorn stops accepting, lets in-flight requests finish (up to
`GRACEFUL_SHUTDOWN_SECONDS`) and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cairn.server.config import CONFIG_ENV, ServerConfig

GRACEFUL_SHUTDOWN_SECONDS = 30


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        # A socket already closed by the peer cannot take options; nothing to do then.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with Nagle's algorithm switched off per connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)


def serve(config: ServerConfig) -> None:
    """Serve until SIGTERM/SIGINT. The database is created or checked before workers start."""
    import uvicorn

    from cairn.store import get_tracking_store

    config = config.resolved()
    get_tracking_store(config.backend_store_uri, config.artifact_root)  # migrate once, up front
    os.makedirs(_local_destination(config), exist_ok=True)
    os.environ[CONFIG_ENV] = config.to_env()
    uvicorn.run(
        "cairn.server.app:app_from_env",
        factory=True,
        host=config.host,
        port=config.port,
        workers=config.workers if config.workers > 1 else None,
        http=NoDelayHttpToolsProtocol,
        loop="uvloop",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        server_header=False,
    )


def _local_destination(config: ServerConfig) -> str:
    from cairn.artifacts.local import local_root_from_uri

    return str(local_root_from_uri(config.artifacts_destination))
