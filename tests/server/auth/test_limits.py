"""The gate's per-process helpers: the credential cache and the failed-login limiter."""

from __future__ import annotations

import time

import pytest

from cairn.auth.users import Identity
from cairn.exceptions import InvalidParameterValue
from cairn.server.auth.limits import CredentialCache, FailureLimiter

ALICE = Identity("alice", False)


def test_the_cache_remembers_for_its_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    cache = CredentialCache(ttl=30)
    cache.put(b"k", ALICE)
    assert cache.get(b"k") == ALICE
    now[0] += 31
    assert cache.get(b"k") is None


def test_the_cache_never_outlives_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = CredentialCache(ttl=30)
    cache.put(b"k", ALICE, expiry_ms=int(time.time() * 1000) - 1)  # already expired
    assert cache.get(b"k") is None


def test_a_zero_ttl_caches_nothing_and_the_size_is_bounded() -> None:
    off = CredentialCache(ttl=0)
    off.put(b"k", ALICE)
    assert off.get(b"k") is None
    small = CredentialCache(ttl=30, max_entries=2)
    for key in (b"a", b"b", b"c"):
        small.put(key, ALICE)
    assert small.get(b"a") is None and small.get(b"c") == ALICE


def test_failures_beyond_the_limit_wait_for_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    limiter = FailureLimiter(max_failures=3, window=60)
    for _ in range(3):
        assert limiter.retry_after("user:a", "addr:x") == 0
        limiter.failed("user:a", "addr:x")
        now[0] += 1
    assert limiter.retry_after("user:a") == 58
    assert limiter.retry_after("addr:x", "user:other") == 58
    assert limiter.retry_after("user:other", "addr:y") == 0
    now[0] += 58
    assert limiter.retry_after("user:a") == 0


def test_a_zero_limit_switches_limiting_off() -> None:
    limiter = FailureLimiter(max_failures=0)
    limiter.failed("addr:x")
    assert limiter.retry_after("addr:x") == 0


def test_settings_must_be_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    from cairn.server.auth.gate import Security

    monkeypatch.setenv("CAIRN_AUTH_CACHE_SECONDS", "soon")
    with pytest.raises(InvalidParameterValue, match="CAIRN_AUTH_CACHE_SECONDS"):
        Security.for_engine(object())
