"""Decide each tracked user's status from their evidence, directory entry and the clock.

Statuses, first match wins:
  excluded              never mailed: exclusion list, disabled, guest, not found, no mailbox
  stale                 no legacy sign-in within the stale window
  remediated            an Apple-app sign-in after the last legacy one, and the quiet period passed
  pending_verification  an Apple-app sign-in after the last legacy one, quiet period still running
  legacy_active         the device still signs in with legacy authentication
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.records import DirectoryUser, Evidence, Verdict
from core.settings import Settings

RULE_VERSION = "1"
"""Bump when a rule changes meaning: stored users with another version are re-evaluated."""


def evaluate(evidence: Evidence, user: DirectoryUser | None, settings: Settings, now: datetime) -> Verdict:
    excluded = exclusion_reasons(user, evidence, settings)
    if excluded:
        return Verdict("excluded", excluded)
    last_legacy = evidence.last_legacy_at
    if last_legacy is None or now - last_legacy > timedelta(days=settings.stale_days):
        return Verdict("stale", ("no_legacy_signin_in_stale_window",))
    if evidence.last_apple_at is not None and evidence.last_apple_at > last_legacy:
        if now - last_legacy >= timedelta(hours=settings.remediation_quiet_hours):
            return Verdict("remediated", ("apple_app_signin_after_legacy", "no_legacy_signin_in_quiet_period"))
        return Verdict("pending_verification", ("apple_app_signin_after_legacy", "quiet_period_running"))
    return Verdict("legacy_active", legacy_reasons(evidence))


def exclusion_reasons(user: DirectoryUser | None, evidence: Evidence, settings: Settings) -> tuple[str, ...]:
    if user is None:
        return ("not_in_directory",)
    reasons: list[str] = []
    upns = {user.upn.casefold(), evidence.upn.casefold()} - {""}
    if upns & settings.excluded_upns:
        reasons.append("excluded_by_setting")
    if not user.account_enabled:
        reasons.append("account_disabled")
    if user.user_type.casefold() == "guest":
        reasons.append("guest_account")
    if not user.mail:
        reasons.append("no_mailbox")
    return tuple(reasons)


def legacy_reasons(evidence: Evidence) -> tuple[str, ...]:
    reasons: list[str] = []
    if evidence.legacy_success:
        reasons.append("legacy_signin_succeeded")
    if evidence.legacy_failure:
        reasons.append("legacy_signin_failed")
    if evidence.last_apple_at is not None:
        reasons.append("legacy_after_apple_app_signin")
    return tuple(reasons)
