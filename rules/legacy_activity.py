"""A real device still using legacy EAS, or an attack that only looks like one.

Successful legacy sign-ins are a device. Failed ones are a device when one mail-client user agent
repeats them from few networks (or with a policy refusal rather than a wrong password). Without such an
agent (the v1.0 sign-in API has none) the failures are a device when they come from one steady network
and carry at least two of a device's other marks: a policy refusal (the password was right), retries
spread over many hours, a phone or Mac in deviceDetail. Otherwise, and above all when the source failed on
many accounts in the same hour, they are an attack. A missing agent alone never makes an attack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.config import RuleConfig
from core.records import OTHER, Evidence
from rules import links
from rules.rule import Reason, Rule
from rules.signals import NO_AGENT, is_mail_client, refused_by_policy, system_platform

RECURRING_HOURS = 3
"""Attempts in this many different hours are a client retrying on its own schedule, not one burst."""

RULE = Rule(
    name="legacy_activity",
    version="3",
    summary="Device keeps using legacy EAS (legacy_active) versus password spray / brute force (attack_suspected).",
    reasons=(
        Reason(
            "legacy_signin_succeeded",
            "high",
            "Legacy (basic authentication) sign-ins succeeded: a device still uses legacy Exchange ActiveSync "
            "with the user's password.",
            "The user re-adds the account with modern authentication (they are emailed, then reminded).",
            links.BASIC_AUTH_DEPRECATION,
        ),
        Reason(
            "legacy_signin_failed",
            "medium",
            "Legacy sign-ins failed; the other reasons say whether a device or an attacker made them.",
            "Read the failure codes and the other reasons: a device to fix, or an attack to block.",
            links.SIGNIN_ERROR_CODES,
        ),
        Reason(
            "stable_device_signature",
            "medium",
            "The failures repeat from one mail-client user agent on few networks (or are refused by policy, "
            "which a password guesser is not): a real device.",
            "The user re-adds the account on that device (they are emailed).",
            links.BASIC_AUTH_DEPRECATION,
        ),
        Reason(
            "device_without_user_agent",
            "medium",
            "No mail-client user agent (the v1.0 sign-in API carries none), but the failures come from one steady "
            "network and carry at least two marks of a device: a policy refusal (the password was right), retries "
            "over several hours, a phone or Mac in deviceDetail.",
            "The user re-adds the account on that device (they are emailed); Exchange device partnerships "
            "(LAM_COLLECT_DEVICES) name it.",
            links.BASIC_AUTH_DEPRECATION,
        ),
        Reason(
            "single_failed_attempt",
            "low",
            "One failed legacy attempt from a mail client, refused by policy: a device, but too little to mail "
            "about (held, not mailed).",
            "None yet; a repeat makes the user legacy_active and mailed.",
        ),
        Reason(
            "legacy_after_apple_app_signin",
            "medium",
            "Legacy sign-ins went on after Apple's app signed in with modern authentication: re-added on one "
            "device, another still uses legacy.",
            "The user re-adds the account on the other device too (they are emailed).",
            links.APPLE_MAIL_MIGRATION,
        ),
        Reason(
            "also_targeted_by_spray",
            "high",
            "Besides the device still on legacy, the account was hit by a password-spray source "
            "(see the attack finding).",
            "Fix the device as for any legacy user, and check the account's password and MFA.",
            links.SPRAY_PLAYBOOK,
        ),
        Reason(
            "spray_source",
            "high",
            "The failures came from a source that failed on at least LAM_SPRAY_MIN_ACCOUNTS accounts "
            "in one hour: a password spray.",
            "Block legacy authentication with Conditional Access, review the source, "
            "and check the account's password and MFA.",
            links.SPRAY_PLAYBOOK,
        ),
        Reason(
            "credential_failures",
            "medium",
            "The failures are wrong-credential errors (such as 50126): someone is guessing the password.",
            "Check the account's password and MFA, and block legacy authentication.",
            links.SIGNIN_ERROR_CODES,
        ),
        Reason(
            "many_source_networks",
            "medium",
            "The failures came from more source networks (IPv4 /24, IPv6 /48) than LAM_DEVICE_MAX_NETWORKS: "
            "not one device.",
            "Treat it as an attack: block legacy authentication and check the account's password and MFA.",
            links.CA_BLOCK_LEGACY,
        ),
        Reason(
            "many_countries",
            "medium",
            "The failures came from two or more countries.",
            "Treat it as an attack: block legacy authentication and check the account's password and MFA.",
            links.CA_BLOCK_LEGACY,
        ),
        Reason(
            "no_stable_device",
            "medium",
            "No mail-client user agent repeats the failures: no real device is behind them, so the user is not mailed.",
            "Block legacy authentication with Conditional Access; there is no device to fix.",
            links.CA_BLOCK_LEGACY,
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class Signature:
    """What identifies the device behind a user's failures, and how many attempts it made."""

    source: Literal["agent", "system", "behaviour"]
    """A mail-client user agent; else deviceDetail naming a phone or Mac; else only how the attempts behave."""
    attempts: int
    """Attempts of that agent or system (or all attempts), less those that came from spray sources."""
    platform: str | None = None


def signature(evidence: Evidence) -> Signature:
    """The best evidence of a device: the most frequent mail-client agent, else the most frequent
    deviceDetail system of a mail platform, else the attempts themselves."""
    agents = [n for agent, n in evidence.agents.items() if agent not in (NO_AGENT, OTHER) and is_mail_client(agent)]
    if agents:
        return Signature("agent", max(max(agents) - evidence.spray_failures, 0))
    systems = [(n, key) for key, n in evidence.systems.items() if key != OTHER and system_platform(key)]
    if systems:
        count, key = max(systems)
        return Signature("system", max(count - evidence.spray_failures, 0), system_platform(key))
    return Signature("behaviour", max(evidence.legacy_total - evidence.spray_failures, 0))


def device_marks(evidence: Evidence, found: Signature) -> tuple[str, ...]:
    """A device's marks besides its agent: refused by policy, retrying over hours, a mail platform."""
    marks = []
    if refused_by_policy(evidence.failure_codes, evidence.credential_failures):
        marks.append("policy_refusal")
    if len(evidence.hours) >= RECURRING_HOURS:  # a capped map keeps 15 hours and "the rest": still >= 3
        marks.append("recurring")
    if found.platform:
        marks.append("mail_platform")
    return tuple(marks)


def has_stable_device(evidence: Evidence, config: RuleConfig) -> bool:
    found = signature(evidence)
    if found.attempts < config.device_min_attempts:
        return False
    few_networks = len(evidence.networks) <= config.device_max_networks
    if found.source == "agent":
        # A device refused by policy knows the password; roaming across networks does not make it an attacker.
        return few_networks or evidence.credential_failures == 0
    steady = few_networks and len(_known(evidence.countries)) <= 1
    return steady and len(device_marks(evidence, found)) >= 2


def classify(
    evidence: Evidence, config: RuleConfig
) -> tuple[Literal["legacy_active", "attack_suspected"], tuple[str, ...]]:
    reasons: list[str] = []
    targeted = evidence.spray_failures > 0
    if evidence.legacy_success:
        reasons.append("legacy_signin_succeeded")
    if evidence.legacy_failure:
        reasons.append("legacy_signin_failed")
    device = evidence.legacy_success > 0 or has_stable_device(evidence, config)
    if not device and _single_device_failure(evidence):
        return "legacy_active", (*reasons, "single_failed_attempt")
    if device:
        if evidence.legacy_failure and not evidence.legacy_success:
            agent = signature(evidence).source == "agent"
            reasons.append("stable_device_signature" if agent else "device_without_user_agent")
        if evidence.last_apple_at is not None:
            reasons.append("legacy_after_apple_app_signin")
        if targeted:
            reasons.append("also_targeted_by_spray")
        return "legacy_active", tuple(reasons)
    signals = ["spray_source"] if targeted else []
    if evidence.credential_failures:
        signals.append("credential_failures")
    if len(evidence.networks) > config.device_max_networks:
        signals.append("many_source_networks")
    if len(_known(evidence.countries)) >= 2:
        signals.append("many_countries")
    signals.append("no_stable_device")
    return "attack_suspected", tuple(signals)


def _known(countries: dict[str, int]) -> list[str]:
    return [c for c in countries if c not in ("unknown", OTHER)]


def _single_device_failure(evidence: Evidence) -> bool:
    """One failed attempt from a mail client, refused by policy: a device, but too little to mail about."""
    found = signature(evidence)
    return (
        evidence.legacy_total == 1
        and evidence.credential_failures == 0
        and evidence.spray_failures == 0
        and found.source != "behaviour"
        and found.attempts == 1
    )
