"""Slim domain records passed between the collectors, the rules, the store and the notifier."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

Status = Literal["legacy_active", "pending_verification", "remediated", "stale", "excluded"]
STATUSES: tuple[Status, ...] = ("legacy_active", "pending_verification", "remediated", "stale", "excluded")


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
    user_agent: str = ""
    device_os: str = ""

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
            user_agent=newer.user_agent if latest_is_newer and newer.user_agent else self.user_agent,
            device_os=newer.device_os if latest_is_newer and newer.device_os else self.device_os,
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    reasons: tuple[str, ...]


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


def _add_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for key, count in b.items():
        out[key] = out.get(key, 0) + count
    return out


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)
