"""Stay inside Graph's request budget instead of bouncing off it.

Graph serves sign-in logs at most 5 requests per 10 seconds per app and tenant. The pacer starts a
request only while fewer than that many started within the window, widened by a small margin for the
jitter between sending a request and Graph receiving it: Graph's own window (counted from arrival)
then never holds more than the budget. A Retry-After from Graph pauses every request of the budget
until it has passed. Retries are requests too: each attempt takes its place.

The time the budget makes a reader wait need not be lost: work handed to ``idle_work`` (writing a
checkpoint, one transaction at a time) is awaited in it before any sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

MIN_MARGIN_SECONDS = 0.1
MARGIN_SHARE = 0.02


@dataclass
class RequestPacer:
    requests: int
    per_seconds: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    waited_seconds: float = 0.0
    """Time spent waiting for the budget (the price of staying under it)."""
    _starts: deque[float] = field(default_factory=deque)
    _paused_until: float = 0.0
    _idle: Callable[[], Awaitable[bool]] | None = None

    @property
    def horizon(self) -> float:
        """How long a request keeps its place: the window plus the margin."""
        return self.per_seconds + max(MIN_MARGIN_SECONDS, self.per_seconds * MARGIN_SHARE)

    async def acquire(self) -> None:
        """Wait until one more request fits in the budget (doing idle work first), and take its place."""
        while (wait := self.wait_needed()) > 0:
            if self._idle is not None and await self._idle():
                continue  # one unit of idle work done: look at the clock again
            started = self.clock()
            await self.sleep(wait)
            self.waited_seconds += self.clock() - started
        self._starts.append(self.clock())

    @contextmanager
    def idle_work(self, work: Callable[[], Awaitable[bool]]) -> Iterator[None]:
        """While inside, waits for the budget first run ``work`` (one short unit; False: none left)."""
        self._idle = work
        try:
            yield
        finally:
            self._idle = None

    def pause(self, seconds: float) -> None:
        """Graph said Retry-After: nobody sends before then."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    def wait_needed(self) -> float:
        """Seconds until a request may start (0: at once)."""
        now = self.clock()
        while self._starts and self._starts[0] <= now - self.horizon:
            self._starts.popleft()
        wait = max(0.0, self._paused_until - now)
        if len(self._starts) >= self.requests:
            wait = max(wait, self._starts[0] + self.horizon - now)
        return wait


_PACERS: dict[tuple[str, int, float], RequestPacer] = {}


def pacer_for(tenant_id: str, requests: int, per_seconds: float) -> RequestPacer:
    """One pacer per tenant and budget in this process, so back-to-back runs share the budget too."""
    key = (tenant_id, requests, per_seconds)
    pacer = _PACERS.get(key)
    if pacer is None:
        pacer = _PACERS[key] = RequestPacer(requests, per_seconds)
    return pacer
