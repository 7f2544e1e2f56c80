"""Slim domain records passed between the collectors, the rules, the store and the notifier."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

Status = Literal["legacy_active", "attack_suspected", "pending_verification", "remediated", "stale", "excluded"]
STATUSES: tuple[Status, ...] = (
    "legacy_active",
    "attack_suspected",
    "pending_verification",
    "remediated",
    "stale",
    "excluded",
)

COUNT_KEYS_KEPT = 16
"""Per-user breakdowns (agents, networks, countries) keep their 16 largest keys; the rest is summed
under OTHER, so a sprayed account cannot grow its row without bound."""
OTHER = "(other)"


@dataclass(frozen=True, slots=True)
class SignInEvent:
    """The dozen fields of a Graph signIn that the rules need; everything else is dropped at parse time."""

    id: str
    created_at: datetime
    user_id: str
    upn: str
    app_id: str
    client_app: str
    error_code: int
    ip: str = ""
    user_agent: str = ""
    operating_system: str = ""
    country: str = ""
    browser: str = ""
    """deviceDetail.browser: with operatingSystem, what v1.0 still says about the client without a user agent."""

    @property
    def succeeded(self) -> bool:
        return self.error_code == 0


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    id: str
    upn: str
    display_name: str
    mail: str | None
    preferred_language: str | None = None
    usage_location: str | None = None
    account_enabled: bool = True
    user_type: str = "Member"


@dataclass(frozen=True, slots=True)
class AppleAppStatus:
    """Whether Apple's enterprise app exists in the tenant and holds admin consent for EAS."""

    present: bool
    service_principal_id: str | None = None
    display_name: str | None = None
    admin_consent: bool = False
    scopes: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return self.present and self.admin_consent


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One Exchange ActiveSync device partnership (Get-MobileDevice), reduced to what the rules need."""

    user_id: str
    device_id: str
    friendly_name: str = ""
    device_os: str = ""
    device_type: str = ""
    device_model: str = ""
    user_agent: str = ""
    client_type: str = ""
    client_version: str = ""
    first_sync: datetime | None = None
    last_sync: datetime | None = None
    access_state: str = ""

    @property
    def label(self) -> str:
        """How the user knows it: "iPhone 8, first synced 2017-03-02"."""
        name = self.friendly_name or self.device_model or self.device_type or "device"
        return f"{name}, first synced {self.first_sync:%Y-%m-%d}" if self.first_sync else name


@dataclass(frozen=True, slots=True)
class ConsentPolicy:
    """Whether ordinary users may consent to apps such as Apple's themselves (authorization policy)."""

    users_can_consent: bool | None
    """None when the policy could not be read (missing Policy.Read.All)."""
    policies: tuple[str, ...] = ()
    problem: str = ""


@dataclass(frozen=True, slots=True)
class LegacyBlockPolicy:
    """Conditional Access: enabled policies that block legacy clients (exchangeActiveSync + other) for all users."""

    blocking: tuple[str, ...]
    report_only: tuple[str, ...] = ()
    readable: bool = True
    problem: str = ""


@dataclass(slots=True)
class Evidence:
    """Per-user aggregate of sign-in facts. Mergeable, so each run only folds what is new."""

    upn: str = ""
    legacy_success: int = 0
    legacy_failure: int = 0
    failure_codes: dict[str, int] = field(default_factory=dict)
    protocols: dict[str, int] = field(default_factory=dict)
    first_legacy_at: datetime | None = None
    last_legacy_at: datetime | None = None
    last_apple_at: datetime | None = None
    last_success_at: datetime | None = None
    """The latest legacy sign-in that succeeded (for SMTP AUTH: the last message that still went out)."""
    user_agent: str = ""
    device_os: str = ""
    agents: dict[str, int] = field(default_factory=dict)
    """Legacy attempts per user agent."""
    networks: dict[str, int] = field(default_factory=dict)
    """Legacy attempts per source network (IPv4 /24, IPv6 /48): counts, never a list of addresses."""
    countries: dict[str, int] = field(default_factory=dict)
    systems: dict[str, int] = field(default_factory=dict)
    """Legacy attempts per deviceDetail "operatingSystem / browser": the device's mark when there is no agent."""
    hours: dict[str, int] = field(default_factory=dict)
    """Legacy attempts per UTC hour ("2026-11-20T13"): a device retries over many hours, a burst fills one."""
    credential_failures: int = 0
    """Failed legacy attempts with a wrong-credential error (what password spray produces)."""
    spray_failures: int = 0
    """Failed legacy attempts from a source that hit many accounts within the same hour."""

    @property
    def legacy_total(self) -> int:
        return self.legacy_success + self.legacy_failure

    def merged(self, newer: Evidence) -> Evidence:
        """This evidence plus a later delta; the device fields follow the latest legacy sign-in."""
        latest_is_newer = newer.last_legacy_at is not None and (
            self.last_legacy_at is None or newer.last_legacy_at >= self.last_legacy_at
        )
        return replace(
            self,
            upn=newer.upn or self.upn,
            legacy_success=self.legacy_success + newer.legacy_success,
            legacy_failure=self.legacy_failure + newer.legacy_failure,
            failure_codes=_add_counts(self.failure_codes, newer.failure_codes),
            protocols=_add_counts(self.protocols, newer.protocols),
            first_legacy_at=_earliest(self.first_legacy_at, newer.first_legacy_at),
            last_legacy_at=_latest(self.last_legacy_at, newer.last_legacy_at),
            last_apple_at=_latest(self.last_apple_at, newer.last_apple_at),
            last_success_at=_latest(self.last_success_at, newer.last_success_at),
            user_agent=newer.user_agent if latest_is_newer and newer.user_agent else self.user_agent,
            device_os=newer.device_os if latest_is_newer and newer.device_os else self.device_os,
            agents=_add_counts(self.agents, newer.agents),
            networks=_add_counts(self.networks, newer.networks),
            countries=_add_counts(self.countries, newer.countries),
            systems=_add_counts(self.systems, newer.systems),
            hours=_add_counts(self.hours, newer.hours),
            credential_failures=self.credential_failures + newer.credential_failures,
            spray_failures=self.spray_failures + newer.spray_failures,
        )


@dataclass(slots=True)
class Delta:
    """What one ingest window adds to a user: evidence, plus wrong-password failures by source IP, kept
    until the whole window is read and the spray sources are known (then they become spray_failures)."""

    evidence: Evidence = field(default_factory=Evidence)
    credential_ips: dict[str, int] = field(default_factory=dict)

    def merged(self, newer: Delta) -> Delta:
        return Delta(self.evidence.merged(newer.evidence), _add_counts(self.credential_ips, newer.credential_ips))


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    reasons: tuple[str, ...]
    advice: tuple[str, ...] = ()
    """What the user should do, by device and version (e.g. remove_and_readd, update_ios_first)."""


@dataclass(frozen=True, slots=True)
class UserState:
    """One row of the users table: who, what we saw, what we concluded, and what we told them."""

    user_id: str
    evidence: Evidence
    verdict: Verdict
    rule_version: str
    status_since: datetime
    directory: DirectoryUser | None = None
    notified_count: int = 0
    last_notified_at: datetime | None = None
    first_notified_at: datetime | None = None
    devices: tuple[DeviceRecord, ...] = ()
    """Exchange device partnerships (when the device collector is on)."""
    applied_window: str = ""
    """The last ingest window whose sign-ins are in ``evidence``: a replayed window is not counted twice."""
    episode: int = 1
    """Which time this user is on legacy: 2 once they fixed it and went back. The notified counts restart
    with each episode and message ids carry it, so the second round is mailed afresh."""

    @property
    def upn(self) -> str:
        """The account's UPN: the directory's, else the one its sign-ins carried."""
        return (self.directory.upn if self.directory else "") or self.evidence.upn

    mailbox_type: str = ""
    """Exchange's RecipientTypeDetails of the account's mailbox, when the Exchange collector read one that is
    not a user's own (SharedMailbox, RoomMailbox, EquipmentMailbox); "" otherwise."""


def _add_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for key, count in b.items():
        out[key] = out.get(key, 0) + count
    return capped(out)


def capped(counts: dict[str, int], keep: int = COUNT_KEYS_KEPT) -> dict[str, int]:
    """Keep the largest ``keep`` keys; sum the rest under OTHER. Totals are preserved exactly."""
    if len(counts) <= keep:
        return counts
    ranked = sorted(((k, v) for k, v in counts.items() if k != OTHER), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(ranked[: keep - 1])
    kept[OTHER] = sum(counts.values()) - sum(kept.values())
    return kept


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)
