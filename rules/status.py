"""Decide each tracked user's status: the rules in order, first match wins.

exclusion        → excluded              never mailed
staleness        → stale                 nothing legacy within the stale window
remediation      → remediated | pending_verification
legacy_activity  → legacy_active | attack_suspected
"""

from __future__ import annotations

from datetime import datetime

from core.records import DirectoryUser, Evidence, Verdict
from core.settings import Settings
from rules import advice, exclusion, legacy_activity, remediation, spray, staleness
from rules.user_agent import parse_user_agent

RULES = (exclusion.RULE, staleness.RULE, remediation.RULE, legacy_activity.RULE, advice.RULE)
RULE_VERSION = "+".join(f"{rule.name}@{rule.version}" for rule in RULES) + f"+{spray.NAME}@{spray.VERSION}"
"""Stored with every verdict; a change here re-evaluates every stored user on the next run."""


def evaluate(evidence: Evidence, user: DirectoryUser | None, settings: Settings, now: datetime) -> Verdict:
    excluded = exclusion.exclusion_reasons(user, evidence, settings)
    if excluded:
        return Verdict("excluded", excluded)
    if staleness.is_stale(evidence, settings.stale_days, now):
        return Verdict("stale", ("no_legacy_signin_in_stale_window",))
    stage = remediation.remediation_stage(evidence, settings.remediation_quiet_hours, now)
    if stage == "remediated":
        return Verdict(stage, ("apple_app_signin_after_legacy", "no_legacy_signin_in_quiet_period"))
    if stage == "pending_verification":
        return Verdict(stage, ("apple_app_signin_after_legacy", "quiet_period_running"))
    status, reasons = legacy_activity.classify(evidence, settings)
    if status == "attack_suspected":
        return Verdict(status, reasons)
    return Verdict(status, reasons, advice.advice_for(parse_user_agent(evidence.user_agent)))
