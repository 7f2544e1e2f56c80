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
    os_minor: int | None = None
    """Known only where the build table below has it (the iOS 15 line, where 15.6 matters)."""

    @property
    def os_version(self) -> str | None:
        if self.os_major is None:
            return None
        return f"{self.os_major}.{self.os_minor}" if self.os_minor is not None else str(self.os_major)

    @property
    def label(self) -> str:
        """What the admin and the user see, e.g. "iPhone (iOS 16, build 20D47)"."""
        if self.platform in ("ios", "ipados") and self.os_major is not None:
            name = "iPadOS" if self.platform == "ipados" else "iOS"
            return f"{self.model or 'Apple device'} ({name} {self.os_version}, build {self.build})"
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
        apple_os = family not in ("Mac", "MacBook", "iMac")
        return DeviceInfo(
            platform=_FAMILY_PLATFORM.get(family, "unknown"),
            model=family,
            build=build,
            os_major=_ios_major(int(match["build"][:2])) if apple_os else None,
            os_minor=_IOS_MINOR.get(build[:3]) if apple_os and build else None,
        )
    match = _ANDROID.match(text)
    if match:
        model = "-".join(part for part in (match["vendor"], match["model"]) if part)
        return DeviceInfo(platform="android", model=model)
    if _OUTLOOK.search(text):
        return DeviceInfo(platform="outlook", model="Outlook mobile")
    return DeviceInfo(platform="unknown")


# iOS 15 minor versions by build train (major build 19 + letter). 15.6 (19G) is where iOS migrates
# old Exchange profiles to OAuth by itself, so this line is the one the advice needs.
_IOS_MINOR = {"19A": 0, "19B": 1, "19C": 2, "19D": 3, "19E": 4, "19F": 5, "19G": 6, "19H": 7}


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
