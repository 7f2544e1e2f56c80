"""Readiness of the Exchange switches: is SMTP AUTH still on for the organization, which sender mailboxes
have it switched on explicitly, and is EWS still on. Pure: the switches as last read in, findings out.

Facts (Microsoft's cmdlet reference, MicrosoftDocs/office-docs-powershell, Set-CASMailbox.md): a mailbox's
SmtpClientAuthenticationDisabled $false enables SMTP AUTH for it whatever the organization says; blank
($null) follows the organization (Set-TransportConfig). Microsoft's announcement of the December 2026
change (links.SMTP_AUTH_TIMELINE) says basic SMTP AUTH becomes "disabled by default for existing tenants"
and that administrators can enable it; it does not say whether a mailbox's explicit $false keeps basic
SMTP AUTH working after that day, so the finding says so instead of guessing.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.constants import AUTHENTICATED_SMTP, EXCHANGE_WEB_SERVICES
from core.findings import ExchangeSwitches, Finding
from rules import links
from rules.rule import Reason

FINDINGS: tuple[Reason, ...] = (
    Reason(
        "exchange_switches",
        "low",
        "The Exchange switches for SMTP AUTH and EWS were read (they need the Exchange collector, "
        "LAM_COLLECT_DEVICES).",
        "Turn the Exchange collector on (LAM_COLLECT_DEVICES=true, with the Exchange role in docs/deploy.md) to "
        "read them; until then check Get-TransportConfig and Get-CASMailbox by hand.",
        links.SMTP_AUTH_SWITCHES,
    ),
    Reason(
        "smtp_auth_org_switch",
        "medium",
        "SMTP AUTH is turned off for the organization (Get-TransportConfig SmtpClientAuthenticationDisabled).",
        "Once the senders are moved, turn it off: Set-TransportConfig -SmtpClientAuthenticationDisabled $true, "
        "and enable it only on the mailboxes that still need it (Set-CASMailbox -SmtpClientAuthenticationDisabled "
        "$false).",
        links.SMTP_AUTH_SWITCHES,
    ),
    Reason(
        "smtp_auth_mailbox_exemptions",
        "medium",
        "No sender mailbox has SMTP AUTH explicitly enabled (Get-CASMailbox SmtpClientAuthenticationDisabled "
        "$false overrides the organization's setting).",
        "Review each: move its sender off basic authentication, then set SmtpClientAuthenticationDisabled back "
        "to blank ($null) or $true with Set-CASMailbox.",
        links.SMTP_AUTH_SWITCHES,
    ),
    Reason(
        "ews_org_switch",
        "medium",
        "Exchange Web Services is switched off for the whole organization (Get-OrganizationConfig EwsEnabled).",
        "Move EWS clients to Microsoft Graph before EWS is switched off for good on 2027-04-01.",
        links.BASIC_AUTH_DEPRECATION,
    ),
)
CATALOG: dict[str, Reason] = {entry.code: entry for entry in FINDINGS}


def _finding(name: str, ok: bool, summary: str, action: str | None = None) -> Finding:
    """A switch finding with its catalog entry's severity and link; ``action`` replaces the entry's."""
    entry = CATALOG[name]
    return Finding(
        name,
        ok,
        summary,
        "" if ok else (entry.action if action is None else action),
        "info" if ok else entry.severity,
        entry.link,
    )


def switch_findings(switches: ExchangeSwitches | None, exchange_on: bool, watched: Iterable[str]) -> list[Finding]:
    """The switch findings for the watched protocols that have switches (SMTP AUTH, EWS)."""
    wanted = {p.casefold() for p in watched}
    smtp, ews = AUTHENTICATED_SMTP.casefold() in wanted, EXCHANGE_WEB_SERVICES.casefold() in wanted
    if not (smtp or ews):
        return []
    if not exchange_on:
        return [
            _finding("exchange_switches", False, "Switches not read: Exchange collector off (LAM_COLLECT_DEVICES).")
        ]
    if switches is None:
        return [_finding("exchange_switches", False, "Switches not read yet: the next collect run reads them.", "")]
    if not switches.readable:
        return [_finding("exchange_switches", False, f"Switches not read: {switches.problem}")]
    found: list[Finding] = []
    if smtp:
        found += _smtp_findings(switches)
    if ews:
        found.append(_ews_finding(switches))
    return found


def _smtp_findings(switches: ExchangeSwitches) -> list[Finding]:
    org = switches.org_smtp_auth_disabled
    org_finding = (
        _finding(
            "smtp_auth_org_switch",
            True,
            "SMTP AUTH is turned off for the organization (SmtpClientAuthenticationDisabled $true).",
        )
        if org is True
        else _finding(
            "smtp_auth_org_switch",
            False,
            "SMTP AUTH is still enabled org-wide (Get-TransportConfig SmtpClientAuthenticationDisabled "
            + ("$false" if org is False else "blank")
            + "): every mailbox that does not turn it off itself may submit with it.",
        )
    )
    count, checked = switches.smtp_enabled_count, switches.senders_checked
    not_read = f"; {switches.skipped} could not be read" if switches.skipped else ""
    if count == 0:
        summary = f"None of the {checked} sender mailbox(es) checked has SMTP AUTH explicitly enabled{not_read}."
        return [org_finding, _finding("smtp_auth_mailbox_exemptions", True, summary)]
    names = ", ".join(switches.smtp_enabled) + (", …" if count > len(switches.smtp_enabled) else "")
    summary = (
        f"{count} of the {checked} sender mailbox(es) checked have SMTP AUTH explicitly enabled "
        f"(Set-CASMailbox -SmtpClientAuthenticationDisabled $false: {names}){not_read}. Microsoft documents that "
        "this mailbox setting overrides the organization's; it has not said whether basic SMTP AUTH keeps "
        "working for them after the end of December 2026 default change, so do not count on it."
    )
    return [org_finding, _finding("smtp_auth_mailbox_exemptions", False, summary)]


def _ews_finding(switches: ExchangeSwitches) -> Finding:
    """EwsEnabled $false: off (ok). $true: kept on by the admin until the end. Blank: not configured, which
    Microsoft turns into off tenant by tenant from 2026-10-01 (rules/protocols.py, the EWS entry). The
    mailboxes of the accounts still on EWS say how many are off already (EwsEnabled $false on a mailbox)."""
    enabled = switches.org_ews_enabled
    if enabled is False:
        return _finding(
            "ews_org_switch", True, "Exchange Web Services is off for the organization (EwsEnabled $false)."
        )
    if enabled:
        summary = (
            "Exchange Web Services is kept on for the organization (Get-OrganizationConfig EwsEnabled $true) until "
            "Microsoft switches it off for good on 2027-04-01."
        )
    else:
        summary = (
            "Exchange Web Services is not configured for the organization (Get-OrganizationConfig EwsEnabled blank): "
            "Microsoft blocks it by default tenant by tenant from 2026-10-01, so EWS clients that still work may stop "
            "on any day before 2027-04-01."
        )
    if switches.ews_checked:
        summary += (
            f" Of the {switches.ews_checked} account(s) that signed in over EWS in the last 30 days, "
            f"{switches.ews_disabled_count} have EWS turned off on their mailbox (Set-CASMailbox -EwsEnabled $false)."
        )
    return _finding("ews_org_switch", False, summary)
