"""When and how long to wait before trying a request again.

Only failures that say "not now" are retried: a connection that could not be made or broke,
429 (too many requests) and 503 (unavailable). Waits grow exponentially with jitter, so many
clients of one recovering server do not come back in lockstep; a server's `Retry-After` is
honoured, capped so a misbehaving proxy cannot stall a training script for hours.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from cairn import settings

RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 5
    backoff_factor: float = 0.5
    """Seconds before the first retry; each later one waits twice as long (jittered)."""
    max_wait: float = 60.0
    """No single wait is longer than this, whatever the server's Retry-After says."""
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        return cls(
            max_retries=settings.HTTP_REQUEST_MAX_RETRIES.get_int(),
            backoff_factor=settings.HTTP_REQUEST_BACKOFF_FACTOR.get_float(),
        )

    def wait(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0 for the first retry)."""
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.max_wait)
        base = min(self.backoff_factor * (2**attempt), self.max_wait)
        # "Equal jitter": at least half the exponential wait, so backoff still grows.
        return base / 2 + random.uniform(0, base / 2)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
