"""API tokens: random, stored as SHA-256, lifetimes parsed strictly."""

from __future__ import annotations

import hashlib

import pytest

from cairn.auth.tokens import new_token, parse_duration, token_digest
from cairn.exceptions import InvalidParameterValue


def test_tokens_are_long_random_and_digested_with_sha256() -> None:
    token = new_token()
    assert token.startswith("cairn_") and len(token) >= 6 + 43
    assert token != new_token()
    assert token_digest(token) == hashlib.sha256(token.encode()).hexdigest()


@pytest.mark.parametrize(("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("5m", 300)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "0d", "-1d", "400d", "1w", "d"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(InvalidParameterValue):
        parse_duration(text)
