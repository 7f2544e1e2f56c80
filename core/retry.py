"""When to try a Graph request again, and how long to wait first.

Graph's Retry-After is obeyed up to a cap (LAM_GRAPH_MAX_RETRY_AFTER_SECONDS); the caller also never
waits past its run's deadline. Without one, the wait grows exponentially with jitter (half of
it fixed, half random, so retries of many clients spread out), up to a cap; after ``max_retries`` the
caller gets a typed error instead of an empty result.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from core.clock import utcnow

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
"""Throttled, or a transient failure on Graph's side: worth another try."""
MAX_RETRY_AFTER = 300.0
"""By default a Retry-After beyond five minutes is treated as five minutes (and counts against the attempts)."""


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    base_seconds: float = 1.0
    cap_seconds: float = 60.0
    max_retry_after: float = MAX_RETRY_AFTER
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        if retry_after is not None:
            return self.capped_retry_after(retry_after)
        ceiling = min(self.cap_seconds, self.base_seconds * 2**retry)
        return float(ceiling / 2 + self.rng.uniform(0, ceiling / 2))

    def capped_retry_after(self, seconds: float) -> float:
        """A server's Retry-After as we obey it: never negative, never past the cap."""
        return min(max(seconds, 0.0), self.max_retry_after)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date; None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max((when - utcnow()).total_seconds(), 0.0) if when.tzinfo else None
