"""Exchange device partnerships in a few paged calls instead of one per mailbox (optional collector).

Uses Exchange Online's admin API (`/adminapi/beta/{tenant}/InvokeCommand`), the endpoint the Exchange
PowerShell module calls. It is not a documented public API, so it stays behind LAM_COLLECT_DEVICES.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from collectors.capped_transport import CappedTransport, ResponseTooLargeError
from collectors.graph import same_origin
from core.clock import parse_graph_time
from core.records import DeviceRecord
from core.retry import RETRYABLE_STATUS, RetryPolicy, retry_after_seconds
from rules.devices import could_be_legacy

EXO_SCOPE = "https://outlook.office365.com/.default"
SYSTEM_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"
PAGE_SIZE = 1000
MAX_PAGES = 5000
"""Pages one cmdlet may answer with (five million objects): an Exchange that never stops paging is refused."""
MAX_BODY_BYTES = 64 * 1024 * 1024
"""One answer, inflated: a page of 1,000 Get-Mailbox objects is a few megabytes."""
_DATE = re.compile(r"^/Date\((-?\d+)\)/$")


class DeviceCollectorError(RuntimeError):
    """Exchange refused or failed; ``finding`` is what the admin should do about it."""

    def __init__(self, status: int, finding: str) -> None:
        self.status = status
        self.finding = finding
        super().__init__(finding)


@dataclass(frozen=True)
class ExchangeTarget:
    """Where the tenant's Exchange admin API is: base URL, tenant id, initial domain (anchor mailbox)."""

    base_url: str
    tenant_id: str
    organization: str


@dataclass
class DeviceHarvest:
    devices: list[DeviceRecord] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    mailbox_types: dict[str, str] = field(default_factory=dict)
    """User object id → RecipientTypeDetails, for mailboxes that are not a user's own (shared, room, ...):
    read from the same Get-Mailbox list, so knowing them costs no request."""


class ExchangeAdminClient:
    def __init__(
        self, target: ExchangeTarget, http: httpx.AsyncClient, token: str | None, retry: RetryPolicy | None = None
    ) -> None:
        self._origin = target.base_url
        self._url = f"{target.base_url}/adminapi/beta/{target.tenant_id}/InvokeCommand"
        self._retry = retry or RetryPolicy(max_retries=3)
        self._http = http
        self._headers = {
            "Content-Type": "application/json",
            "Prefer": f"odata.maxpagesize={PAGE_SIZE}",
            "X-AnchorMailbox": f"UPN:{SYSTEM_MAILBOX}@{target.organization}",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        }
        self.requests = 0

    async def run(self, cmdlet: str, parameters: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Every object a cmdlet returns, page by page (@odata.nextLink), while the links stay on Exchange's
        host (LAM_EXO_BASE_URL): a link elsewhere would carry the token there, so the answer is refused instead."""
        body = orjson.dumps({"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}})
        url: str | None = self._url
        followed: set[str] = set()
        while url:
            page = await self._post(url, body, cmdlet)
            value = page.get("value")
            for item in value if isinstance(value, list) else []:
                if isinstance(item, dict):
                    yield item
            next_link = page.get("@odata.nextLink")
            url = next_link if isinstance(next_link, str) and next_link else None
            if url is not None:
                self._check_next(url, cmdlet, followed)
                followed.add(url)

    def _check_next(self, url: str, cmdlet: str, followed: set[str]) -> None:
        if not same_origin(url, self._origin):
            raise DeviceCollectorError(
                200, f"Exchange {cmdlet} answered a nextLink to another host, not followed: {url[:200]!r}"
            )
        if url in followed or len(followed) >= MAX_PAGES:
            raise DeviceCollectorError(
                200, f"Exchange {cmdlet} kept paging (a nextLink repeated, or past {MAX_PAGES} pages): stopped"
            )

    async def _post(self, url: str, body: bytes, cmdlet: str) -> dict[str, Any]:
        for attempt in range(self._retry.max_retries + 1):
            self.requests += 1
            try:
                response = await self._http.post(url, content=body, headers=self._headers)
            except ResponseTooLargeError as exc:
                raise DeviceCollectorError(200, f"Exchange {cmdlet} answered too much: {exc}") from exc
            if response.status_code not in RETRYABLE_STATUS or attempt == self._retry.max_retries:
                break
            await asyncio.sleep(self._retry.delay(attempt, retry_after_seconds(response.headers.get("Retry-After"))))
        if response.status_code in (401, 403):
            raise DeviceCollectorError(
                response.status_code,
                f"Exchange refused {cmdlet} ({response.status_code}): grant the monitor's identity the "
                "Exchange.ManageAsApp application role and an Exchange role that can read mobile devices "
                "(e.g. View-Only Organization Management), see docs/deploy.md",
            )
        if response.status_code >= 400:
            raise DeviceCollectorError(
                response.status_code, f"Exchange {cmdlet} failed: {response.status_code} {response.text[:300]}"
            )
        try:
            data = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise DeviceCollectorError(response.status_code, f"Exchange {cmdlet} answered with no JSON: {exc}") from exc
        return data if isinstance(data, dict) else {}


def exchange_http() -> httpx.AsyncClient:
    """The HTTP client for Exchange's admin API: its answers are read no further than MAX_BODY_BYTES."""
    capped = CappedTransport(httpx.AsyncHTTPTransport(), MAX_BODY_BYTES, MAX_BODY_BYTES)
    return httpx.AsyncClient(timeout=60, transport=capped)


async def collect_devices(
    target: ExchangeTarget, token: str | None = None, retry: RetryPolicy | None = None
) -> DeviceHarvest:
    """All partnerships joined to their users (Get-Mailbox + Get-MobileDevice, each one paged call), and
    statistics only for devices that could be legacy, whose last sync decides whether they matter."""
    harvest = DeviceHarvest()
    async with exchange_http() as http:
        exo = ExchangeAdminClient(target, http, token, retry)
        owners: dict[str, str] = {}
        async for mailbox in exo.run("Get-Mailbox", {"ResultSize": "Unlimited"}):
            object_id = _object_id(mailbox)  # a user id only if it is one: it becomes a table key
            for key in (mailbox.get("Identity"), mailbox.get("Name"), mailbox.get("UserPrincipalName")):
                if object_id and isinstance(key, str) and key:
                    owners[key.casefold()] = object_id
            kind, problem = mailbox_type(mailbox)
            if problem:
                harvest.skipped[problem] = harvest.skipped.get(problem, 0) + 1
            elif object_id and kind != USER_MAILBOX:
                harvest.mailbox_types[object_id] = kind
        async for item in exo.run("Get-MobileDevice", {"ResultSize": "Unlimited"}):
            device, problem = parse_device(item, owners)
            if device is None:
                harvest.skipped[problem] = harvest.skipped.get(problem, 0) + 1
                continue
            if device.last_sync is None and could_be_legacy(device):
                device = await _with_statistics(exo, device, str(item.get("Guid") or item.get("Identity") or ""))
            harvest.devices.append(device)
        harvest.requests = exo.requests
    return harvest


async def _with_statistics(exo: ExchangeAdminClient, device: DeviceRecord, identity: str) -> DeviceRecord:
    async for stats in exo.run("Get-MobileDeviceStatistics", {"Identity": identity}):
        last = exchange_time(stats.get("LastSuccessSync")) or exchange_time(stats.get("LastSyncAttemptTime"))
        return replace(device, last_sync=last)
    return device


USER_MAILBOX = "UserMailbox"
_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TYPE_NAME = re.compile(r"^[A-Za-z]{1,64}$")


def mailbox_type(item: dict[str, Any]) -> tuple[str, str]:
    """(RecipientTypeDetails, "") of one Get-Mailbox object, or ("", problem) when it cannot be trusted: no
    Entra object id (an on-premises-only or broken object), or a type that is no Exchange type name."""
    kind = item.get("RecipientTypeDetails")
    if _object_id(item) is None:
        return "", "mailbox_without_object_id"
    if not isinstance(kind, str) or not _TYPE_NAME.fullmatch(kind):
        return "", "mailbox_type_unreadable"
    return kind, ""


def _object_id(mailbox: dict[str, Any]) -> str | None:
    """The mailbox's Entra object id, lower case; None when it is missing or no GUID."""
    object_id = mailbox.get("ExternalDirectoryObjectId")
    return object_id.lower() if isinstance(object_id, str) and _OBJECT_ID.fullmatch(object_id) else None


def parse_device(item: dict[str, Any], owners: dict[str, str]) -> tuple[DeviceRecord | None, str]:
    if str(item.get("DeviceType") or "") == "TestActiveSyncConnectivity":
        return None, "test_activesync_connectivity"
    identity = str(item.get("Identity") or "")
    mailbox = identity.split("\\ExchangeActiveSyncDevices\\")[0] if "\\ExchangeActiveSyncDevices\\" in identity else ""
    user_id = owners.get(mailbox.casefold()) or owners.get(str(item.get("UserDisplayName") or "").casefold())
    if not user_id:
        return None, "owner_not_found"
    return (
        DeviceRecord(
            user_id=user_id,
            device_id=str(item.get("DeviceId") or ""),
            friendly_name=str(item.get("FriendlyName") or ""),
            device_os=str(item.get("DeviceOS") or ""),
            device_type=str(item.get("DeviceType") or ""),
            device_model=str(item.get("DeviceModel") or ""),
            user_agent=str(item.get("DeviceUserAgent") or ""),
            client_type=str(item.get("ClientType") or ""),
            client_version=str(item.get("ClientVersion") or ""),
            first_sync=exchange_time(item.get("FirstSyncTime")),
            last_sync=exchange_time(item.get("LastSuccessSync")) or exchange_time(item.get("LastSyncAttemptTime")),
            access_state=str(item.get("DeviceAccessState") or ""),
        ),
        "",
    )


def exchange_time(value: object) -> datetime | None:
    """Exchange writes dates as ISO-8601 or as "/Date(1488449700000)/" (ms since the epoch)."""
    if isinstance(value, str):
        match = _DATE.match(value.strip())
        if match:
            return datetime.fromtimestamp(int(match[1]) / 1000, tz=UTC)
    return parse_graph_time(value)


async def exchange_token(credential: Any | None) -> str | None:
    """A token for Exchange's admin API; none without a credential (the loopback simulator)."""
    if credential is None:
        return None
    async with credential:
        token = await credential.get_token(EXO_SCOPE)
    return str(token.token)
