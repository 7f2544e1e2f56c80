"""Pacing and retry timing, as pure functions of a clock (no server, no real waiting)."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from email.utils import format_datetime

import pytest

from collectors.pacing import RequestPacer
from core.clock import utcnow
from core.retry import MAX_RETRY_AFTER, RetryPolicy, retry_after_seconds


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def starts_of(pacer: RequestPacer, time: FakeTime, requests: int, work: float = 0.0) -> list[float]:
    """Start times of ``requests`` back-to-back requests that each take ``work`` seconds."""

    async def go() -> list[float]:
        starts = []
        for _ in range(requests):
            await pacer.acquire()
            starts.append(time.now)
            time.now += work
        return starts

    return asyncio.run(go())


@pytest.mark.parametrize("work", [0.0, 0.3, 3.0])
def test_the_pacer_runs_at_the_budget_and_never_above_it(work: float) -> None:
    time = FakeTime()
    pacer = RequestPacer(5, 10.0, clock=time.clock, sleep=time.sleep)
    starts = starts_of(pacer, time, 100, work)
    for i, start in enumerate(starts):
        assert sum(1 for s in starts[i:] if s < start + 10.0) <= 5, "more than 5 requests in 10 seconds"
    elapsed = starts[-1] - starts[0]
    fastest = max(19 * pacer.horizon + 4 * work, 99 * work)  # 19 full windows, or slow requests back to back
    assert elapsed <= fastest + 1e-6, "no slower than the budget allows"
    assert pacer.horizon - 10.0 <= 0.2, "the margin for network jitter is small"


def test_graphs_retry_after_pauses_every_request() -> None:
    time = FakeTime()
    pacer = RequestPacer(5, 10.0, clock=time.clock, sleep=time.sleep)
    starts_of(pacer, time, 1)
    pacer.pause(30)
    (start,) = starts_of(pacer, time, 1)
    assert start >= 1030.0
    assert pacer.waited_seconds == pytest.approx(30.0)


def test_backoff_grows_with_jitter_and_stays_bounded() -> None:
    policy = RetryPolicy(max_retries=8, base_seconds=1.0, cap_seconds=60.0, rng=random.Random(7))
    for retry in range(9):
        ceiling = min(60.0, 2.0**retry)
        delays = {policy.delay(retry, None) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1, "jittered, so many clients do not retry in step"


def test_retry_after_is_obeyed_as_given_up_to_five_minutes() -> None:
    policy = RetryPolicy()
    assert policy.delay(0, 7.0) == 7.0
    assert policy.delay(3, 0.0) == 0.0
    assert policy.delay(0, 3600.0) == MAX_RETRY_AFTER


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    later = format_datetime(utcnow() + timedelta(seconds=90), usegmt=True)
    assert 80 <= (retry_after_seconds(later) or 0) <= 90
