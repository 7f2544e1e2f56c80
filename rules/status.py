"""Decide each tracked user's status: the rules in order, first match wins.

exclusion        → excluded              never mailed
staleness        → stale                 nothing legacy within the stale window
remediation      → remediated | pending_verification
legacy_activity  → legacy_active | attack_suspected
smtp_senders     → stale | legacy_active | attack_suspected   (an account seen on SMTP AUTH alone, or a
                   device or application seen on IMAP4, POP3 or EWS alone; mailbox_clients declares those codes)
"""

from __future__ import annotations

from datetime import datetime

from core.config import RuleConfig
from core.records import DeviceRecord, DirectoryUser, Evidence, Verdict
from rules import advice, devices, exclusion, legacy_activity, mailbox_clients, remediation, senders, spray, staleness

RULES = (
    exclusion.RULE,
    devices.RULE,
    staleness.RULE,
    remediation.RULE,
    legacy_activity.RULE,
    advice.RULE,
    senders.RULE,
    mailbox_clients.RULE,
)
STATUS_VERSION = "2"
"""How the rules' answers combine into one status (2: a still-syncing legacy partnership behind failures that
look like an attack makes the user legacy_active, and mailed)."""
RULE_VERSION = (
    "+".join(f"{rule.name}@{rule.version}" for rule in RULES) + f"+{spray.NAME}@{spray.VERSION}+status@{STATUS_VERSION}"
)
"""Stored with every verdict; a change here re-evaluates every stored user on the next run."""


def evaluate(
    evidence: Evidence,
    user: DirectoryUser | None,
    config: RuleConfig,
    now: datetime,
    partnerships: tuple[DeviceRecord, ...] = (),
    told_at: datetime | None = None,
    mailbox_type: str = "",
) -> Verdict:
    """``told_at``: when the user (or an SMTP AUTH sender's owner) was first emailed, if ever;
    ``mailbox_type``: Exchange's RecipientTypeDetails of a shared or resource mailbox ("" if not known)."""
    excluded = exclusion.exclusion_reasons(user, evidence, config)
    if excluded:
        return Verdict("excluded", excluded)
    sender_protocol = senders.judged_here(evidence, config)
    if sender_protocol is not None and not partnerships:
        return senders.judge(evidence, config, now, told_at, sender_protocol, mailbox_type)
    last_apple, last_legacy = evidence.last_apple_at, evidence.last_legacy_at
    fixed_at = last_apple if last_apple and (last_legacy is None or last_apple > last_legacy) else None
    still_legacy = devices.legacy_devices(partnerships, config.stale_days, now, fixed_at)
    device_reasons = tuple(dict.fromkeys(r for v in still_legacy for r in v.reasons))
    if not still_legacy:
        if evidence.legacy_total == 0 and devices.only_obsolete(partnerships, config.stale_days, now):
            return Verdict("stale", ("obsolete_device_only",))
        if staleness.is_stale(evidence, config.stale_days, now):
            return Verdict("stale", ("no_legacy_signin_in_stale_window",))
        stage = remediation.remediation_stage(evidence, config.remediation_quiet_hours, now)
        if stage == "remediated":
            return Verdict(stage, ("apple_app_signin_after_legacy", "no_legacy_signin_in_quiet_period"))
        if stage == "pending_verification":
            return Verdict(stage, ("apple_app_signin_after_legacy", "quiet_period_running"))
    if evidence.legacy_total == 0:  # known only from its device partnership
        agent = still_legacy[0].device.user_agent
        return Verdict("legacy_active", device_reasons, advice.advice_for(devices.seen_device(agent)))
    status, reasons = legacy_activity.classify(evidence, config)
    if status == "attack_suspected" and not device_reasons:
        return Verdict(status, reasons)
    if status == "attack_suspected":  # the partnership shows a real device behind the failures: mail its owner
        status = "legacy_active"
        targeted = ("also_targeted_by_spray",) if evidence.spray_failures else ()
        reasons = ("legacy_signin_failed", *targeted)
    seen = devices.seen_device(evidence.user_agent, evidence.device_os)
    if seen.platform == "unknown" and still_legacy:  # no agent in the sign-ins: the partnership names the device
        seen = devices.seen_device(still_legacy[0].device.user_agent, still_legacy[0].device.device_os)
    return Verdict(status, reasons + device_reasons, advice.advice_for(seen))
