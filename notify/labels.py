"""The words an email uses for the device and for dates, in the reader's language.

An admin reads "iPhone (iOS 12, build 16D57), first synced 2017-07-09"; the user reads "your iPhone 7"
and a date as their country writes it. When the Exchange profile is older than the device itself, the
account came over from an older device in a backup: the email says so instead of a date that reads as
nonsense ("iPhone X, first synced 2016-10-23").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from core.records import UserState
from rules.devices import legacy_profile_device, seen_device

MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
}
DATE_FORMATS = {
    "en": "{d} {month} {y}",
    "de": "{d:02}.{m:02}.{y}",
    "fr": "{d} {month} {y}",
    "es": "{d} de {month} de {y}",
}

IPHONE_RELEASED = {
    "5s": date(2013, 9, 20),
    "6": date(2014, 9, 19),
    "6s": date(2015, 9, 25),
    "SE": date(2016, 3, 31),
    "7": date(2016, 9, 16),
    "8": date(2017, 9, 22),
    "X": date(2017, 11, 3),
    "XS": date(2018, 9, 21),
    "XR": date(2018, 10, 26),
    "11": date(2019, 9, 20),
    "12": date(2020, 10, 23),
    "13": date(2021, 9, 24),
    "14": date(2022, 9, 16),
    "15": date(2023, 9, 22),
    "16": date(2024, 9, 20),
    "17": date(2025, 9, 19),
}
"""When each iPhone generation went on sale (Apple's announcements; support.apple.com/en-us/108044
lists the models by year): an Exchange profile first synced before that came from an older device."""
_IPHONE = re.compile(r"iPhone\s*(5s|6s|SE|X[SR]?|\d+)", re.IGNORECASE)


def local_date(when: date | None, locale: str) -> str:
    """20 November 2026, 20.11.2026, 20 novembre 2026, 20 de noviembre de 2026."""
    if when is None:
        return ""
    month = MONTHS.get(locale, MONTHS["en"]).split()[when.month - 1]
    pattern = DATE_FORMATS.get(locale, DATE_FORMATS["en"])
    return pattern.format(d=when.day, m=when.month, y=when.year, month=month)


MONTH_FORMATS = {"en": "{month} {y}", "de": "{month} {y}", "fr": "{month} {y}", "es": "{month} de {y}"}


def local_month(when: date, locale: str) -> str:
    """December 2026, Dezember 2026, décembre 2026, diciembre de 2026."""
    month = MONTHS.get(locale, MONTHS["en"]).split()[when.month - 1]
    return MONTH_FORMATS.get(locale, MONTH_FORMATS["en"]).format(month=month, y=when.year)


@dataclass(frozen=True)
class DeviceWords:
    name: str
    """What the user calls it: "iPhone 7", "iPhone (iOS 12)", "Mac"; empty when unknown."""
    short: str
    """For the subject: "iPhone 7", "iPhone"; empty when unknown."""
    account_since: datetime | None = None
    """When the Exchange profile on it was first synced (a pre-iOS 12 partnership)."""
    came_by_backup: bool = False
    """The profile is older than this model of device: it came over from an older one in a backup."""


def device_words(state: UserState) -> DeviceWords:
    partnership = legacy_profile_device(state.devices) if "pre_ios12_profile" in state.verdict.reasons else None
    if partnership is not None:
        name = " ".join((partnership.friendly_name or partnership.device_model or partnership.device_type).split())
        first = partnership.first_sync
        released = _released(name)
        moved = bool(first and released and first.date() < released)
        return DeviceWords(name or "iPhone", name or "iPhone", first, moved)
    device = seen_device(state.evidence.user_agent, state.evidence.device_os)
    if device.platform == "unknown":
        return DeviceWords("", "")
    model = device.model or ("Mac" if device.platform == "macos" else device.platform)
    if device.platform in ("ios", "ipados") and device.os_major is not None:
        system = "iPadOS" if device.platform == "ipados" else "iOS"
        return DeviceWords(f"{model} ({system} {device.os_version})", model)
    return DeviceWords(model, model)


def _released(name: str) -> date | None:
    match = _IPHONE.search(name)
    if match is None:
        return None
    key = match[1].upper() if match[1].upper() in ("SE", "X", "XS", "XR") else match[1].lower()
    return IPHONE_RELEASED.get(key)
