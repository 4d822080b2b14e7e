"""Opaque page tokens that remember which query they belong to.

A token is url-safe base64 (unpadded) of `{"offset": N, "query": F}`, where F is a digest of
the query (filter, order_by, scope, view type) the caller passes in, as any JSON-able value.
A token replayed against a different query would silently skip or repeat rows, so it is
rejected instead. The MLflow reference encodes
only the offset; clients treat tokens as opaque, so the extra field is invisible to them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from cairn.exceptions import InvalidParameterValue


def query_fingerprint(query: object) -> str:
    """A short digest of everything that shapes a search's result order and contents.

    `query` is any JSON-able value made of the raw request values, e.g. `("runs", filter,
    tuple(order_by), tuple(experiment_ids), view_type)`; tuples and lists compare by value.
    """
    canonical = json.dumps(query, default=str, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_page_token(offset: int, query: object) -> str:
    """The token for the page starting at `offset` of the search described by `query`."""
    payload = {"offset": offset, "query": query_fingerprint(query)}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str | None, query: object) -> int:
    """The offset a token stands for (0 without a token); InvalidParameterValue if it is
    malformed or was issued for another `query`."""
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidParameterValue(
            f"Invalid page token {_shown(token)}: not a Cairn page token"
        ) from exc
    if not isinstance(payload, dict):
        raise InvalidParameterValue(f"Invalid page token {_shown(token)}: not a Cairn page token")
    offset = payload.get("offset")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidParameterValue(f"Invalid page token {_shown(token)}: bad offset")
    if payload.get("query") != query_fingerprint(query):
        raise InvalidParameterValue(
            "Invalid page token: it was issued for a different search (filter, order_by or "
            "scope changed); start again without a page token"
        )
    return offset


def _shown(token: str) -> str:
    """The token for an error message, cut short: it is user input of any length."""
    return repr(token if len(token) <= 40 else token[:40] + "...")
