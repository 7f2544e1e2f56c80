"""Did the user re-add the account? An Apple-app sign-in after the last legacy one, then quiet."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from core.records import Evidence
from rules.rule import Reason, Rule

RULE = Rule(
    name="remediation",
    version="1",
    summary="Apple-app sign-in after the last legacy one; remediated once no legacy sign-in for the quiet period.",
    reasons=(
        Reason(
            "apple_app_signin_after_legacy",
            "info",
            "Apple's app signed in with modern authentication after the user's last legacy sign-in: "
            "the account was re-added.",
            "None.",
        ),
        Reason(
            "quiet_period_running",
            "info",
            "The quiet period after the last legacy sign-in (LAM_REMEDIATION_QUIET_HOURS, 24 h by default) "
            "is still running: the fix is not verified yet.",
            "Wait: without a legacy sign-in the user becomes remediated; with one, legacy_active again.",
        ),
        Reason(
            "no_legacy_signin_in_quiet_period",
            "info",
            "No legacy sign-in for the whole quiet period after the re-add: the fix is verified.",
            "None.",
        ),
    ),
)


def remediation_stage(
    evidence: Evidence, quiet_hours: int, now: datetime
) -> Literal["remediated", "pending_verification"] | None:
    last_legacy, last_apple = evidence.last_legacy_at, evidence.last_apple_at
    if last_legacy is None or last_apple is None or last_apple <= last_legacy:
        return None
    return "remediated" if now - last_legacy >= timedelta(hours=quiet_hours) else "pending_verification"
