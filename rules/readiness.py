"""Tenant readiness: may user emails go out, and what would blocking legacy auth break today?"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from core.findings import Finding, SenderSetup, TenantSnapshot
from core.ingest import UnreadSpan
from core.records import AppleAppStatus, ConsentPolicy, UserState
from rules import links
from rules.rule import Reason, Rule

RULE = Rule(
    name="readiness",
    version="1",
    summary="Hold user emails while the re-add cannot succeed; tell the admin what to do.",
    reasons=(
        Reason(
            "held_tenant_not_ready",
            "high",
            "User emails are held: Apple Internet Accounts has no admin consent and users may not consent "
            "themselves, so the re-add cannot succeed.",
            "Grant tenant-wide admin consent to Apple Internet Accounts; the held emails go out on the next run.",
            links.ADMIN_CONSENT,
        ),
    ),
)


def user_emails_may_go(apple: AppleAppStatus | None, consent: ConsentPolicy | None) -> bool:
    """Users can finish the re-add when Apple's app has admin consent, or when they may consent themselves."""
    if apple is not None and apple.ready:
        return True
    return consent is not None and consent.users_can_consent is True


FINDINGS: tuple[Reason, ...] = (
    Reason(
        "signin_logs",
        "critical",
        "Graph can read the tenant's sign-in logs, which needs a Microsoft Entra ID P1 or P2 licence.",
        "Check three things: that the tenant has Entra ID P1 or P2 (included in Microsoft 365 E3/E5 and Business "
        "Premium; License Entra ID P1/P2 for at least one user if not); that the monitor's identity has admin "
        "consent for AuditLog.Read.All and Directory.Read.All; and, if both are in place, nothing: the refusal "
        "was passing and the next collection reads the last 30 days.",
        links.SIGNIN_LOGS,
    ),
    Reason(
        "device_partnerships",
        "medium",
        "Exchange device partnerships: which still sync with a legacy profile, which are obsolete.",
        "Ask the owners of legacy profiles to re-add the account (they are emailed); "
        "remove obsolete partnerships in the Exchange admin center.",
        links.GET_MOBILE_DEVICE,
    ),
    Reason(
        "apple_app",
        "high",
        "Apple Internet Accounts has admin consent for EAS.AccessAsUser.All, so users can re-add their accounts.",
        "Grant tenant-wide admin consent to Apple Internet Accounts "
        "(appId f8d98a96-0999-43f5-8af3-69971c7bb423) in Entra ID > Enterprise applications.",
        links.ADMIN_CONSENT,
    ),
    Reason(
        "user_consent",
        "low",
        "Whether users may consent to apps such as Apple's themselves (the authorization policy).",
        "",
        links.USER_CONSENT,
    ),
    Reason(
        "ca_legacy_block",
        "high",
        "An enabled Conditional Access policy blocks legacy authentication for all users.",
        "Fix those users first, then enable a policy blocking client apps "
        "'Exchange ActiveSync' and 'Other clients' for all users.",
        links.CA_BLOCK_LEGACY,
    ),
    Reason(
        "sender_domain",
        "medium",
        "User emails come from the organisation's own verified domain, not ACS's Azure-managed one.",
        "Add a custom domain to the Email Communication Service, verify it (TXT, SPF, DKIM records), connect "
        "it, and set LAM_SENDER_ADDRESS to an address of it (docs/deploy.md, 'A sender people trust').",
        links.ACS_CUSTOM_DOMAIN,
    ),
    Reason(
        "unread_signins",
        "high",
        "Every page of the sign-in logs Graph served could be read.",
        "Sign-ins in the spans listed were not counted: Graph answered pages there that could not be used, "
        "asked again and read around to the second. Review those minutes in the Microsoft Entra admin center "
        "(Sign-in logs, filtered to that date and time); later runs are not affected.",
        links.SIGNIN_LOGS,
    ),
    Reason(
        "attack",
        "high",
        "Password spray over legacy authentication: a source failing credentials on many accounts in one hour.",
        "Block legacy authentication with Conditional Access, review these sources, and check the "
        "accounts' passwords and MFA.",
        links.SPRAY_PLAYBOOK,
    ),
)
"""Every tenant finding, as data: its id, its severity when it fails, what it checks, the fix and a link."""
CATALOG: dict[str, Reason] = {entry.code: entry for entry in FINDINGS}


def finding(name: str, ok: bool, summary: str, action: str = "") -> Finding:
    """A tenant finding with the severity and link of its catalog entry (an ok finding is "info")."""
    entry = CATALOG[name]
    return Finding(name, ok, summary, action, "info" if ok else entry.severity, entry.link)


SIGNIN_LOGS_FINDING = finding(
    "signin_logs",
    False,
    "Graph kept refusing the sign-in logs with Authentication_RequestFromNonPremiumTenantOrB2CTenant, so nothing "
    "was collected. It may mean the tenant has no Microsoft Entra ID P1 or P2 licence, that consent to the "
    "audit-log permissions is missing, or a passing refusal, which Graph is known to give licensed tenants.",
    CATALOG["signin_logs"].action,
)


def tenant_findings(tenant: TenantSnapshot, states: Iterable[UserState]) -> list[Finding]:
    """Everything known about the tenant, as the admin reads it: the stored checks, judged."""
    return tenant_findings_counted(tenant, sum(1 for s in states if s.verdict.status == "legacy_active"))


def tenant_findings_counted(tenant: TenantSnapshot, legacy_active_users: int) -> list[Finding]:
    """The same findings from the count of legacy_active users alone (the admin views keep it per run)."""
    apple, consent, legacy_block = tenant.apple_app, tenant.user_consent, tenant.legacy_block
    attack, devices = tenant.attack, tenant.devices
    findings: list[Finding] = [SIGNIN_LOGS_FINDING] if tenant.signin_logs_available is False else []
    if tenant.unread:
        findings.append(unread_finding(tenant.unread))
    if devices is not None and not devices.readable:
        findings.append(finding("device_partnerships", False, f"Device partnerships unavailable: {devices.problem}"))
    elif devices is not None:
        findings.append(
            finding(
                "device_partnerships",
                devices.legacy == 0,
                f"Exchange device partnerships: {devices.devices} read in {devices.requests} request(s); "
                f"{devices.legacy} still sync with a legacy profile; {devices.obsolete} obsolete (listed, not mailed).",
                _device_action(user_emails_may_go(apple, consent)) if devices.legacy or devices.obsolete else "",
            )
        )
    if apple is None:
        findings.append(finding("apple_app", False, "The Apple app has not been checked yet.", "Run the monitor once."))
    elif apple.ready:
        findings.append(
            finding("apple_app", True, f"{apple.display_name or 'Apple Internet Accounts'} has admin consent.")
        )
    else:
        where = "is not in the tenant" if not apple.present else "has no admin consent for EAS.AccessAsUser.All"
        may_go = user_emails_may_go(apple, consent)
        findings.append(
            finding(
                "apple_app",
                may_go,
                f"Apple Internet Accounts {where}; "
                + ("users may consent themselves." if may_go else "user emails are held."),
                CATALOG["apple_app"].action,
            )
        )
    if consent is not None and consent.users_can_consent is None:
        findings.append(finding("user_consent", False, f"User consent policy unknown: {consent.problem}"))
    if legacy_block is not None:
        if not legacy_block.readable:
            findings.append(finding("ca_legacy_block", False, f"Conditional Access unknown: {legacy_block.problem}"))
        elif legacy_block.blocking:
            findings.append(
                finding(
                    "ca_legacy_block", True, "Legacy authentication is blocked by: " + ", ".join(legacy_block.blocking)
                )
            )
        else:
            report_only = f" (report-only: {', '.join(legacy_block.report_only)})" if legacy_block.report_only else ""
            findings.append(
                finding(
                    "ca_legacy_block",
                    False,
                    f"No enabled Conditional Access policy blocks legacy authentication{report_only}; "
                    f"enabling one today would cut off {legacy_active_users} user(s) still on legacy authentication.",
                    CATALOG["ca_legacy_block"].action,
                )
            )
    if tenant.sender is not None:
        findings.append(sender_finding(tenant.sender, legacy_active_users))
    if attack is not None and attack.accounts:
        sources = ", ".join(f"{ip} ({n} accounts)" for ip, n in list(attack.sources.items())[:5])
        count = max(attack.source_count, len(attack.sources))
        among = sources if count == len(attack.sources) else f"{count} source(s), the most active {sources}"
        among = among if attack.sources else f"{count} source(s)"
        findings.append(
            finding(
                "attack",
                False,
                f"Password spray over legacy authentication between {attack.first_seen:%Y-%m-%d %H:%M} and "
                f"{attack.last_seen:%Y-%m-%d %H:%M} UTC from {among}: {attack.accounts} account(s) show only "
                "attack traffic and were not emailed.",
                CATALOG["attack"].action,
            )
        )
    return findings


def unread_finding(spans: Sequence[UnreadSpan]) -> Finding:
    """What the admin must look up by hand: each skipped span of the log, with what Graph answered there."""
    shown = "; ".join(
        f"{STREAM_NAMES.get(s.stream, s.stream)} {s.start:%Y-%m-%d %H:%M:%S} to "
        f"{s.end:%H:%M:%S}{'' if s.end.date() == s.start.date() else f' on {s.end:%Y-%m-%d}'} UTC ({s.code})"
        for s in spans[:5]
    )
    more = f" and {len(spans) - 5} more" if len(spans) > 5 else ""
    return finding(
        "unread_signins",
        False,
        f"Part of the sign-in log could not be read: {len(spans)} span(s) skipped as poison pages: {shown}{more}.",
        CATALOG["unread_signins"].action,
    )


STREAM_NAMES = {"signins-legacy": "legacy sign-ins", "signins-apple": "Apple app sign-ins"}


def _device_action(emails_may_go: bool) -> str:
    """The partnership owners are emailed only while Apple's app may be consented to: never claim more."""
    action = CATALOG["device_partnerships"].action
    if emails_may_go:
        return action
    return action.replace("(they are emailed)", "(their emails are held until Apple's app has consent)")


AZURE_MANAGED_SUFFIX = ".azurecomm.net"
AZURE_MANAGED_PER_HOUR = 10
"""ACS caps an Azure-managed domain at about ten emails an hour, whatever LAM_SEND_PER_HOUR says."""


def sender_finding(sender: SenderSetup, users: int) -> Finding:
    """An Azure-managed sender looks like phishing to users, and is capped: say so, with the time it takes."""
    domain = sender.address.rpartition("@")[2].casefold()
    if not domain.endswith(AZURE_MANAGED_SUFFIX):
        return finding("sender_domain", True, f"User emails come from your own domain {domain}.")
    per_hour = max(1, min(sender.per_hour, AZURE_MANAGED_PER_HOUR))
    hours = -(-users * sender.messages_per_user // per_hour)
    return finding(
        "sender_domain",
        False,
        f"User emails come from the Azure-managed domain {domain}: users may take a message from an unknown "
        f"address telling them to delete their mail account for phishing; at {per_hour} an hour your {users} "
        f"user(s) still on legacy authentication take {hours} hour(s) to get {sender.messages_per_user} email(s) "
        "each.",
        CATALOG["sender_domain"].action,
    )


def blocks_legacy_for_everyone(policy: dict[str, Any]) -> bool:
    """Client apps exchangeActiveSync and other, all users, all cloud apps, grant control block."""
    conditions = policy.get("conditions") or {}
    client_types = {str(t) for t in conditions.get("clientAppTypes") or ()}
    users = conditions.get("users") or {}
    apps = conditions.get("applications") or {}
    grant = policy.get("grantControls") or {}
    return (
        {"exchangeActiveSync", "other"} <= client_types
        and "All" in (users.get("includeUsers") or ())
        and "All" in (apps.get("includeApplications") or ())
        and "block" in (grant.get("builtInControls") or ())
    )
