"""What Microsoft changed, or will change, for each legacy protocol: the one place a retirement is added.

One entry per legacy ``clientAppUsed`` value (exact strings, compared case-insensitively). Each says what
changes and when, which kinds of client use the protocol, what each kind should do (advice codes, worded
in the email templates), and who must act: the person, or the owner of the account. A date is given only
where a public source confirms the day; a month Microsoft gave without a day stays a month in words, and
its ``deadline`` is the last day of that month, so "days left" never runs past what was announced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from core.constants import AUTHENTICATED_SMTP, EXCHANGE_ACTIVESYNC, EXCHANGE_WEB_SERVICES

SenderKind = Literal["person", "device", "application", "shared", "attack"]
SENDER_KINDS: tuple[SenderKind, ...] = ("person", "device", "application", "shared", "attack")
"""Who sends with a protocol: a person's mail app, a printer or scanner, an application or script, a
shared or resource mailbox, or an attacker guessing passwords."""

Actor = Literal["user", "owner", "admin", "nobody"]


@dataclass(frozen=True)
class Milestone:
    when: str
    """As Microsoft said it ("end of December 2026", "2027-04-01")."""
    change: str
    on: date | None = None
    """The day, only when a source confirms one."""


@dataclass(frozen=True)
class Retirement:
    client_app: str
    summary: str
    milestones: tuple[Milestone, ...]
    deadline: date | None
    """The day by which senders that still use basic auth stop (None: already stopped, or no date yet)."""
    deadline_words: str
    kinds: tuple[SenderKind, ...]
    advice: dict[SenderKind, tuple[str, ...]] = field(default_factory=dict)
    """Advice codes per client kind (worded in notify/templates/_smtp.*.j2 or _content.*.j2)."""
    who_acts: dict[SenderKind, Actor] = field(default_factory=dict)
    refusal: str = ""
    """What a refused client is told, when it is public."""
    switches: tuple[str, ...] = ()
    """The Exchange settings an admin turns it with."""
    used_words: str = ""
    """What a sender that stops did, for the readiness finding ("sent with basic SMTP AUTH")."""

    def days_left(self, today: date) -> int | None:
        return None if self.deadline is None else (self.deadline - today).days


_OWNER_ACTS: dict[SenderKind, Actor] = {
    "person": "user",
    "device": "owner",
    "application": "owner",
    "shared": "owner",
    "attack": "admin",
}

# Sources (checked 2026-11-30): the Exchange Team, "Updated Exchange Online SMTP AUTH Basic Authentication
# Deprecation Timeline", 2026-01-27 (techcommunity.microsoft.com/blog/exchange/updated-exchange-online-
# smtp-auth-basic-authentication-deprecation-timeline/4489835): unchanged to December 2026; end of
# December 2026 disabled by default for existing tenants (admins can re-enable); new tenants after
# December 2026 without it; the final removal date announced in the second half of 2027. No day is given.
# The refusal text "550 5.7.30 Basic authentication is not supported for Client Submission" as quoted by
# the University of Toronto's notice (easi.its.utoronto.ca/news/page/2). Ways out: Microsoft's "How to set
# up a multifunction device or application to send email using Microsoft 365" (SMTP AUTH, Direct Send,
# connector relay) and "Authenticate an IMAP, POP or SMTP connection using OAuth" (client credentials).
SMTP_AUTH = Retirement(
    client_app=AUTHENTICATED_SMTP,
    summary="SMTP AUTH client submission with basic authentication (a user name and password).",
    milestones=(
        Milestone("now to December 2026", "basic SMTP AUTH works as before"),
        Milestone(
            "end of December 2026",
            "disabled by default for existing tenants; admins can still re-enable it",
            None,
        ),
        Milestone("second half of 2027", "Microsoft announces the final removal date"),
    ),
    deadline=date(2026, 12, 31),
    deadline_words="the end of December 2026",
    kinds=("person", "device", "application", "shared", "attack"),
    advice={
        "person": ("smtp_person_modern_auth",),
        "device": ("smtp_device_ways_out",),
        "application": ("smtp_app_ways_out",),
        "shared": ("smtp_device_ways_out", "smtp_app_ways_out"),
    },
    who_acts=_OWNER_ACTS,
    refusal="550 5.7.30 Basic authentication is not supported for Client Submission",
    switches=(
        "Set-TransportConfig -SmtpClientAuthenticationDisabled",
        "Set-CASMailbox -SmtpClientAuthenticationDisabled",
    ),
    used_words="sent with basic SMTP AUTH",
)

RETIREMENTS: tuple[Retirement, ...] = (
    SMTP_AUTH,
    # Sources: shared/DESIGN.md "The protocol retirements of 2026-2027", and public reports of Microsoft's
    # announcement (fdaytalk.com/exchange-web-services-shutdown; particlenews.net "...EWS blocking in October
    # 2026 and ending April 2027"; afi.ai blog): EWSEnabled null becomes false from 2026-10-01 tenant by tenant
    # unless an EWSAllowedAppIDs allow list was set; permanently off on 2027-04-01. Microsoft's message center
    # post MC1176266 (as mirrored at itelio.com/en/microsoft-message-center/MC1176266): "on October 1, 2026, we
    # will start blocking EWS requests to Exchange Online", migrate "to the Graph API", and "prominent vendor
    # applications include Apple Mail and Calendar for Mac". Way out for an application (ews_to_graph):
    # Microsoft Learn "Exchange Web Services (EWS) to Microsoft Graph API mappings" (links.EWS_TO_GRAPH). A
    # person's Mac Mail re-adds the account (rules/advice.py picks the steps from its agent).
    Retirement(
        client_app=EXCHANGE_WEB_SERVICES,
        summary="Exchange Web Services in Exchange Online (macOS Mail, Calendar and Contacts call it).",
        milestones=(
            Milestone("2026-10-01", "blocked by default tenant by tenant, unless allow-listed", date(2026, 10, 1)),
            Milestone("2027-04-01", "switched off for good; the admin controls go", date(2027, 4, 1)),
        ),
        deadline=date(2027, 4, 1),
        deadline_words="2027-04-01",
        kinds=("person", "application", "attack"),
        advice={"person": ("readd_with_modern_auth",), "application": ("ews_to_graph",)},
        who_acts=_OWNER_ACTS,
        switches=("Set-OrganizationConfig -EWSEnabled", "EWSAllowedAppIDs"),
        used_words="signed in over Exchange Web Services",
    ),
    # Source: the EAS user's behaviour of issues 1-15 (rules/status.py); basic auth for EAS has been off since
    # the end of 2022 (links.BASIC_AUTH_DEPRECATION); EAS below 16.1 refused since 2026-03-01 (DESIGN.md).
    Retirement(
        client_app=EXCHANGE_ACTIVESYNC,
        summary="Exchange ActiveSync with basic authentication (phones' native mail apps).",
        milestones=(
            Milestone("end of 2022", "basic authentication switched off: attempts fail"),
            Milestone("2026-03-01", "EAS protocol versions below 16.1 refused", date(2026, 3, 1)),
        ),
        deadline=None,
        deadline_words="",
        kinds=("person", "attack"),
        advice={"person": ("remove_and_readd",)},
        who_acts=_OWNER_ACTS,
    ),
    # Source: DESIGN.md and allitservices.com.au (June 2026): basic auth off since the end of 2022; POP3 and
    # IMAP4 over TLS 1.0/1.1 retired from 2026-07-01 to 2026-12-31. Failed attempts are devices retrying or
    # attackers. Way out for a device or application collecting a mailbox (collect_with_oauth): Microsoft Learn
    # "Authenticate an IMAP, POP or SMTP connection using OAuth" (links.SMTP_OAUTH): OAuth2 for IMAP/POP with
    # SASL XOAUTH2, by a user's sign-in or, for an unattended collector, the client credentials grant with the
    # application permission IMAP.AccessAsApp or POP.AccessAsApp and the app's service principal registered in
    # Exchange (New-ServicePrincipal) with access to the mailbox (Add-MailboxPermission); or Microsoft Graph's
    # mail API (links.EWS_TO_GRAPH lists the mail operations). A person's app re-adds the account (advice.py).
    *(
        Retirement(
            client_app=name,
            summary=f"{name} with basic authentication (mail apps, devices and scripts that collect mail).",
            milestones=(
                Milestone("end of 2022", "basic authentication switched off: attempts fail"),
                Milestone("2026-07-01 to 2026-12-31", "TLS 1.0 and 1.1 retired for POP3 and IMAP4"),
            ),
            deadline=None,
            deadline_words="",
            kinds=("person", "device", "application", "attack"),
            advice={
                "person": ("readd_with_modern_auth",),
                "device": ("collect_with_oauth",),
                "application": ("collect_with_oauth",),
            },
            who_acts=_OWNER_ACTS,
        )
        for name in ("IMAP4", "POP3")
    ),
)
"""The retirements this monitor knows, the soonest first where they have a date."""

BY_CLIENT_APP: dict[str, Retirement] = {entry.client_app.casefold(): entry for entry in RETIREMENTS}


def retirement_of(client_app: str) -> Retirement | None:
    """The registry entry of a clientAppUsed value (any case), or None for a protocol without one."""
    return BY_CLIENT_APP.get(client_app.strip().casefold())
