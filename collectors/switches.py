"""The Exchange switches for SMTP AUTH and EWS, read through the same admin API as the device partnerships.

Organization: Get-TransportConfig (SmtpClientAuthenticationDisabled) and Get-OrganizationConfig (EwsEnabled),
one request each. Mailboxes: Get-CASMailbox -Identity for the accounts that still sent with basic SMTP AUTH
or signed in over EWS in the last 30 days only (a few dozen, capped), each UPN passed as a cmdlet parameter
in the JSON body, never pasted into a filter.

What the values mean (Microsoft's cmdlet reference, MicrosoftDocs/office-docs-powershell,
exchange/exchange-ps/exchange/Set-TransportConfig.md, Set-CASMailbox.md, Set-OrganizationConfig.md):
Set-TransportConfig -SmtpClientAuthenticationDisabled $true disables SMTP AUTH for the whole organization
("the default value for organizations created after January 2020"), $false enables it; on a mailbox
(Set-CASMailbox) $true disables it, $false enables it, and blank ($null, the default) leaves the mailbox to
the organization's setting. Set-OrganizationConfig -EwsEnabled $true enables all EWS access, $false
disables it, $null means not configured; on a mailbox EwsEnabled $true (the default) enables EWS for it,
$false disables it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from collectors.devices import DeviceCollectorError, ExchangeAdminClient, ExchangeTarget, exchange_http
from core.findings import SWITCH_NAMES_KEPT, ExchangeSwitches
from core.retry import RetryPolicy

MAX_MAILBOX_LOOKUPS = 200
"""Sender mailboxes read per run: one request each, so a tenant with thousands of senders costs no more."""
MAX_UPN_CHARS = 256


async def read_switches(
    target: ExchangeTarget,
    token: str | None,
    smtp_upns: Iterable[str],
    ews_upns: Iterable[str] = (),
    retry: RetryPolicy | None = None,
) -> ExchangeSwitches:
    """The organization's switches and those of the senders' mailboxes. Exchange refusing the organization's
    settings makes an unreadable result that says why; a mailbox it cannot find, or answers oddly for, is
    skipped and counted."""
    smtp, ews = _upns(smtp_upns), _upns(ews_upns)
    wanted = sorted(smtp | ews, key=str.casefold)
    async with exchange_http() as http:
        exo = ExchangeAdminClient(target, http, token, retry)
        try:
            transport = await _first(exo, "Get-TransportConfig")
            organization = await _first(exo, "Get-OrganizationConfig")
        except DeviceCollectorError as exc:
            return ExchangeSwitches(readable=False, problem=exc.finding, requests=exo.requests)
        tally = MailboxSwitches(skipped=max(len(wanted) - MAX_MAILBOX_LOOKUPS, 0))
        for upn in wanted[:MAX_MAILBOX_LOOKUPS]:
            try:
                cas = await _first(exo, "Get-CASMailbox", {"Identity": upn})
            except DeviceCollectorError as exc:
                if exc.status in (401, 403):
                    return ExchangeSwitches(readable=False, problem=exc.finding, requests=exo.requests)
                tally.skipped += 1
                continue
            tally.add(upn, cas, upn in smtp, upn in ews)
    return ExchangeSwitches(
        readable=True,
        org_smtp_auth_disabled=_flag(transport.get("SmtpClientAuthenticationDisabled")),
        org_ews_enabled=_flag(organization.get("EwsEnabled")),
        senders_checked=tally.smtp_checked,
        smtp_enabled=tuple(tally.smtp_enabled[:SWITCH_NAMES_KEPT]),
        smtp_enabled_count=len(tally.smtp_enabled),
        smtp_disabled_count=tally.smtp_disabled,
        ews_checked=tally.ews_checked,
        ews_disabled_count=tally.ews_disabled,
        skipped=tally.skipped,
        requests=exo.requests,
    )


@dataclass
class MailboxSwitches:
    """What the senders' mailboxes say, tallied one Get-CASMailbox answer at a time."""

    smtp_checked: int = 0
    smtp_enabled: list[str] = field(default_factory=list)
    smtp_disabled: int = 0
    ews_checked: int = 0
    ews_disabled: int = 0
    skipped: int = 0

    def add(self, upn: str, cas: dict[str, Any], smtp: bool, ews: bool) -> None:
        """One Get-CASMailbox answer; a switch that is neither true, false nor blank is not trusted."""
        smtp_off, ews_on = cas.get("SmtpClientAuthenticationDisabled"), cas.get("EwsEnabled")
        if any(v is not None and not isinstance(v, bool) for v in (smtp_off, ews_on)):
            self.skipped += 1
            return
        if smtp:
            self.smtp_checked += 1
            if smtp_off is False:
                self.smtp_enabled.append(upn)
            self.smtp_disabled += smtp_off is True
        if ews:
            self.ews_checked += 1
            self.ews_disabled += ews_on is False


def _upns(upns: Iterable[str]) -> set[str]:
    return {u for u in upns if 0 < len(u) <= MAX_UPN_CHARS and "@" in u}


async def _first(exo: ExchangeAdminClient, cmdlet: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    async for item in exo.run(cmdlet, parameters or {}):
        return item
    return {}


def _flag(value: object) -> bool | None:
    """A switch as Exchange returns it: true, false, or blank; anything else is read as blank."""
    return value if isinstance(value, bool) else None
