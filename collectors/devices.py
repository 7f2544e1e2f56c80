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

from core.clock import parse_graph_time
from core.records import DeviceRecord
from core.settings import Settings
from rules.devices import IOS12_RELEASED, MIN_EAS_PROTOCOL, is_apple, protocol_version

EXO_SCOPE = "https://outlook.office365.com/.default"
SYSTEM_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"
PAGE_SIZE = 1000
_DATE = re.compile(r"^/Date\((-?\d+)\)/$")


class DeviceCollectorError(RuntimeError):
    """Exchange refused or failed; ``finding`` is what the admin should do about it."""

    def __init__(self, status: int, finding: str) -> None:
        self.status = status
        self.finding = finding
        super().__init__(finding)


@dataclass
class DeviceHarvest:
    devices: list[DeviceRecord] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    requests: int = 0


class ExchangeAdminClient:
    def __init__(self, settings: Settings, http: httpx.AsyncClient, token: str | None) -> None:
        self._url = f"{settings.exo_base_url}/adminapi/beta/{settings.tenant_id}/InvokeCommand"
        self._http = http
        self._headers = {
            "Content-Type": "application/json",
            "Prefer": f"odata.maxpagesize={PAGE_SIZE}",
            "X-AnchorMailbox": f"UPN:{SYSTEM_MAILBOX}@{settings.exo_organization}",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        }
        self.requests = 0

    async def run(self, cmdlet: str, parameters: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Every object a cmdlet returns, page by page (@odata.nextLink)."""
        body = orjson.dumps({"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}})
        url: str | None = self._url
        while url:
            page = await self._post(url, body, cmdlet)
            for item in page.get("value") or []:
                if isinstance(item, dict):
                    yield item
            next_link = page.get("@odata.nextLink")
            url = next_link if isinstance(next_link, str) and next_link else None

    async def _post(self, url: str, body: bytes, cmdlet: str) -> dict[str, Any]:
        for attempt in range(4):
            self.requests += 1
            response = await self._http.post(url, content=body, headers=self._headers)
            if response.status_code in (429, 503) and attempt < 3:
                await asyncio.sleep(min(float(response.headers.get("Retry-After", "2") or 2), 30.0))
                continue
            break
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
        data = orjson.loads(response.content)
        return data if isinstance(data, dict) else {}


async def collect_devices(settings: Settings, token: str | None = None) -> DeviceHarvest:
    """All partnerships joined to their users (Get-Mailbox + Get-MobileDevice, each one paged call), and
    statistics only for devices that could be legacy, whose last sync decides whether they matter."""
    harvest = DeviceHarvest()
    async with httpx.AsyncClient(timeout=60) as http:
        exo = ExchangeAdminClient(settings, http, token)
        owners: dict[str, str] = {}
        async for mailbox in exo.run("Get-Mailbox", {"ResultSize": "Unlimited"}):
            object_id = str(mailbox.get("ExternalDirectoryObjectId") or "").lower()
            for key in (mailbox.get("Identity"), mailbox.get("Name"), mailbox.get("UserPrincipalName")):
                if object_id and isinstance(key, str) and key:
                    owners[key.casefold()] = object_id
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


def could_be_legacy(device: DeviceRecord) -> bool:
    if device.client_type.casefold() != "eas":
        return False
    old_profile = is_apple(device) and device.first_sync is not None and device.first_sync < IOS12_RELEASED
    version = protocol_version(device.client_version)
    return old_profile or (version is not None and version < MIN_EAS_PROTOCOL)


async def _with_statistics(exo: ExchangeAdminClient, device: DeviceRecord, identity: str) -> DeviceRecord:
    async for stats in exo.run("Get-MobileDeviceStatistics", {"Identity": identity}):
        last = exchange_time(stats.get("LastSuccessSync")) or exchange_time(stats.get("LastSyncAttemptTime"))
        return replace(device, last_sync=last)
    return device


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


async def exchange_token(settings: Settings) -> str | None:
    """A token for Exchange's admin API from the managed identity; none for a loopback simulator."""
    if settings.graph_auth == "none":
        return None
    from collectors.graph import azure_credential

    credential = azure_credential(settings)
    async with credential:
        token = await credential.get_token(EXO_SCOPE)
    return str(token.token)
