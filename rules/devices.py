"""Exchange device partnerships: a profile older than iOS 12 still uses basic auth; stale ones are debris."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.findings import DeviceFinding
from core.records import DeviceRecord, UserState
from rules import links
from rules.rule import Reason, Rule
from rules.user_agent import DeviceInfo, from_device_detail, parse_user_agent

IOS12_RELEASED = datetime(2018, 9, 17, tzinfo=UTC)
"""A partnership first synced before this was set up with basic auth and keeps it across upgrades."""
MIN_EAS_PROTOCOL = (16, 1)
"""Exchange Online refuses EAS protocol versions below 16.1 since March 2026."""
APPLE_TYPES = ("iphone", "ipad", "ipod")
MODERN_AUTH_IOS = 12
"""Apple Mail signs in to Exchange Online with modern authentication from iOS 12."""

RULE = Rule(
    name="device_partnerships",
    version="1",
    summary="Pre-iOS 12 Apple profiles and old EAS protocol versions on devices still syncing; stale ones are debris.",
    reasons=(
        Reason(
            "pre_ios12_profile",
            "high",
            "An Apple device still syncs with an Exchange profile first synced before iOS 12 (2018-09-17): "
            "set up with basic authentication, it keeps it across upgrades.",
            "The user removes the Exchange account from the device and adds it again (they are emailed how).",
            links.APPLE_MAIL_MIGRATION,
        ),
        Reason(
            "eas_protocol_below_16_1",
            "medium",
            "A device still syncing speaks an Exchange ActiveSync protocol below 16.1, "
            "which Exchange Online refuses since March 2026.",
            "The user updates the mail app or the device (they are emailed), or switches to Outlook Mobile.",
            links.GET_MOBILE_DEVICE,
        ),
        Reason(
            "obsolete_device_only",
            "low",
            "The user's only legacy evidence is a partnership that has not synced within the stale window: "
            "debris, listed and never mailed about.",
            "Remove the obsolete partnership in the Exchange admin center (or with Remove-MobileDevice).",
            links.REMOVE_MOBILE_DEVICE,
        ),
    ),
)


@dataclass(frozen=True)
class DeviceVerdict:
    device: DeviceRecord
    active: bool
    reasons: tuple[str, ...]


def is_apple(device: DeviceRecord) -> bool:
    return device.device_type.casefold() in APPLE_TYPES or device.device_os.casefold().startswith(("ios", "ipados"))


def protocol_version(text: str) -> tuple[int, int] | None:
    match = re.match(r"^\s*(\d+)\.(\d+)", text or "")
    return (int(match[1]), int(match[2])) if match else None


def judge_device(device: DeviceRecord, stale_days: int, now: datetime) -> DeviceVerdict:
    active = device.last_sync is not None and now - device.last_sync <= timedelta(days=stale_days)
    return DeviceVerdict(device, active, legacy_profile_reasons(device) if active else ())


def legacy_profile_reasons(device: DeviceRecord) -> tuple[str, ...]:
    """Why an EAS partnership may still use basic auth: a pre-iOS 12 Apple profile, an old protocol."""
    if device.client_type.casefold() != "eas":
        return ()
    reasons: list[str] = []
    if is_apple(device) and device.first_sync is not None and device.first_sync < IOS12_RELEASED:
        reasons.append("pre_ios12_profile")
    version = protocol_version(device.client_version)
    if version is not None and version < MIN_EAS_PROTOCOL:
        reasons.append("eas_protocol_below_16_1")
    return tuple(reasons)


def legacy_devices(
    devices: tuple[DeviceRecord, ...], stale_days: int, now: datetime, fixed_at: datetime | None
) -> list[DeviceVerdict]:
    """Devices that still sync with a legacy profile, and did so after the user's Apple-app sign-in."""
    verdicts = [judge_device(d, stale_days, now) for d in devices]
    return [
        v
        for v in verdicts
        if v.reasons and (fixed_at is None or (v.device.last_sync is not None and v.device.last_sync > fixed_at))
    ]


def only_obsolete(devices: tuple[DeviceRecord, ...], stale_days: int, now: datetime) -> bool:
    return bool(devices) and not any(judge_device(d, stale_days, now).active for d in devices)


def legacy_profile_device(devices: tuple[DeviceRecord, ...]) -> DeviceRecord | None:
    """The pre-iOS 12 Apple partnership to name in the email (the most recently synced one)."""
    old = [
        d
        for d in devices
        if d.client_type.casefold() == "eas"
        and is_apple(d)
        and d.first_sync is not None
        and d.first_sync < IOS12_RELEASED
    ]
    return max(old, key=lambda d: d.last_sync or IOS12_RELEASED, default=None)


def _reason_partnership(state: UserState) -> DeviceRecord | None:
    return legacy_profile_device(state.devices) if "pre_ios12_profile" in state.verdict.reasons else None


def primary_user_agent(state: UserState) -> str:
    """The user agent of the device to write about: the old partnership if that is the reason."""
    partnership = _reason_partnership(state)
    return partnership.user_agent if partnership else state.evidence.user_agent


def seen_device(user_agent: str, device_os: str = "") -> DeviceInfo:
    """The device behind a sign-in: its user agent, else what deviceDetail.operatingSystem says (v1.0)."""
    device = parse_user_agent(user_agent)
    return device if device.platform != "unknown" else from_device_detail(device_os)


def reaches_modern_auth(device: DeviceInfo) -> bool | None:
    """Can this hardware run iOS 12, where Mail signs in with modern authentication? None when unknown."""
    if device.max_os is None:
        return True if device.model_id else None
    return device.max_os[0] >= MODERN_AUTH_IOS


def describe_device(state: UserState) -> str:
    """How the user knows the device: "iPhone 8, first synced 2017-03-02" or "iPhone 5s (iOS 12.5.7, build 16H81)"."""
    partnership = _reason_partnership(state)
    if partnership is not None:
        return partnership.label
    device = seen_device(state.evidence.user_agent, state.evidence.device_os)
    return device.label if device.platform != "unknown" else ""


def could_be_legacy(device: DeviceRecord) -> bool:
    """An EAS partnership that may still use basic auth, whether it still syncs or not."""
    return bool(legacy_profile_reasons(device))


def devices_by_user(devices: Iterable[DeviceRecord]) -> dict[str, tuple[DeviceRecord, ...]]:
    """Each user's partnerships, for the users with at least one that could be legacy (the rest do not
    concern the monitor)."""
    by_user: dict[str, list[DeviceRecord]] = {}
    for device in devices:
        by_user.setdefault(device.user_id, []).append(device)
    return {uid: tuple(devs) for uid, devs in by_user.items() if any(could_be_legacy(d) for d in devs)}


def partnership_finding(
    devices: Sequence[DeviceRecord],
    relevant: Mapping[str, tuple[DeviceRecord, ...]],
    requests: int,
    stale_days: int,
    now: datetime,
) -> DeviceFinding:
    """What the admin reads of the partnerships: how many were read, still legacy, obsolete."""
    judged = [judge_device(d, stale_days, now) for devs in relevant.values() for d in devs]
    return DeviceFinding(
        readable=True,
        devices=len(devices),
        legacy=sum(1 for v in judged if v.reasons),
        obsolete=sum(1 for v in judged if not v.active),
        requests=requests,
    )
