"""What the monitor concludes about the tenant as a whole: the records the admin's findings are made of."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

from core.ingest import UnreadSpan
from core.records import AppleAppStatus, ConsentPolicy, LegacyBlockPolicy

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
"""Every severity, the most severe first."""


@dataclass(frozen=True)
class AttackFinding:
    """What the admin sees of a password spray: how many accounts, from which sources, when."""

    accounts: int
    sources: dict[str, int]
    """Source IP → number of accounts it failed against (the named sources that hit most, 20 at most)."""
    first_seen: datetime
    last_seen: datetime
    source_count: int = 0
    """Every spray source found, named or not (0 in findings stored before it was counted)."""


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
class ExchangeSwitches:
    """The Exchange switches for the protocols being retired, as the Exchange collector last read them.

    None for a switch means Exchange returned it blank ($null: "not configured")."""

    readable: bool
    problem: str = ""
    org_smtp_auth_disabled: bool | None = None
    """Get-TransportConfig SmtpClientAuthenticationDisabled: the whole organization."""
    org_ews_enabled: bool | None = None
    """Get-OrganizationConfig EwsEnabled."""
    senders_checked: int = 0
    """SMTP AUTH sender accounts whose mailbox switches were read (Get-CASMailbox)."""
    smtp_enabled: tuple[str, ...] = ()
    """Sender accounts (UPNs, at most SWITCH_NAMES_KEPT) whose mailbox has SMTP AUTH explicitly enabled."""
    smtp_enabled_count: int = 0
    smtp_disabled_count: int = 0
    """Sender accounts whose mailbox has SMTP AUTH explicitly disabled (they are refused already)."""
    ews_checked: int = 0
    """Accounts that signed in over EWS whose mailbox switches were read."""
    ews_disabled_count: int = 0
    """Of those, mailboxes with EWS turned off (Set-CASMailbox -EwsEnabled $false)."""
    skipped: int = 0
    """Mailboxes not read: not found, or an answer that could not be trusted."""
    requests: int = 0
    """Requests to Exchange's admin API this reading took."""


SWITCH_NAMES_KEPT = 10
"""Account names kept with the switches finding (the count is exact; the names are examples)."""


@dataclass(frozen=True)
class RetirementBaseline:
    """Who would have stopped at each switch-off when the monitor first looked: the progress finding's start."""

    first_run: datetime
    accounts: dict[str, int]
    """Retirement finding name → accounts affected on the first run (exact)."""
    ids: dict[str, tuple[str, ...]]
    """Retirement finding name → those accounts' user ids (at most BASELINE_IDS_KEPT each)."""
    started: dict[str, datetime] = field(default_factory=dict)
    """Retirement finding name → when its count was taken, if not on the first run (a protocol watched later)."""


BASELINE_IDS_KEPT = 300
"""User ids kept per retirement in the baseline row: about 12,000 characters each, so the two retirements
with a date fit in one property (at most 32,000 characters)."""


@dataclass(frozen=True)
class SenderSetup:
    """Who user emails come from, as configured (the sender-domain finding's input)."""

    address: str
    per_hour: int
    """The send budget per hour (LAM_SEND_PER_HOUR)."""
    messages_per_user: int
    """The first email and its reminders."""


@dataclass(frozen=True)
class TenantSnapshot:
    """Everything stored about the tenant (None: never checked), the input of the tenant findings."""

    apple_app: AppleAppStatus | None = None
    user_consent: ConsentPolicy | None = None
    legacy_block: LegacyBlockPolicy | None = None
    attack: AttackFinding | None = None
    devices: DeviceFinding | None = None
    signin_logs_available: bool | None = None
    sender: SenderSetup | None = None
    """None when user emails are off."""
    switches: ExchangeSwitches | None = None
    baseline: RetirementBaseline | None = None
    unread: tuple[UnreadSpan, ...] = ()
    """Spans of the sign-in log skipped as poison pages, newest first."""


@dataclass(frozen=True)
class Finding:
    """One line of the admin's findings: which check, whether it passes, what was seen, what to do."""

    name: str
    ok: bool
    summary: str
    action: str = ""
    severity: Severity = "info"
    link: str = ""
