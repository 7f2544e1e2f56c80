"""Tenant readiness: may user emails go out, and what would blocking legacy auth break today?"""

from __future__ import annotations

from dataclasses import dataclass

from core.records import AppleAppStatus, ConsentPolicy, LegacyBlockPolicy
from rules.rule import Rule
from rules.spray import AttackFinding

RULE = Rule(
    name="readiness",
    version="1",
    summary="Hold user emails while the re-add cannot succeed; tell the admin what to do.",
    reasons=("held_tenant_not_ready",),
)


def user_emails_may_go(apple: AppleAppStatus | None, consent: ConsentPolicy | None) -> bool:
    """Users can finish the re-add when Apple's app has admin consent, or when they may consent themselves."""
    if apple is not None and apple.ready:
        return True
    return consent is not None and consent.users_can_consent is True


@dataclass(frozen=True)
class DeviceFinding:
    """The device collector's last outcome: what it saw, or what the admin must grant."""

    readable: bool
    problem: str = ""
    devices: int = 0
    legacy: int = 0
    obsolete: int = 0
    requests: int = 0


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    summary: str
    action: str = ""


SIGNIN_LOGS_FINDING = Finding(
    "signin_logs",
    False,
    "Graph refuses the sign-in logs: the tenant has no Microsoft Entra ID P1 or P2 licence, "
    "so nothing can be collected.",
    "License Entra ID P1/P2 (included in Microsoft 365 E3/E5 and Business Premium) for at least one user; "
    "the next collection then reads the last 30 days.",
)


def tenant_findings(
    apple: AppleAppStatus | None,
    consent: ConsentPolicy | None,
    legacy_block: LegacyBlockPolicy | None,
    attack: AttackFinding | None,
    legacy_active_users: int,
    devices: DeviceFinding | None = None,
) -> list[Finding]:
    findings: list[Finding] = []
    if devices is not None and not devices.readable:
        findings.append(Finding("device_partnerships", False, f"Device partnerships unavailable: {devices.problem}"))
    elif devices is not None:
        findings.append(
            Finding(
                "device_partnerships",
                devices.legacy == 0,
                f"Exchange device partnerships: {devices.devices} read in {devices.requests} request(s); "
                f"{devices.legacy} still sync with a legacy profile; {devices.obsolete} obsolete (listed, not mailed).",
                "Ask the owners of legacy profiles to re-add the account (they are emailed); "
                "remove obsolete partnerships in the Exchange admin center."
                if devices.legacy or devices.obsolete
                else "",
            )
        )
    if apple is None:
        findings.append(Finding("apple_app", False, "The Apple app has not been checked yet.", "Run the monitor once."))
    elif apple.ready:
        findings.append(
            Finding("apple_app", True, f"{apple.display_name or 'Apple Internet Accounts'} has admin consent.")
        )
    else:
        where = "is not in the tenant" if not apple.present else "has no admin consent for EAS.AccessAsUser.All"
        may_go = user_emails_may_go(apple, consent)
        findings.append(
            Finding(
                "apple_app",
                may_go,
                f"Apple Internet Accounts {where}; "
                + ("users may consent themselves." if may_go else "user emails are held."),
                "Grant tenant-wide admin consent to Apple Internet Accounts "
                "(appId f8d98a96-0999-43f5-8af3-69971c7bb423) in Entra ID > Enterprise applications.",
            )
        )
    if consent is not None and consent.users_can_consent is None:
        findings.append(Finding("user_consent", False, f"User consent policy unknown: {consent.problem}"))
    if legacy_block is not None:
        if not legacy_block.readable:
            findings.append(Finding("ca_legacy_block", False, f"Conditional Access unknown: {legacy_block.problem}"))
        elif legacy_block.blocking:
            findings.append(
                Finding(
                    "ca_legacy_block", True, "Legacy authentication is blocked by: " + ", ".join(legacy_block.blocking)
                )
            )
        else:
            report_only = f" (report-only: {', '.join(legacy_block.report_only)})" if legacy_block.report_only else ""
            findings.append(
                Finding(
                    "ca_legacy_block",
                    False,
                    f"No enabled Conditional Access policy blocks legacy authentication{report_only}; "
                    f"enabling one today would cut off {legacy_active_users} user(s) still on legacy EAS.",
                    "Fix those users first, then enable a policy blocking client apps "
                    "'Exchange ActiveSync' and 'Other clients' for all users.",
                )
            )
    if attack is not None and attack.accounts:
        sources = ", ".join(f"{ip} ({n} accounts)" for ip, n in list(attack.sources.items())[:5])
        findings.append(
            Finding(
                "attack",
                False,
                f"Password spray over legacy authentication between {attack.first_seen:%Y-%m-%d %H:%M} and "
                f"{attack.last_seen:%Y-%m-%d %H:%M} UTC from {sources}: {attack.accounts} account(s) show only "
                "attack traffic and were not emailed.",
                "Block legacy authentication with Conditional Access, review these sources, and check the "
                "accounts' passwords and MFA.",
            )
        )
    return findings
