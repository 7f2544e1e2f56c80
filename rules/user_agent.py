"""Read the device behind a legacy mail client's user agent: platform, client, model and OS version.

Apple documents its Exchange ActiveSync agent as ``Apple-<model>/<build as digits>``: the build (``20D47``)
becomes the major build, the letter's place in the alphabet as two digits, a dot, then the rest
(``2004.47``); a trailing letter of a beta build becomes three zeros and its place (``11B554a`` →
``1102.55400001``). So iOS 3–9 have three digits before the dot, iOS 10 on four. The version of a build
comes from Apple's build table (rules/data/apple_builds.csv), the model's name from its model table.
Apple's other paths (``iOS/… dataaccessd``, ``Mac OS X/… ExchangeWebServices``) state the version in
clear. Android's stock client sends ``Android/<release>-EAS-<version>``, vendors ``Android-<VENDOR>-…``
or ``<VENDOR>-<model>/…``. Anything else is "unknown"; nothing here raises.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from rules import apple_data

Platform = str
"""ios | ipados | macos | android | windows | outlook | unknown"""

_APPLE_EAS = re.compile(
    r"(?:^|[\s(;])Apple-(?P<family>iPhone|iPad|iPod|Watch|MacBook\w*|Mac\w*|iMac\w*)(?P<model>\d+C\d+)?"
    r"/(?P<number>\d{3,4})\.(?P<rest>\d+)"
)
_APPLE_CLEAR = re.compile(
    r"^(?P<os>iOS|iPadOS|iPhone OS|macOS|Mac OS X|Mac\+OS\+X|MacOS)/(?P<version>\d+(?:[._]\d+)*)"
    r"(?:\s*\((?P<build>[^)]*)\))?(?P<tail>.*)$",
    re.IGNORECASE,
)
_EWS_PROXY_MAC = re.compile(r"^ExchangeWebServicesProxy/.*?/Mac OS X/(?P<version>\d+(?:\.\d+)*)", re.IGNORECASE)
_MAC_OUTLOOK = re.compile(r"^MacOutlook/(?P<app>[\d.]+)(?:\s*\((?:Intel |PPC )?Mac OS X (?P<version>[\d._]+)\))?")
_ANDROID_EAS = re.compile(r"^(?P<prefix>[\w-]*?)Android/(?P<release>\d+(?:\.\d+)*)(?:-EAS-(?P<eas>[\d.]+))?")
_ANDROID_EAS_OLD = re.compile(r"^Android-EAS/")
_VENDOR_RELEASE_EAS = re.compile(r"^(?P<vendor>[A-Za-z]+)(?P<model>[\w-]*)/(?P<release>\d+(?:\.\d+)*)-EAS-[\d.]+")
_ANDROID_VENDOR = re.compile(r"^Android-(?P<vendor>[A-Za-z]+)-(?P<model>[\w.-]+?)(?:/(?P<version>[\d.]+))?$", re.I)
_VENDOR_MODEL = re.compile(
    r"^(?P<vendor>SAMSUNG|MOTOROLA|HTC|LGE?|Sony(?:Ericsson)?|HUAWEI|ZTE|Lenovo|Xiaomi|OnePlus|OPPO|Nokia|Google)"
    r"[- ](?P<model>[\w().-]+?)(?:/(?P<version>[\w.]+))?$",
    re.IGNORECASE,
)
_ANDROID_BUILD_ID = re.compile(
    r"^(?P<device>[a-z0-9_]+)/(?P<build>[A-Z]{3}\d{2}[A-Z]|[A-Z]{2,4}\d[A-Z]?\.\d{6}\.\d{3})$"
)
_THIRD_PARTY = (
    (re.compile(r"^TouchDown\(MSRPC\)/(?P<version>[\d.]+)"), "TouchDown", "android"),
    (re.compile(r"^Nine/(?P<version>[\d.]+)", re.I), "Nine", "android"),
    (re.compile(r"^BlueMail/(?P<version>[\d.]+)", re.I), "BlueMail", "android"),
    (re.compile(r"^MSFT-WIN-3/(?P<version>[\d.]+)"), "Windows Mail", "windows"),
    (re.compile(r"^MSFT-WP/(?P<version>[\d.]+)"), "Windows Phone Mail", "windows"),
)
_OUTLOOK_MOBILE = re.compile(r"Outlook-(iOS|Android)", re.IGNORECASE)
_MAC_ANYWHERE = re.compile(r"\bMac[ _+]OS[ _+]X/(?P<version>\d+(?:[._]\d+)*)(?:\s*\((?P<build>[^)]*)\))?")
_IPHONE_DAVKIT = re.compile(r"\biPhone/(?P<version>\d+(?:\.\d+)*)(?:\s+(?P<build>\d{1,2}[A-Z]\d+[a-z]?))?")
_DATA_ACCESS = re.compile(r"^DataAccess/[\d.]+ \((?P<build>\d{1,2}[A-Z]\d+[a-z]?)\)")
_DARWIN_MAC = re.compile(r"\bDarwin/(?P<major>\d+)\.(?P<minor>\d+)[\d.]*\s*\((?:i386|x86_64)\)")
_ANDROID_WORD = re.compile(r"\(Android\)|\bAndroid\b")

_FAMILY_PLATFORM = {"iPhone": "ios", "iPod": "ios", "iPad": "ipados", "Watch": "ios"}
_CLEAR_PLATFORM = {"ios": "ios", "iphone os": "ios", "ipados": "ipados"}
MAIL_CLIENT_PLATFORMS = frozenset({"ios", "ipados", "macos", "android", "windows"})
"""Platforms of the mail apps that speak legacy protocols; Outlook mobile is modern and "unknown" is nobody."""
APPLE_PLATFORMS = frozenset({"ios", "ipados"})
PLATFORMS = ("ios", "ipados", "macos", "android", "windows", "outlook", "unknown")
"""Every platform a device is read as, in the order the admin views list them."""


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    platform: Platform
    """ios | ipados | macos | android | windows | outlook | unknown"""
    model: str = ""
    """What people call the device: "iPhone 5s", "SAMSUNG SM-G991B"; empty when unknown."""
    build: str | None = None
    """Apple build like 20D47, decoded from the EAS number or read from the agent."""
    os_major: int | None = None
    os_minor: int | None = None
    client: str = ""
    """The mail app: "Apple Mail", "Apple Mail (EWS)", "Android Exchange", "Samsung Email", "TouchDown", ..."""
    model_id: str = ""
    """Apple's model identifier, e.g. "iPhone6,2"; empty for other vendors."""
    os_patch: int | None = None
    """Known when the build is listed exactly (iOS 15.8.4) or the agent states it."""
    max_os: tuple[int, ...] | None = None
    """The last iOS the hardware can install (from the model table); None when not capped or unknown."""

    @property
    def os_version(self) -> str | None:
        if self.os_major is None:
            return None
        parts = [self.os_major, self.os_minor, self.os_patch]
        known = [str(p) for p in parts[: 1 + (self.os_minor is not None) + (self.os_patch is not None)]]
        return ".".join(known)

    @property
    def os_name(self) -> str:
        if self.platform == "ipados" and self.os_major is not None and self.os_major < 13:
            return "iOS"  # iPadOS got its name with version 13
        return {"ios": "iOS", "ipados": "iPadOS", "macos": "macOS", "android": "Android", "windows": "Windows"}.get(
            self.platform, ""
        )

    @property
    def is_mail_client(self) -> bool:
        return self.platform in MAIL_CLIENT_PLATFORMS

    @property
    def label(self) -> str:
        """What the admin and the user see, e.g. "iPhone 5s (iOS 12.5.7, build 16H81)"."""
        if self.platform == "unknown":
            return "an unknown mail app"
        name = self.model or self.client or self.os_name or self.platform
        if self.platform in APPLE_PLATFORMS and self.os_major is not None:
            build = f", build {self.build}" if self.build else ""
            return f"{self.model or 'Apple device'} ({self.os_name} {self.os_version}{build})"
        if self.os_major is not None and self.os_name:
            return f"{name} ({self.os_name} {self.os_version})"
        return name


UNKNOWN = DeviceInfo(platform="unknown")


def parse_user_agent(user_agent: str | None) -> DeviceInfo:
    """Never raises: anything unrecognised is platform "unknown"."""
    text = (user_agent or "").strip()
    if not text or len(text) > 512:
        return UNKNOWN
    return _parse_cached(text)


@functools.lru_cache(maxsize=1 << 14)
def _parse_cached(text: str) -> DeviceInfo:
    """Thousands of users share a few agents: each is read once."""
    try:
        return _parse(text)
    except (ValueError, IndexError, OverflowError):  # a malformed agent is unknown, never an error
        return UNKNOWN


def _parse(text: str) -> DeviceInfo:
    if _OUTLOOK_MOBILE.search(text):
        return DeviceInfo(platform="outlook", model="Outlook mobile", client="Outlook mobile")
    match = _APPLE_EAS.search(text)
    if match:
        return _apple_eas(match)
    for parse in (_apple_clear, _android, _vendor, _third_party, _apple_other):
        found = parse(text)
        if found is not None:
            return found
    return UNKNOWN


def _apple_other(text: str) -> DeviceInfo | None:
    """Apple's other frameworks: a ``Mac OS X/`` token anywhere (iCal, Address Book), old DAVKit iPhones,
    ``DataAccess/`` with a build, and Address Book on Darwin (Darwin 10 = Mac OS X 10.6)."""
    match = _MAC_ANYWHERE.search(text)
    if match:
        major, minor, patch = _split(apple_data.version_tuple(match["version"].replace("_", ".")))
        build = (match["build"] or "").strip() or None
        return DeviceInfo("macos", "Mac", build, major, minor, "Apple (DAV)", os_patch=patch)
    match = _IPHONE_DAVKIT.search(text)
    if match:
        stated = apple_data.version_tuple(match["version"])
        return _with_apple_build(DeviceInfo("ios", client="Apple (DAV)"), match["build"], stated)
    match = _DATA_ACCESS.match(text)
    if match:
        return _with_apple_build(DeviceInfo("ios", client="Apple (DAV)"), match["build"])
    match = _DARWIN_MAC.search(text)
    if match and 9 <= int(match["major"]) <= 19:
        return DeviceInfo(
            "macos", "Mac", None, 10, int(match["major"]) - 4, "Apple (DAV)", os_patch=int(match["minor"])
        )
    if _ANDROID_WORD.search(text):
        return DeviceInfo("android", client="Android app")
    return None


def _apple_eas(match: re.Match[str]) -> DeviceInfo:
    family = match["family"]
    if family not in _FAMILY_PLATFORM:  # Mac, MacBook, iMac: an Exchange agent of macOS
        return DeviceInfo(platform="macos", model=family, client="Apple Mail")
    build = eas_number_to_build(match["number"], match["rest"])
    model = apple_data.model(f"{family}{match['model']}") if match["model"] else None
    info = DeviceInfo(
        platform=_FAMILY_PLATFORM[family],
        model=model.name if model else family,
        client="Apple Mail",
        model_id=model.identifier if model else "",
        max_os=model.max_ios if model else None,
    )
    return _with_apple_build(info, build)


def _with_apple_build(info: DeviceInfo, build: str | None, stated: tuple[int, ...] | None = None) -> DeviceInfo:
    version = stated
    if version is None and build:
        found = apple_data.build_version(build)
        if found is not None:
            version, exact = found
            version = version if exact else version[:2]
        else:
            version = _major_of_build(build)
    major, minor, patch = _split(version)
    return DeviceInfo(
        platform=info.platform,
        model=info.model,
        build=build,
        os_major=major,
        os_minor=minor,
        client=info.client,
        model_id=info.model_id,
        os_patch=patch,
        max_os=info.max_os,
    )


def eas_number_to_build(number: str, rest: str) -> str | None:
    """Apple's EAS number back to its build: 2004.47 → 20D47, 1102.55400001 → 11B554a, 705.018 → 7E18."""
    major, letter = int(number[:-2]), int(number[-2:])
    if not 1 <= letter <= 26 or not 1 <= major <= 99:
        return None
    suffix = ""
    if len(rest) > 5 and rest[-5:-2] == "000" and 1 <= int(rest[-2:]) <= 26:
        suffix, rest = chr(ord("a") + int(rest[-2:]) - 1), rest[:-5]
    return f"{major}{chr(ord('A') + letter - 1)}{int(rest)}{suffix}"


def _major_of_build(build: str) -> tuple[int, ...] | None:
    """Apple's rule when the table has no such train: builds 15–22 are iOS 11–18, 23 is iOS 26; earlier
    builds are Apple's own table (14 = iOS 10 … 7 = iOS 3)."""
    digits = re.match(r"^\d+", build)
    if digits is None:
        return None
    major_build = int(digits[0])
    if 7 <= major_build <= 22:
        return (major_build - 4,)
    if major_build == 23:
        return (26,)
    if major_build > 23:  # the release after 26 follows the year-named scheme: build 24 is iOS 27
        return (major_build + 3,)
    return None


def _split(version: tuple[int, ...] | None) -> tuple[int | None, int | None, int | None]:
    if not version:
        return None, None, None
    padded = [*version, None, None]
    return padded[0], padded[1], padded[2]


def _apple_clear(text: str) -> DeviceInfo | None:
    """Apple agents that state the version: iOS/iPadOS dataaccessd and accountsd, macOS Mail over EWS."""
    match = _APPLE_CLEAR.match(text)
    if match:
        stated = apple_data.version_tuple(match["version"].replace("_", "."))
        build = (match["build"] or "").strip()
        build = build if re.fullmatch(r"\d{1,2}[A-Z]\d+[a-z]?", build) else None
        system = match["os"].casefold()
        tail = match["tail"]
        if system in _CLEAR_PLATFORM:
            client = "Apple Mail" if "dataaccessd" in tail else ("Apple accounts" if "accountsd" in tail else "")
            return _with_apple_build(DeviceInfo(platform=_CLEAR_PLATFORM[system], client=client), build, stated)
        client = "Apple Mail (EWS)" if "ExchangeWebServices" in tail else "Apple Mail"
        major, minor, patch = _split(stated)
        return DeviceInfo(
            platform="macos", model="Mac", build=build, os_major=major, os_minor=minor, os_patch=patch, client=client
        )
    match = _EWS_PROXY_MAC.match(text)
    if match:
        major, minor, patch = _split(apple_data.version_tuple(match["version"]))
        return DeviceInfo("macos", "Mac", None, major, minor, "Apple Mail (EWS)", os_patch=patch)
    match = _MAC_OUTLOOK.match(text)
    if match:
        major, minor, patch = _split(apple_data.version_tuple((match["version"] or "").replace("_", ".")))
        return DeviceInfo("macos", "Mac", None, major, minor, "Outlook for Mac", os_patch=patch)
    return None


def _android(text: str) -> DeviceInfo | None:
    """Android's stock Exchange client (``Android/4.4.2-EAS-1.3``) and its vendor-prefixed variants."""
    match = _ANDROID_EAS.match(text)
    if match and (match["eas"] or not match["prefix"]):
        major, minor, patch = _split(apple_data.version_tuple(match["release"]))
        vendor = match["prefix"].strip("-")
        return DeviceInfo(
            "android", vendor, None, major, minor, "Android Exchange" if not vendor else f"{vendor} Exchange", "", patch
        )
    if _ANDROID_EAS_OLD.match(text):
        return DeviceInfo("android", client="Android Exchange")
    match = _VENDOR_RELEASE_EAS.match(text)
    if match:
        major, minor, patch = _split(apple_data.version_tuple(match["release"]))
        vendor = match["vendor"]
        return DeviceInfo("android", text.split("/", 1)[0], None, major, minor, _vendor_client(vendor), "", patch)
    return None


def _vendor(text: str) -> DeviceInfo | None:
    """A vendor's own client: ``Android-SAMSUNG-SM-G991B/102.60101``, ``SAMSUNG-SM-N900V/101.403``."""
    match = _ANDROID_VENDOR.match(text) or _VENDOR_MODEL.match(text)
    if match is None:
        return None
    vendor = match["vendor"]
    return DeviceInfo("android", f"{vendor.upper()} {match['model']}".strip(), client=_vendor_client(vendor))


def _vendor_client(vendor: str) -> str:
    return "Samsung Email" if vendor.upper().startswith("SAMSUNG") else f"{vendor} Exchange client"


def _third_party(text: str) -> DeviceInfo | None:
    for pattern, client, platform in _THIRD_PARTY:
        found = pattern.match(text)
        if found:
            version = apple_data.version_tuple(found["version"].rstrip(".")) if platform == "windows" else None
            major, minor, patch = _split(version)
            return DeviceInfo(platform, client=client, os_major=major, os_minor=minor, os_patch=patch)
    match = _ANDROID_BUILD_ID.match(text)
    if match:  # <device codename>/<Android build id>: Nine and other clients built on Android's identity
        return DeviceInfo("android", match["device"], client="Exchange client")
    return None


_OS_PLATFORMS = (("ipados", "ipados"), ("ios", "ios"), ("iphone", "ios"), ("mac", "macos"), ("android", "android"))
_SYSTEM_MODEL = {"ios": "iPhone or iPad", "ipados": "iPad", "macos": "Mac", "android": "Android device"}


def platform_of_system(operating_system: str) -> str | None:
    """The mail platform a sign-in's deviceDetail.operatingSystem names ("Ios", "iOS 16.1", "MacOs"), if any."""
    name = operating_system.casefold().replace(" ", "")
    for prefix, platform in _OS_PLATFORMS:
        if name.startswith(prefix):
            return platform
    return None


def from_device_detail(operating_system: str) -> DeviceInfo:
    """What deviceDetail.operatingSystem alone tells (the v1.0 API has no user agent): platform, and the
    version when it is stated ("iOS 16.1"); "unknown" otherwise."""
    platform = platform_of_system(operating_system or "")
    if platform is None:
        return UNKNOWN
    stated = re.search(r"(\d+(?:\.\d+)*)", operating_system)
    major, minor, patch = _split(apple_data.version_tuple(stated[1]) if stated else None)
    client = "Apple Mail" if platform in APPLE_PLATFORMS or platform == "macos" else ""
    return DeviceInfo(platform, _SYSTEM_MODEL[platform], None, major, minor, client, os_patch=patch)
