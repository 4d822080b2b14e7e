"""Talking HTTP to a tracking server: one connection pool per server, retries, credentials.

httpx is imported only when a remote (`http://`, `https://`) URI is used: the names below
load their modules on first access, so `import cairn` never pays for it, and neither does a
server that only needs `cairn.transport.codec` (MLflow's JSON spellings). May import only
`cairn.entities`, `cairn.exceptions`, `cairn.settings` and `cairn.version` (checked by
tests/test_layers.py).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cairn.transport.codec import parse_double, wire_double
    from cairn.transport.credentials import Credentials
    from cairn.transport.http import HttpTransport, query_params, shared_transport
    from cairn.transport.retry import RetryPolicy

_HOMES = {
    "Credentials": "credentials",
    "HttpTransport": "http",
    "RetryPolicy": "retry",
    "parse_double": "codec",
    "query_params": "http",
    "shared_transport": "http",
    "wire_double": "codec",
}

__all__ = [
    "Credentials",
    "HttpTransport",
    "RetryPolicy",
    "parse_double",
    "query_params",
    "shared_transport",
    "wire_double",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cairn.transport' has no attribute {name!r}")
    return getattr(import_module(f"cairn.transport.{home}"), name)
