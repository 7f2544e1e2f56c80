"""Admin queries over the state tables: validated filters, OData parameters (never pasted text), paging."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from core.constants import LEGACY_CLIENT_APPS
from core.ports import NotificationLog, UserStates
from core.records import UserState
from report.users import ReportError, user_row, validate_status
from rules.breakdown import platform_of
from rules.devices import seen_device
from rules.user_agent import PLATFORMS as PLATFORMS  # the filter's choices, for the CLI's help

FILTERS = ("status", "protocol", "platform", "since")
MAX_PAGE = 500
MAX_TOKEN_CHARS = 2048
"""A token this API issues names a tenant id and a user id (128 characters at most): far below this."""
MIN_YEAR = 2000
"""Table Storage holds no date before 1601; no legacy sign-in is older than this."""
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class UserFilter:
    status: str | None = None
    protocol: str | None = None
    platform: str | None = None
    since: datetime | None = None

    def matches(self, state: UserState) -> bool:
        """All filters in Python: for whole-set exports, and for what Table Storage cannot evaluate
        (protocols live inside JSON, the platform inside the user agent)."""
        if self.status and state.verdict.status != self.status:
            return False
        last = state.evidence.last_legacy_at
        if self.since and (last is None or last < self.since):
            return False
        if self.protocol and self.protocol.casefold() not in {p.casefold() for p in state.evidence.protocols}:
            return False
        return not (self.platform and platform_of(state) != self.platform)


def parse_filter(params: Mapping[str, str]) -> UserFilter:
    """Every value checked against what it may be; a bad one names its parameter."""
    protocol = params.get("protocol") or None
    if protocol is not None and protocol.casefold() not in LEGACY_CLIENT_APPS:
        raise ReportError(f"protocol: {protocol!r} is not a legacy clientAppUsed value such as 'Exchange ActiveSync'")
    platform = params.get("platform") or None
    if platform is not None and platform not in PLATFORMS:
        raise ReportError(f"platform: {platform!r} is not one of {', '.join(PLATFORMS)}")
    since = None
    if params.get("since"):
        try:
            since = datetime.fromisoformat(params["since"].replace("Z", "+00:00"))
            since = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
        except (ValueError, OverflowError):
            raise ReportError(f"since: {params['since'][:40]!r} is not an ISO-8601 date like 2026-11-01") from None
        if since.year < MIN_YEAR:
            raise ReportError(f"since: must be in {MIN_YEAR} or later")
    return UserFilter(validate_status(params.get("status") or None), protocol, platform, since)


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return 100
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= MAX_PAGE:  # "²".isdigit() is True
        raise ReportError(f"limit: must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def encode_token(after: str | None) -> str | None:
    """The next page starts after this user id (our own cursor: checkable, unlike the SDK's opaque one)."""
    return base64.urlsafe_b64encode(orjson.dumps({"after": after})).decode() if after else None


def decode_token(raw: str | None) -> str | None:
    """Only a token of the shape this API issues, ``{"after": <user id>}``; ``{}`` or the SDK's keys, a
    made-up shape, are refused rather than read as page one. A token names no tenant: the tenant is ours."""
    if not raw:
        return None
    if len(raw) > MAX_TOKEN_CHARS:
        raise ReportError("continuation: not a token this API issued (too long)")
    try:
        data = orjson.loads(base64.urlsafe_b64decode(raw.encode()))
    except (binascii.Error, orjson.JSONDecodeError, ValueError):
        data = None
    after = data.get("after") if isinstance(data, dict) and set(data) == {"after"} else None
    if not isinstance(after, str) or not _GUID.fullmatch(after):
        raise ReportError("continuation: not a token this API issued; start again without it")
    return after


def page_users(
    users: UserStates, flt: UserFilter, limit: int, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of users in id order. Status and date are filtered by the table; protocol and platform
    are applied to the page, so a page can hold fewer than ``limit`` rows and still have a next one."""
    states, last = users.page_after(flt.status, flt.since, limit, after)
    return [user_row(s) for s in states if flt.matches(s)], encode_token(last)


def user_detail(repo: UserStates, ledger: NotificationLog, user_id: str) -> dict[str, Any] | None:
    if not _GUID.fullmatch(user_id):
        raise ReportError("id: must be a user object id (GUID)")
    state = repo.get(user_id)
    if state is None:
        return None
    evidence = state.evidence
    device = seen_device(evidence.user_agent, evidence.device_os)
    return {
        **user_row(state),
        "platform": device.platform,
        "ios_version": device.os_version,
        "evidence": {
            "failure_codes": evidence.failure_codes,
            "protocols": evidence.protocols,
            "agents": evidence.agents,
            "networks": evidence.networks,
            "countries": evidence.countries,
            "credential_failures": evidence.credential_failures,
            "spray_failures": evidence.spray_failures,
        },
        "rule_version": state.rule_version,
        "notifications": [
            {
                "message_id": e.message_id,
                "state": e.state,
                "template": e.template,
                "locale": e.locale,
                "created_at": e.created_at.isoformat(),
                "completed_at": e.completed_at.isoformat() if e.completed_at else None,
                "error": e.error,
            }
            for e in ledger.for_user(user_id)
        ],
    }
