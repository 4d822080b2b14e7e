"""Talking HTTP to a tracking server: one connection pool per server, retries, credentials.

Imported only when a remote (`http://`, `https://`) URI is used, so `import cairn` never pays
for httpx. May import only `cairn.entities`, `cairn.exceptions`, `cairn.settings` and
`cairn.version` (checked by tests/test_layers.py).
"""

from cairn.transport.codec import parse_double, wire_double
from cairn.transport.credentials import Credentials
from cairn.transport.http import HttpTransport, query_params, shared_transport
from cairn.transport.retry import RetryPolicy

__all__ = [
    "Credentials",
    "HttpTransport",
    "RetryPolicy",
    "parse_double",
    "query_params",
    "shared_transport",
    "wire_double",
]
