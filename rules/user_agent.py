"""Read the device behind an Exchange ActiveSync user agent, e.g. ``Apple-iPhone14C2/2004.47``."""

from __future__ import annotations

import re
from dataclasses import dataclass

_APPLE_EAS = re.compile(
    r"^Apple-(?P<family>iPhone|iPad|iPod|MacBook|Mac|iMac)(?P<model>[\w,]*)/(?P<build>\d{4})\.(?P<rest>\d+)"
)
_ANDROID = re.compile(r"^Android-(?P<vendor>[A-Za-z]+)(?:-(?P<model>[\w-]+))?", re.IGNORECASE)
_OUTLOOK = re.compile(r"Outlook-(iOS|Android)", re.IGNORECASE)

_FAMILY_PLATFORM = {
    "iPhone": "ios",
    "iPod": "ios",
    "iPad": "ipados",
    "Mac": "macos",
    "MacBook": "macos",
    "iMac": "macos",
}


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    platform: str
    """ios | ipados | macos | android | outlook | unknown"""
    model: str = ""
    build: str | None = None
    """Apple build like 20D47, decoded from the EAS build number."""
    os_major: int | None = None

    @property
    def label(self) -> str:
        """What the admin and the user see, e.g. "iPhone (iOS 16, build 20D47)"."""
        if self.platform in ("ios", "ipados") and self.os_major is not None:
            name = "iPadOS" if self.platform == "ipados" else "iOS"
            return f"{self.model or 'Apple device'} ({name} {self.os_major}, build {self.build})"
        if self.platform == "unknown":
            return "an unknown mail app"
        return self.model or self.platform


def parse_user_agent(user_agent: str | None) -> DeviceInfo:
    """Never raises: anything unrecognised is platform "unknown"."""
    text = (user_agent or "").strip()
    match = _APPLE_EAS.match(text)
    if match:
        family = match["family"]
        build = _apple_build(match["build"], match["rest"])
        return DeviceInfo(
            platform=_FAMILY_PLATFORM.get(family, "unknown"),
            model=family,
            build=build,
            os_major=_ios_major(int(match["build"][:2])) if family not in ("Mac", "MacBook", "iMac") else None,
        )
    match = _ANDROID.match(text)
    if match:
        model = "-".join(part for part in (match["vendor"], match["model"]) if part)
        return DeviceInfo(platform="android", model=model)
    if _OUTLOOK.search(text):
        return DeviceInfo(platform="outlook", model="Outlook mobile")
    return DeviceInfo(platform="unknown")


def _apple_build(number: str, rest: str) -> str | None:
    """2004.47 → 20D47: two digits of major build, two of the letter's place (A=01), then the rest."""
    letter_index = int(number[2:])
    if not 1 <= letter_index <= 26:
        return None
    return f"{int(number[:2])}{chr(ord('A') + letter_index - 1)}{rest}"


def _ios_major(major_build: int) -> int | None:
    """Builds 15–22 are iOS 11–18; Apple jumped from build 22 (iOS 18) to iOS 26 with build 23."""
    if 15 <= major_build <= 22:
        return major_build - 4
    if major_build == 23:
        return 26
    return None
