"""Devices and applications that sign in over IMAP4, POP3 or Exchange Web Services with an account's password.

A person's own mail app on these protocols keeps the device-aware steps of the remediation email (rules/
advice.py picks them from its agent), and an attack keeps the spray rules; what is judged here is what no
person reads: a printer or fax fetching jobs by POP3, a helpdesk or ticketing system collecting a mailbox
over IMAP4, a script, an application calling EWS. Their owner is told how to move off the password. Basic
authentication for IMAP, POP and EWS has been off in Exchange Online since the end of 2022, so failures
mean the collector is broken already; EWS itself goes on 2027-04-01 (rules/protocols.py). Pure: no I/O.
"""

from __future__ import annotations

from core.constants import EXCHANGE_WEB_SERVICES
from rules import links
from rules.protocols import SenderKind
from rules.rule import Reason, Rule

IMAP4 = "IMAP4"
POP3 = "POP3"
PROTOCOLS = frozenset(name.casefold() for name in (IMAP4, POP3, EXCHANGE_WEB_SERVICES))
"""The protocols judged here (clientAppUsed values, casefolded)."""

RULE = Rule(
    name="mailbox_clients",
    version="1",
    summary="Devices and applications on IMAP4, POP3 or Exchange Web Services with a password, and what each does.",
    reasons=(
        Reason(
            "imap_pop_basic_auth_succeeded",
            "high",
            "IMAP4 or POP3 sign-ins with this account's password succeeded: something still collects this mailbox "
            "with basic authentication, which Exchange Online has switched off since the end of 2022.",
            "Its owner moves it to OAuth 2.0 for IMAP/POP or to Microsoft Graph (they are emailed).",
            links.BASIC_AUTH_DEPRECATION,
        ),
        Reason(
            "imap_pop_basic_auth_failing",
            "medium",
            "IMAP4 or POP3 sign-ins with this account's password failed and none succeeded: whatever collects this "
            "mailbox is broken already and keeps retrying.",
            "Its owner moves it to OAuth 2.0 for IMAP/POP or to Microsoft Graph, or switches it off (they are "
            "emailed).",
            links.BASIC_AUTH_DEPRECATION,
        ),
        Reason(
            "ews_signin_succeeded",
            "high",
            "Sign-ins over Exchange Web Services succeeded: this application stops when Microsoft switches EWS off in "
            "Exchange Online (blocked by default from 2026-10-01 unless allow-listed, gone for good on 2027-04-01).",
            "Its owner moves it to Microsoft Graph before then (they are emailed).",
            links.EWS_TO_GRAPH,
        ),
        Reason(
            "ews_signin_failing",
            "medium",
            "Sign-ins over Exchange Web Services failed and none succeeded: whatever uses this account over EWS is "
            "broken already.",
            "Its owner moves it to Microsoft Graph, or switches it off (they are emailed).",
            links.EWS_TO_GRAPH,
        ),
        Reason(
            "imap_pop_device",
            "medium",
            "A device, such as a printer or fax that fetches jobs by email, collects this mailbox over IMAP4 or POP3: "
            "one steady source network, a device's pace, no mail-client or script agent.",
            "Its owner switches it to OAuth if the firmware offers it, or stops collecting this mailbox with a "
            "password (the owner is emailed).",
            links.SMTP_OAUTH,
        ),
        Reason(
            "imap_pop_application",
            "medium",
            "An application or script, such as a helpdesk or ticketing system, collects this mailbox over IMAP4 or "
            "POP3: a script's agent, several source networks, or more sign-ins per hour than a device makes.",
            "Its owner moves it to OAuth client credentials for IMAP/POP or to Microsoft Graph (the owner is emailed).",
            links.SMTP_OAUTH,
        ),
        Reason(
            "ews_application",
            "medium",
            "An application or script uses Exchange Web Services with this account: an EWS library's agent (such as "
            "ExchangeServicesClient) or no mail-client agent.",
            "Its owner moves it to Microsoft Graph (the owner is emailed).",
            links.EWS_TO_GRAPH,
        ),
        Reason(
            "no_basic_signin_since_told",
            "info",
            "No sign-in over the protocol since the owner was told, for the whole quiet period "
            "(LAM_REMEDIATION_QUIET_HOURS): the device or application was moved off it.",
            "None; a new sign-in makes it legacy_active again.",
        ),
        Reason(
            "basic_signin_quiet_period_running",
            "low",
            "No sign-in over the protocol since the owner was told, but the quiet period is still running.",
            "None yet; verified when the quiet period ends.",
        ),
        Reason(
            "collect_with_oauth",
            "info",
            "Advice: collect the mailbox with OAuth 2.0 for IMAP/POP (an app registration with IMAP.AccessAsApp or "
            "POP.AccessAsApp, its service principal registered in Exchange with access to this mailbox), or read it "
            "with Microsoft Graph's mail API.",
            "The email says how.",
            links.SMTP_OAUTH,
        ),
        Reason(
            "ews_to_graph",
            "info",
            "Advice: move the application from Exchange Web Services to Microsoft Graph (mail, calendar and contacts "
            "APIs, with OAuth).",
            "The email says how.",
            links.EWS_TO_GRAPH,
        ),
    ),
)

KIND_CODES: dict[str, dict[SenderKind, str]] = {
    IMAP4.casefold(): {"device": "imap_pop_device", "application": "imap_pop_application"},
    POP3.casefold(): {"device": "imap_pop_device", "application": "imap_pop_application"},
    EXCHANGE_WEB_SERVICES.casefold(): {"application": "ews_application"},
}
"""The kinds judged here, per protocol: EWS has no device kind (a device that calls EWS is an application)."""
KIND_OF_CODE: dict[str, SenderKind] = {code: kind for codes in KIND_CODES.values() for kind, code in codes.items()}
OUTCOME_CODES: dict[str, tuple[str, str]] = {
    IMAP4.casefold(): ("imap_pop_basic_auth_succeeded", "imap_pop_basic_auth_failing"),
    POP3.casefold(): ("imap_pop_basic_auth_succeeded", "imap_pop_basic_auth_failing"),
    EXCHANGE_WEB_SERVICES.casefold(): ("ews_signin_succeeded", "ews_signin_failing"),
}
"""Per protocol: the code of an account whose sign-ins still succeed, and of one that only fails."""
VERIFIED = ("no_basic_signin_since_told", "basic_signin_quiet_period_running")
"""The codes of a device or application gone quiet since its owner was told: verified, and still waiting."""


def kind_here(client_app: str, kind: SenderKind) -> SenderKind | None:
    """The kind as judged on this protocol (EWS has no devices: one is an application), or None when the
    account is not judged here (a person's mail app, an attack)."""
    codes = KIND_CODES.get(client_app.casefold(), {})
    if kind == "device" and kind not in codes:
        kind = "application"
    return kind if kind in codes else None
