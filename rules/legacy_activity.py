"""A real device still using legacy EAS, or an attack that only looks like one.

Successful legacy sign-ins are a device. Failed ones are a device when one mail-client user agent
repeats them from few networks (or with a policy refusal rather than a wrong password); otherwise,
and above all when the source failed on many accounts in the same hour, they are an attack.
"""

from __future__ import annotations

from typing import Literal

from core.records import Evidence
from core.settings import Settings
from rules.rule import Rule
from rules.signals import is_mail_client

RULE = Rule(
    name="legacy_activity",
    version="2",
    summary="Device keeps using legacy EAS (legacy_active) versus password spray / brute force (attack_suspected).",
    reasons=(
        "legacy_signin_succeeded",
        "legacy_signin_failed",
        "stable_device_signature",
        "single_failed_attempt",
        "legacy_after_apple_app_signin",
        "also_targeted_by_spray",
        "spray_source",
        "credential_failures",
        "many_source_networks",
        "many_countries",
        "no_stable_device",
    ),
)


def device_attempts(evidence: Evidence) -> int:
    """Attempts of the most frequent mail-client user agent, less those that came from spray sources."""
    mail_agents = [n for agent, n in evidence.agents.items() if is_mail_client(agent)]
    return max(max(mail_agents, default=0) - evidence.spray_failures, 0)


def has_stable_device(evidence: Evidence, settings: Settings) -> bool:
    attempts = device_attempts(evidence)
    if attempts < settings.device_min_attempts:
        return False
    few_networks = len(evidence.networks) <= settings.device_max_networks
    # A device refused by policy knows the password; roaming across networks does not make it an attacker.
    return few_networks or evidence.credential_failures == 0


def classify(
    evidence: Evidence, settings: Settings
) -> tuple[Literal["legacy_active", "attack_suspected"], tuple[str, ...]]:
    reasons: list[str] = []
    targeted = evidence.spray_failures > 0
    if evidence.legacy_success:
        reasons.append("legacy_signin_succeeded")
    if evidence.legacy_failure:
        reasons.append("legacy_signin_failed")
    device = evidence.legacy_success > 0 or has_stable_device(evidence, settings)
    if not device and _single_device_failure(evidence):
        return "legacy_active", (*reasons, "single_failed_attempt")
    if device:
        if evidence.legacy_failure and not evidence.legacy_success:
            reasons.append("stable_device_signature")
        if evidence.last_apple_at is not None:
            reasons.append("legacy_after_apple_app_signin")
        if targeted:
            reasons.append("also_targeted_by_spray")
        return "legacy_active", tuple(reasons)
    signals = ["spray_source"] if targeted else []
    if evidence.credential_failures:
        signals.append("credential_failures")
    if len(evidence.networks) > settings.device_max_networks:
        signals.append("many_source_networks")
    if len([c for c in evidence.countries if c != "unknown"]) >= 2:
        signals.append("many_countries")
    signals.append("no_stable_device")
    return "attack_suspected", tuple(signals)


def _single_device_failure(evidence: Evidence) -> bool:
    """One failed attempt from a mail client, refused by policy: a device, but too little to mail about."""
    return (
        evidence.legacy_total == 1
        and evidence.credential_failures == 0
        and evidence.spray_failures == 0
        and device_attempts(evidence) == 1
    )
