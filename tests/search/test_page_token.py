"""Page tokens: opaque, url-safe, and only valid for the search that issued them."""

from __future__ import annotations

import base64
import json

import pytest

from cairn.exceptions import InvalidParameterValue
from cairn.search import decode_page_token, encode_page_token, query_fingerprint

QUERY = ("runs", (1, 2), "metrics.acc > 0.5", ("metrics.acc DESC",), ("active",))


def test_round_trip():
    assert decode_page_token(encode_page_token(300, QUERY), QUERY) == 300


@pytest.mark.parametrize("token", [None, ""])
def test_no_token_means_the_first_page(token):
    assert decode_page_token(token, QUERY) == 0


def test_tokens_are_url_safe_base64_of_json_with_the_offset():
    token = encode_page_token(1000, QUERY)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert payload == {"offset": 1000, "query": query_fingerprint(QUERY)}


@pytest.mark.parametrize(
    "other",
    [
        ("runs", (1, 2), "metrics.acc > 0.6", ("metrics.acc DESC",), ("active",)),
        ("runs", (1, 2), "metrics.acc > 0.5", ("metrics.acc ASC",), ("active",)),
        ("runs", (1,), "metrics.acc > 0.5", ("metrics.acc DESC",), ("active",)),
        ("runs", (1, 2), "metrics.acc > 0.5", ("metrics.acc DESC",), ("active", "deleted")),
        ("experiments", (1, 2), "metrics.acc > 0.5", ("metrics.acc DESC",), ("active",)),
    ],
)
def test_a_token_is_refused_by_a_different_query(other):
    token = encode_page_token(100, QUERY)
    with pytest.raises(InvalidParameterValue, match="issued for a different search"):
        decode_page_token(token, other)


def test_lists_and_tuples_fingerprint_alike():
    assert query_fingerprint(["a", ["b"]]) == query_fingerprint(("a", ("b",)))


def _raw(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        "not a token!",
        "%%%",
        "abc",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _raw([1, 2]),
        _raw({"query": query_fingerprint(QUERY)}),
        _raw({"offset": -1, "query": query_fingerprint(QUERY)}),
        _raw({"offset": "10", "query": query_fingerprint(QUERY)}),
        _raw({"offset": True, "query": query_fingerprint(QUERY)}),
        _raw({"offset": 10}),  # MLflow's own token format: no fingerprint
    ],
)
def test_malformed_tokens_are_invalid_parameter_values(token):
    with pytest.raises(InvalidParameterValue, match=r"[Ii]nvalid page token"):
        decode_page_token(token, QUERY)


def test_long_tokens_are_cut_short_in_messages():
    with pytest.raises(InvalidParameterValue) as info:
        decode_page_token("x" * 5000, QUERY)
    assert len(info.value.message) < 200
