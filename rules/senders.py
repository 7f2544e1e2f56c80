"""Who sends with basic SMTP AUTH, judged from the evidence: a person, a device, an application, an attack.
The same evidence judges the devices and applications on IMAP4, POP3 and EWS (rules/mailbox_clients.py).

A mail-client user agent is a person's mail app. A script's or HTTP library's agent is an application.
Without either, one steady source network at a device's pace (a scan now and then, never a flood) is a
printer or scanner, and anything else is an application or script. A shared or resource mailbox (its
type read from Exchange) is its own kind whatever sends with it: nobody reads it, so its owner is told.
Wrong passwords from spray sources, or from many networks, with no submission ever succeeding, are an
attack. A success today means the sender stops at the switch-off; failures only mean it is broken already.
Once its owner (or the person) was told, no basic submission for the quiet period means it was fixed.
Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.config import RuleConfig
from core.constants import AUTHENTICATED_SMTP
from core.records import OTHER, Evidence, Verdict
from rules import links, mailbox_clients, protocols, staleness
from rules.protocols import Retirement, SenderKind
from rules.rule import Reason, Rule
from rules.signals import NO_AGENT, SCRIPT_BROWSERS, is_mail_client

DEVICE_MAX_PER_HOUR = 20
"""A printer or scanner sends a few messages an hour at most; more per active hour is an application."""

RULE = Rule(
    name="smtp_senders",
    version="2",
    summary="Basic SMTP AUTH senders by kind: a person's mail app, a device, an application, a shared or "
    "resource mailbox, or an attack.",
    reasons=(
        Reason(
            "smtp_basic_auth_succeeded",
            "high",
            "Basic SMTP AUTH submissions succeeded: this sender stops when Microsoft disables basic SMTP AUTH "
            "by default at the end of December 2026.",
            "Its owner moves it to OAuth or another way out before then (they are emailed).",
            links.SMTP_AUTH_TIMELINE,
        ),
        Reason(
            "smtp_basic_auth_failing",
            "medium",
            "Basic SMTP AUTH submissions failed and none succeeded: whatever sends with this account is broken "
            "already.",
            "Its owner moves it to OAuth or another way out (they are emailed).",
            links.SMTP_AUTH_TIMELINE,
        ),
        Reason(
            "smtp_sender_mail_app",
            "medium",
            "A person's mail app sends with SMTP AUTH (a mail-client user agent).",
            "The person re-adds the account with modern authentication or uses Outlook (they are emailed).",
            links.SMTP_OAUTH,
        ),
        Reason(
            "smtp_sender_device",
            "medium",
            "A device such as a printer or scanner sends with SMTP AUTH: one steady source network, a device's "
            "pace, no mail-client or script agent.",
            "Its owner switches it to OAuth if the firmware offers it, else to a connector relay, Direct Send "
            "or High Volume Email (the owner is emailed).",
            links.SMTP_DEVICE_OPTIONS,
        ),
        Reason(
            "smtp_sender_application",
            "medium",
            "An application or script sends with SMTP AUTH: a script's agent, several source networks, or more "
            "sends per hour than a device makes.",
            "Its owner moves it to OAuth client credentials, Microsoft Graph sendMail or Azure Communication "
            "Services Email (the owner is emailed).",
            links.SMTP_OAUTH,
        ),
        Reason(
            "smtp_sender_shared_mailbox",
            "medium",
            "A shared or resource mailbox sends with SMTP AUTH (Exchange's RecipientTypeDetails: SharedMailbox, "
            "RoomMailbox, EquipmentMailbox, SchedulingMailbox): nobody reads it, so its owner is told, never the "
            "mailbox.",
            "Its owner moves whatever sends with it (usually a scanner or an application) to OAuth or another way "
            "out (the owner is emailed).",
            links.SMTP_DEVICE_OPTIONS,
        ),
        Reason(
            "smtp_password_spray",
            "high",
            "Wrong passwords over SMTP AUTH from spray sources or many networks, and no submission succeeded: "
            "an attack, not a sender (nobody is emailed).",
            "Treat it as an attack: disable SMTP AUTH for the account (Set-CASMailbox "
            "-SmtpClientAuthenticationDisabled $true) and check its password and MFA.",
            links.SPRAY_PLAYBOOK,
        ),
        Reason(
            "smtp_no_basic_auth_since_told",
            "info",
            "No basic SMTP AUTH since the owner (or the person) was told, for the whole quiet period "
            "(LAM_REMEDIATION_QUIET_HOURS): the sender was moved off basic authentication.",
            "None; a new basic submission makes it legacy_active again.",
        ),
        Reason(
            "smtp_quiet_period_running",
            "low",
            "No basic SMTP AUTH since the owner (or the person) was told, but the quiet period is still running.",
            "None yet; verified when the quiet period ends.",
        ),
        Reason(
            "smtp_person_modern_auth",
            "info",
            "Advice: re-add the account in the mail app with modern authentication, or use Outlook.",
            "The email says how.",
            links.SMTP_OAUTH,
        ),
        Reason(
            "smtp_device_ways_out",
            "info",
            "Advice: OAuth if the device's firmware offers it, else an Exchange Online connector relay, Direct "
            "Send or High Volume Email, with what each needs.",
            "The email says how.",
            links.SMTP_DEVICE_OPTIONS,
        ),
        Reason(
            "smtp_app_ways_out",
            "info",
            "Advice: OAuth client credentials for SMTP, Microsoft Graph sendMail, or Azure Communication Services "
            "Email.",
            "The email says how.",
            links.SMTP_OAUTH,
        ),
    ),
)

KIND_CODES: dict[SenderKind, str] = {
    "person": "smtp_sender_mail_app",
    "device": "smtp_sender_device",
    "application": "smtp_sender_application",
    "shared": "smtp_sender_shared_mailbox",
    "attack": "smtp_password_spray",
}
KIND_OF_CODE = {code: kind for kind, code in KIND_CODES.items()} | mailbox_clients.KIND_OF_CODE


SHARED_MAILBOX_TYPES = frozenset(
    {"SharedMailbox", "RoomMailbox", "EquipmentMailbox", "LinkedRoomMailbox", "SchedulingMailbox"}
)
"""Exchange's RecipientTypeDetails of mailboxes nobody signs in to read as their own: shared, room, equipment
and Bookings mailboxes (Get-Mailbox -RecipientTypeDetails, MicrosoftDocs/office-docs-powershell
exchange/exchange-ps/exchange/Get-Mailbox.md lists the values Exchange Online uses)."""


def sender_kind(evidence: Evidence, config: RuleConfig) -> SenderKind:
    agents = [agent for agent in evidence.agents if agent not in (NO_AGENT, OTHER, "")]
    networks = [net for net in evidence.networks if net not in ("unknown", OTHER)]
    guessed = evidence.spray_failures > 0 or (
        evidence.credential_failures > 0 and len(networks) > config.device_max_networks
    )
    if evidence.legacy_success == 0 and guessed:
        return "attack"
    if any(is_mail_client(agent) for agent in agents):
        return "person"
    if any(marker in agent.casefold() for agent in agents for marker in SCRIPT_BROWSERS):
        return "application"
    per_hour = evidence.legacy_total / max(len(evidence.hours), 1)
    if len(networks) <= 1 and per_hour <= DEVICE_MAX_PER_HOUR:
        return "device"
    return "application"


def sender_protocol(evidence: Evidence) -> Retirement | None:
    """The protocol an account is judged on as a sender: SMTP AUTH, IMAP4, POP3 or EWS, seen alone. An account
    also seen on another protocol (a phone on EAS) keeps the EAS rules."""
    seen = [key for key, count in evidence.protocols.items() if count]
    if len(seen) != 1:
        return None
    key = seen[0].strip().casefold()
    if key != AUTHENTICATED_SMTP.casefold() and key not in mailbox_clients.PROTOCOLS:
        return None
    return protocols.retirement_of(key)


def judged_here(evidence: Evidence, config: RuleConfig) -> Retirement | None:
    """The protocol this module judges the account on, or None: every SMTP AUTH-only account; on IMAP4, POP3
    or EWS only a device or an application (a person's mail app keeps its device-aware steps, and an attack
    the spray rules)."""
    entry = sender_protocol(evidence)
    if entry is None or entry is protocols.SMTP_AUTH:
        return entry
    return entry if mailbox_clients.kind_here(entry.client_app, sender_kind(evidence, config)) else None


def judge(
    evidence: Evidence,
    config: RuleConfig,
    now: datetime,
    told_at: datetime | None = None,
    entry: Retirement = protocols.SMTP_AUTH,
    mailbox_type: str = "",
) -> Verdict:
    """The verdict of an account judged as a sender on ``entry``'s protocol: stale, an attack (never mailed),
    fixed since its owner was told (no basic success for the quiet period after), or a sender to fix. An SMTP
    AUTH shared or resource mailbox keeps what the evidence says sends with it as a second code (the email's
    wording), after its own."""
    if staleness.is_stale(evidence, config.stale_days, now):
        return Verdict("stale", ("no_legacy_signin_in_stale_window",))
    kind = sender_kind(evidence, config)
    if entry is protocols.SMTP_AUTH:
        kind_code = KIND_CODES[kind]
        succeeded, failing = "smtp_basic_auth_succeeded", "smtp_basic_auth_failing"
        verified, waiting = "smtp_no_basic_auth_since_told", "smtp_quiet_period_running"
    else:
        key = entry.client_app.casefold()
        kind = mailbox_clients.kind_here(key, kind) or "application"
        kind_code = mailbox_clients.KIND_CODES[key][kind]
        succeeded, failing = mailbox_clients.OUTCOME_CODES[key]
        verified, waiting = mailbox_clients.VERIFIED
    if kind == "attack":
        return Verdict("attack_suspected", (kind_code,))
    shared = entry is protocols.SMTP_AUTH and mailbox_type in SHARED_MAILBOX_TYPES
    codes = (KIND_CODES["shared"], kind_code) if shared else (kind_code,)
    advice_kind: SenderKind = "shared" if shared else kind
    # the last basic success (rows stored before it was kept: the last attempt); a failing one: any attempt
    last = (evidence.last_success_at or evidence.last_legacy_at) if evidence.legacy_success else evidence.last_legacy_at
    if told_at is not None and last is not None and last < told_at:
        if now - told_at >= timedelta(hours=config.remediation_quiet_hours):
            return Verdict("remediated", (verified, *codes))
        return Verdict("pending_verification", (waiting, *codes))
    outcome = succeeded if evidence.legacy_success else failing
    return Verdict("legacy_active", (outcome, *codes), entry.advice.get(advice_kind, ()))


def kind_of(verdict: Verdict) -> SenderKind | None:
    """The sender kind a stored verdict names, or None when it is not a sender's verdict (SMTP AUTH, or a
    device or application on IMAP4, POP3 or EWS)."""
    for code in verdict.reasons:
        if code in KIND_OF_CODE:
            return KIND_OF_CODE[code]
    return None


def wording_kind(verdict: Verdict) -> SenderKind | None:
    """What the owner's email describes as sending: for a shared mailbox, what its evidence shows (a device,
    else an application: a mail app on a mailbox nobody owns personally is no person's own app)."""
    kind = kind_of(verdict)
    if kind != "shared":
        return kind
    return "device" if KIND_CODES["device"] in verdict.reasons else "application"
