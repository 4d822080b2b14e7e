"""In-process helpers of the gate: the short-lived credential cache and the failed-login limiter.

Both are per server process (each uvicorn worker has its own): the cache only saves work, and
the limiter's budget is per process, so with N workers an attacker gets at most N times the
configured failures per minute — still far too few for guessing a 12-character password.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque

from cairn.auth.users import Identity


class CredentialCache:
    """Verified `Authorization` headers (keyed by their SHA-256) -> identity, for `ttl` seconds.

    Verifying a password costs a deliberately slow KDF (~40 ms); a client sends the same
    header with every request, so remembering the outcome briefly keeps authentication off
    the request's cost. Only successes are kept, never past a token's own expiry. The key is
    a digest, so the cache holds no secret in the clear.
    """

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[Identity, float]] = OrderedDict()

    def get(self, key: bytes) -> Identity | None:
        found = self._entries.get(key)
        if found is None:
            return None
        identity, until = found
        if time.monotonic() >= until:
            self._entries.pop(key, None)
            return None
        return identity

    def put(self, key: bytes, identity: Identity, expiry_ms: int | None = None) -> None:
        if self.ttl <= 0:
            return
        until = time.monotonic() + self.ttl
        if expiry_ms is not None:  # a token about to expire is not remembered beyond it
            until = min(until, time.monotonic() + (expiry_ms - time.time() * 1000) / 1000)
        self._entries[key] = (identity, until)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


class FailureLimiter:
    """At most `max_failures` failed logins per key (a user name, a client address) within
    `window` seconds; beyond that `retry_after` says how long to wait."""

    def __init__(self, max_failures: int, window: float = 60.0, max_keys: int = 100_000) -> None:
        self.max_failures = max_failures
        self.window = window
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, *keys: str) -> int:
        """Seconds until every key may try again (0: they may now)."""
        if self.max_failures <= 0:
            return 0  # limiting switched off
        now = time.monotonic()
        wait = 0.0
        for key in keys:
            times = self._failures.get(key)
            if times is None:
                continue
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.max_failures:
                wait = max(wait, times[0] + self.window - now)
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            times = self._failures.setdefault(key, deque(maxlen=self.max_failures))
            times.append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)
