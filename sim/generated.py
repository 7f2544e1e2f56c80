"""A large tenant computed on demand: `--users 100000 --events 1000000` costs no memory up front.

Every sign-in is a pure function of its index: legacy EAS sign-ins are spread evenly over the window,
newest first (index 0 is the newest), so a $filter on createdDateTime maps to an index range by
arithmetic and a page is built only when it is served. The mix follows what a large tenant shows:
most legacy traffic comes from a few hundred devices that retry all day (Apple Mail, Android vendor
clients), a share comes from password sprays (a handful of sources per hour, wrong passwords against
many accounts), a few Apple-app sign-ins mark users who re-added their account, and now and then a
record lacks its user id.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.constants import APPLE_APP_ID, EXCHANGE_ACTIVESYNC, EXCHANGE_ONLINE_APP_ID
from sim.graph_shapes import EXO_DISPLAY_NAME, signin_record

DEVICE_AGENTS = (
    ("Apple-iPhone14C2/2004.47", "Ios"),
    ("Apple-iPhone10C1/1907.71", "Ios"),
    ("Apple-iPad8C1/1604.57", "Ios"),
    ("Apple-iPhone12C1/2008.350", "Ios"),
    ("Android-SAMSUNG-SM-G991B/101.10.0", "Android"),
    ("Apple-MacBookPro18C1/2203.100", "MacOs"),
)
SPRAY_AGENTS = ("", "python-requests/2.31.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "BAV2ROPC")
SPRAY_COUNTRIES = ("NG", "VN", "BR", "RU", "CN", "US")
ODD_EVERY = 10_007
"""One record in about ten thousand comes without a userId, as real pages sometimes do."""

_MASK = (1 << 64) - 1


def _mix(value: int) -> int:
    """splitmix64: a fast, well-spread hash of an index, so each record is reproducible on its own."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def iso_millis(epoch: float) -> str:
    """Graph's timestamp shape, with milliseconds."""
    whole = math.floor(epoch)
    stamp = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{int((epoch - whole) * 1000):03d}Z"


@dataclass(frozen=True)
class Sequence:
    """One ordered run of sign-ins (legacy or Apple app): ``count`` of them, evenly spaced, newest first."""

    name: str
    count: int
    end: float
    days: float
    build: Callable[[int, float], dict[str, Any]]

    @property
    def step(self) -> float:
        return self.days * 86400 / max(self.count, 1)

    def created(self, index: int) -> float:
        return self.end - (index + 0.5) * self.step

    def index_range(self, matches_time: Callable[[float], bool], lo: float | None, hi: float | None) -> range:
        """Indexes whose time passes the filter; times fall as the index grows, so the range is contiguous."""
        first = 0 if hi is None else max(0, math.floor((self.end - hi) / self.step - 0.5) - 1)
        last = self.count if lo is None else min(self.count, math.ceil((self.end - lo) / self.step - 0.5) + 2)
        while first < last and not matches_time(self.created(first)):
            first += 1
        while last > first and not matches_time(self.created(last - 1)):
            last -= 1
        return range(first, last)

    def item(self, index: int) -> dict[str, Any]:
        return self.build(index, self.created(index))


@dataclass
class GeneratedTenant:
    users: int
    events: int
    now: datetime
    seed: int = 1
    days: float = 30.0
    spray_share: float = 0.01
    """Share of legacy sign-ins that are password spray (wrong passwords against random accounts)."""
    apple_events: int | None = None
    _sequences: tuple[Sequence, Sequence] | None = field(default=None, repr=False)

    @property
    def tenant_id(self) -> str:
        return f"{self.seed:08x}-7e57-4e57-8e57-{self.seed:012x}"

    @property
    def devices(self) -> int:
        """Users with a legacy device: one for every 2,500 events (each retries about 75 times a day)."""
        return max(10, min(self.users, self.events // 2500))

    def user_id(self, index: int) -> str:
        return f"{self.seed:08x}-0000-4000-8000-{index:012x}"

    def user_index(self, user_id: str) -> int | None:
        prefix = f"{self.seed:08x}-0000-4000-8000-"
        if not user_id.lower().startswith(prefix):
            return None
        try:
            index = int(user_id[len(prefix) :], 16)
        except ValueError:
            return None
        return index if 0 <= index < self.users else None

    def user(self, index: int) -> dict[str, Any]:
        upn = f"user{index}@contoso.example"
        german = index % 3 == 0
        return {
            "id": self.user_id(index),
            "userPrincipalName": upn,
            "displayName": f"User {index}",
            "mail": upn,
            "proxyAddresses": [f"SMTP:{upn}"],
            "preferredLanguage": "de-DE" if german else "en-US",
            "usageLocation": "DE" if german else "US",
            "accountEnabled": index % 97 != 0,
            "userType": "Guest" if index % 89 == 0 else "Member",
        }

    def device_user(self, device: int) -> int:
        return (device * 7919 + 13) % self.users

    def sequences(self) -> tuple[Sequence, Sequence]:
        if self._sequences is None:
            end = self.now.timestamp()
            apple = self.apple_events if self.apple_events is not None else max(1, self.events // 100)
            self._sequences = (
                Sequence("legacy", self.events, end, self.days, self._legacy),
                Sequence("apple", apple, end, self.days, self._apple),
            )
        return self._sequences

    def _legacy(self, index: int, created: float) -> dict[str, Any]:
        h = _mix(self.seed * 1_000_003 + index)
        if (h & 0xFFFF) / 65536 < self.spray_share:
            hour = int(created // 3600)
            who = (h >> 24) % self.users
            ip = f"198.51.100.{(hour * 7 + (h >> 16) % 4) % 250 + 1}"
            agent, system = SPRAY_AGENTS[(h >> 48) % len(SPRAY_AGENTS)], ""
            code, country = 50126, SPRAY_COUNTRIES[(h >> 52) % len(SPRAY_COUNTRIES)]
        else:
            device = (h >> 16) % self.devices
            who = self.device_user(device)
            agent, system = DEVICE_AGENTS[device % len(DEVICE_AGENTS)]
            ip = f"10.{(device >> 8) % 250}.{device % 250}.{(h >> 40) % 4 + 1}"
            code = (0, 53003, 53003, 50126, 50126)[device % 5]
            country = "DE" if device % 3 == 0 else "US"
        record = self._record("5e1a", index, created, self.user(who), EXCHANGE_ACTIVESYNC, ip, agent, system, code)
        record["location"]["countryOrRegion"] = country
        if index % ODD_EVERY == ODD_EVERY - 1:
            record["userId"] = None
        return record

    def _apple(self, index: int, created: float) -> dict[str, Any]:
        device = (index * 10) % self.devices
        person = self.user(self.device_user(device))
        client = "Browser" if index % 7 == 0 else "Mobile Apps and Desktop clients"
        return self._record("a991", index, created, person, client, "10.0.0.1", "", "Ios", 0, APPLE_APP_ID)

    def _record(
        self,
        kind: str,
        index: int,
        created: float,
        person: dict[str, Any],
        client: str,
        ip: str,
        agent: str,
        system: str,
        code: int,
        app_id: str = EXCHANGE_ONLINE_APP_ID,
    ) -> dict[str, Any]:
        return signin_record(
            f"{self.seed:08x}-{kind}-4000-8000-{index:012x}",
            iso_millis(created),
            person,
            client_app=client,
            app_id=app_id,
            app_name="Apple Internet Accounts" if app_id == APPLE_APP_ID else EXO_DISPLAY_NAME,
            error_code=code,
            failure_reason=None,
            ip=ip,
            user_agent=agent,
            operating_system=system,
            country="",
            correlation_id=f"{self.seed:08x}-c0de-4000-8000-{index:012x}",
        )
