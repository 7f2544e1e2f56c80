"""Each watched protocol as the admin reads it: what Microsoft changes and when, days left, who is still on it.

The dates come from the registry (rules/protocols.py) only: a day is shown where a source confirms one; a
month Microsoft gave without a day stays words, and its days left count to that month's last day. The
counts are the ones the last collect run kept (core/runs.py UserBreakdown.open_by_protocol): no scan of
the users table per request.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from rules.protocols import SENDER_KINDS, Retirement, retirement_of

OUTCOMES = ("succeeding", "failing")


def protocol_views(
    watched: Iterable[str], open_by_protocol: dict[str, dict[str, dict[str, int]]], today: date
) -> list[dict[str, Any]]:
    """One entry per watched protocol, the soonest switch-off first (those without one after, as watched)."""
    views = [_view(name, open_by_protocol, today) for name in dict.fromkeys(watched)]
    return sorted(views, key=lambda v: v["days_left"] if v["days_left"] is not None else 10**6)


def _view(name: str, counts: dict[str, dict[str, dict[str, int]]], today: date) -> dict[str, Any]:
    entry = retirement_of(name)
    protocol = entry.client_app if entry else name
    kinds = counts.get(protocol, {})
    by_kind = {
        kind: {outcome: kinds.get(kind, {}).get(outcome, 0) for outcome in OUTCOMES}
        for kind in (*SENDER_KINDS, *sorted(set(kinds) - set(SENDER_KINDS)))
        if kind in kinds or (entry is not None and kind in entry.kinds)
    }
    days = entry.days_left(today) if entry else None
    return {
        "protocol": protocol,
        "summary": entry.summary if entry else None,
        "switch_off": (entry.deadline_words or None) if entry else None,
        "switch_off_date": _confirmed_day(entry),
        "days_left": None if days is None else max(days, 0),
        "milestones": [
            {"when": m.when, "change": m.change, "date": m.on.isoformat() if m.on else None}
            for m in (entry.milestones if entry else ())
        ],
        "refusal": (entry.refusal or None) if entry else None,
        "accounts": {outcome: sum(k[outcome] for k in by_kind.values()) for outcome in OUTCOMES},
        "by_kind": by_kind,
    }


def _confirmed_day(entry: Retirement | None) -> str | None:
    """The switch-off day only where a milestone confirms it (never the month's last day we count to)."""
    if entry is None or entry.deadline is None:
        return None
    confirmed = {m.on for m in entry.milestones if m.on}
    return entry.deadline.isoformat() if entry.deadline in confirmed else None
