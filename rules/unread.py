"""Spans of the sign-in log that could not be read (poison pages skipped): kept few, joined, and dated.

A skipped span is one second (a poison page is read around by splitting its time range), and a Graph
that keeps answering badly skips neighbouring seconds: touching spans of one stream are joined into
one, and only the MAX_SPANS latest are kept, so the admin's finding and the window row stay small
however often it happens. A span older than the sign-in log's retention (LOOKBACK_DAYS) can no longer
be looked up in Entra ID, so the finding drops it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from core.ingest import UnreadSpan

MAX_SPANS = 20
LOOKBACK_DAYS = 30
"""Entra ID keeps sign-in logs 30 days (P1/P2): a span older than that cannot be checked any more."""


def merge_spans(kept: Iterable[UnreadSpan], new: Iterable[UnreadSpan], limit: int = MAX_SPANS) -> list[UnreadSpan]:
    """Both lists in one, touching or overlapping spans of a stream joined, newest ``limit`` kept (by end)."""
    ordered = sorted({*kept, *new}, key=lambda s: (s.stream, s.start, s.end))
    joined: list[UnreadSpan] = []
    for span in ordered:
        last = joined[-1] if joined else None
        if last is not None and last.stream == span.stream and span.start <= last.end:
            joined[-1] = UnreadSpan(last.stream, last.start, max(last.end, span.end), last.code)
        else:
            joined.append(span)
    return sorted(joined, key=lambda s: (s.end, s.stream), reverse=True)[:limit]


def still_checkable(spans: Iterable[UnreadSpan], now: datetime, days: int = LOOKBACK_DAYS) -> list[UnreadSpan]:
    """The spans whose sign-ins Entra ID still keeps, newest first."""
    return merge_spans((), (s for s in spans if s.end > now - timedelta(days=days)))
