"""A user with no legacy sign-in for the whole stale window has nothing left to fix."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.records import Evidence
from rules.rule import Reason, Rule

RULE = Rule(
    name="staleness",
    version="1",
    summary="No legacy sign-in within the stale window (default 60 days).",
    reasons=(
        Reason(
            "no_legacy_signin_in_stale_window",
            "info",
            "No legacy sign-in within the stale window (LAM_STALE_DAYS, 60 days by default): nothing left to fix.",
            "None; a new legacy sign-in brings the user back.",
        ),
    ),
)


def is_stale(evidence: Evidence, stale_days: int, now: datetime) -> bool:
    last = evidence.last_legacy_at
    return last is None or now - last > timedelta(days=stale_days)
