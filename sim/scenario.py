"""Scenario data for the simulator: Graph-shaped users, sign-ins, service principals and grants."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.clock import parse_graph_time
from sim.generated import GeneratedTenant

DEFAULT_ACS_KEY = base64.b64encode(b"legacy-auth-monitor-simulator-key").decode()


@dataclass
class Scenario:
    tenant_id: str
    users: list[dict[str, Any]] = field(default_factory=list)
    sign_ins: list[dict[str, Any]] = field(default_factory=list)
    service_principals: list[dict[str, Any]] = field(default_factory=list)
    grants: list[dict[str, Any]] = field(default_factory=list)
    authorization_policy: dict[str, Any] = field(default_factory=lambda: authorization_policy(user_consent=False))
    ca_policies: list[dict[str, Any]] = field(default_factory=list)
    acs_key: str = DEFAULT_ACS_KEY
    expected: dict[str, str] = field(default_factory=dict)
    """Ground truth: user id → the status a correct monitor reaches (for the demo's self-check)."""
    managers: dict[str, str] = field(default_factory=dict)
    mail_to: dict[str, str] = field(default_factory=dict)
    """Ground truth for SMTP AUTH senders: user id → the address a correct monitor mails ("" for nobody)."""
    sender_kinds: dict[str, str] = field(default_factory=dict)
    """Ground truth for SMTP AUTH accounts: user id → the sender kind a correct monitor names."""
    owners: dict[str, str] = field(default_factory=dict)
    """The admin's owner map for the demo (LAM_SENDER_OWNERS): sender UPN → owner address."""
    """Entra ID's manager of a user: user id → the manager's user id (served at users/{id}/manager)."""
    mailboxes: list[dict[str, Any]] = field(default_factory=list)
    """Get-Mailbox objects (Exchange's field names), for the device collector's owner lookup."""
    devices: list[dict[str, Any]] = field(default_factory=list)
    """Get-MobileDevice objects; LastSuccessSync, when present, is served by Get-MobileDeviceStatistics."""
    transport_config: dict[str, Any] = field(default_factory=lambda: {"SmtpClientAuthenticationDisabled": False})
    """Get-TransportConfig: SMTP AUTH on for the organization (the default of tenants made before 2020)."""
    organization_config: dict[str, Any] = field(default_factory=lambda: {"EwsEnabled": None})
    """Get-OrganizationConfig: EwsEnabled not configured ($null)."""
    cas: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Get-CASMailbox settings set on a mailbox (casefolded UPN → {"SmtpClientAuthenticationDisabled": False});
    a mailbox not listed has them blank ($null: it follows the organization)."""
    mailed: set[str] = field(default_factory=set)
    """Ground truth: the user ids a correct monitor emails (its first message)."""
    advice: dict[str, str] = field(default_factory=dict)
    """Ground truth: user id → an advice code the verdict must carry (the steps the user must be sent)."""
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Injected errors by endpoint kind (signIns, users, servicePrincipals, oauth2PermissionGrants,
    emails:send): {"status": 403, "code": "...", "message": "...", "times": 2}; no "times" = always;
    "retry_after": seconds, "after": N requests first, "hang_seconds": answer late (client timeouts)."""
    throttle: tuple[int, float] = (5, 10.0)
    """Sign-in requests allowed per window of seconds: Graph's reports limit, 5 per 10 s per tenant."""
    time_scale: float = 1.0
    """Runs the throttle window and page latency this many times faster (benchmarks)."""
    latency_ms: float = 0.0
    """Time to serve one sign-in page (before the time scale)."""
    page_size: int = 1000
    """Most sign-ins on one page: Graph serves at most 1000, and sometimes fewer than $top."""
    quirks: dict[str, int] = field(default_factory=dict)
    """Paging oddities of Graph: {"empty_page_every": 3} (an empty page that still links on),
    {"repeat_last_every": 4} (a page repeating the last record of the one before)."""
    generated: GeneratedTenant | None = None
    """A large tenant computed on demand instead of the lists above (users and sign-ins)."""

    def __post_init__(self) -> None:
        self.sort()

    def sort(self) -> None:
        """Graph returns sign-ins newest first; keep them that way once, not per request."""
        self.sign_ins.sort(key=_created, reverse=True)


def authorization_policy(user_consent: bool) -> dict[str, Any]:
    """The tenant's authorizationPolicy; new tenants allow only low-impact user consent."""
    assigned = [
        "ManagePermissionGrantsForOwnedResource.microsoft-dynamically-managed-permissions-for-team",
        "ManagePermissionGrantsForSelf.microsoft-user-default-legacy"
        if user_consent
        else "ManagePermissionGrantsForSelf.microsoft-user-default-low",
    ]
    return {
        "id": "authorizationPolicy",
        "displayName": "Authorization Policy",
        "allowInvitesFrom": "everyone",
        "defaultUserRolePermissions": {
            "allowedToCreateApps": True,
            "allowedToCreateSecurityGroups": True,
            "allowedToReadOtherUsers": True,
            "permissionGrantPoliciesAssigned": assigned,
        },
    }


def _created(item: dict[str, Any]) -> datetime:
    return parse_graph_time(item.get("createdDateTime")) or datetime.min.replace(tzinfo=UTC)
