"""The admin summary's breakdown of tracked users (platform, iOS band, notified), counted in one pass.

Pure: the collect run feeds it every judged user and records the result with its figures, so the
summary and dashboard never scan the users table to draw it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.records import UserState
from core.runs import UserBreakdown
from rules.devices import seen_device
from rules.owners import account_kind
from rules.protocols import retirement_of
from rules.user_agent import DeviceInfo

OPEN_STATUSES = ("legacy_active", "attack_suspected")


def platform_of(state: UserState) -> str:
    """The platform the emails write about: the user agent's, else deviceDetail's (v1.0 has no agent)."""
    return seen_device(state.evidence.user_agent, state.evidence.device_os).platform


def ios_band(state: UserState) -> str:
    """Where an iPhone/iPad's iOS stands against Apple's cut-offs: below 12 (EAS set up before modern
    auth), 12 to 15.5, 15.6 or later; ``n/a`` for everything else."""
    return _band(seen_device(state.evidence.user_agent, state.evidence.device_os))


def _band(device: DeviceInfo) -> str:
    if device.platform not in ("ios", "ipados") or device.os_major is None:
        return "n/a"
    if device.os_major < 12:
        return "below 12"
    return "12 to 15.5" if (device.os_major, device.os_minor or 0) < (15, 6) else "15.6 or later"


@dataclass
class BreakdownCounter:
    """Counts users as they pass; ``figures()`` is what the run records."""

    active_platforms: Counter[str] = field(default_factory=Counter)
    active_ios: Counter[str] = field(default_factory=Counter)
    platforms: Counter[str] = field(default_factory=Counter)
    notified: int = 0
    open_protocols: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """(protocol, kind, outcome) → accounts."""

    def add(self, state: UserState) -> None:
        device = seen_device(state.evidence.user_agent, state.evidence.device_os)
        platform = device.platform
        self.platforms[platform] += 1
        self.notified += bool(state.notified_count)
        if state.verdict.status == "legacy_active":
            self.active_platforms[platform] += 1
            self.active_ios[_band(device)] += 1
        if state.verdict.status in OPEN_STATUSES:
            kind, outcome = account_kind(state), "succeeding" if state.evidence.legacy_success else "failing"
            for protocol in protocols_of(state):
                self.open_protocols[protocol, kind, outcome] += 1

    def figures(self) -> UserBreakdown:
        return UserBreakdown(
            legacy_active_by_platform=dict(self.active_platforms.most_common()),
            legacy_active_by_ios_version=dict(self.active_ios.most_common()),
            tracked_by_platform=dict(self.platforms.most_common()),
            notified=self.notified,
            open_by_protocol=_nested(self.open_protocols),
        )


def protocols_of(state: UserState) -> set[str]:
    """The protocols an account used, by the registry's spelling where it has one (Graph's case varies)."""
    names = set()
    for name, count in state.evidence.protocols.items():
        if count:
            entry = retirement_of(name)
            names.add(entry.client_app if entry else name)
    return names


def _nested(counts: Counter[tuple[str, str, str]]) -> dict[str, dict[str, dict[str, int]]]:
    nested: dict[str, dict[str, dict[str, int]]] = {}
    for (protocol, kind, outcome), count in sorted(counts.items()):
        nested.setdefault(protocol, {}).setdefault(kind, {})[outcome] = count
    return nested


def breakdown_of(states: Iterable[UserState]) -> UserBreakdown:
    counter = BreakdownCounter()
    for state in states:
        counter.add(state)
    return counter.figures()
