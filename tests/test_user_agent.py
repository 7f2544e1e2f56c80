"""EAS user agents: the iOS build is decoded from the number after the slash."""

from __future__ import annotations

import pytest

from rules.user_agent import parse_user_agent


@pytest.mark.parametrize(
    ("agent", "platform", "build", "major"),
    [
        ("Apple-iPhone14C2/2004.47", "ios", "20D47", 16),
        ("Apple-iPhone9C3/1604.57", "ios", "16D57", 12),
        ("Apple-iPhone12C1/1907.71", "ios", "19G71", 15),
        ("Apple-iPad8C1/1807.61", "ipados", "18G61", 14),
        ("Apple-iPhone17C1/2301.12", "ios", "23A12", 26),
    ],
)
def test_apple_builds(agent: str, platform: str, build: str, major: int) -> None:
    device = parse_user_agent(agent)
    assert (device.platform, device.build, device.os_major) == (platform, build, major)


def test_label_names_the_device_as_the_user_knows_it() -> None:
    assert parse_user_agent("Apple-iPhone14C2/2004.47").label == "iPhone 13 Pro (iOS 16.3, build 20D47)"
    assert parse_user_agent("Apple-iPad8C1/1807.61").label == "iPad Pro (11-inch) (iPadOS 14.7, build 18G61)"
    assert parse_user_agent("Apple-iPad2C7/1002.329").label == "iPad mini (iOS 6.1.3, build 10B329)"


def test_android_and_outlook() -> None:
    assert parse_user_agent("Android-SAMSUNG-SM-G991B/102.60101").platform == "android"
    assert parse_user_agent("Android-SAMSUNG-SM-G991B/102.60101").model == "SAMSUNG SM-G991B"
    assert parse_user_agent("Outlook-iOS/2.0").platform == "outlook"


@pytest.mark.parametrize(
    "agent", [None, "", "   ", "Apple-iPhone/0000.1", "Apple-iPhone14C2/2099.1", "\x00\xff", "Mozilla/5.0"]
)
def test_garbage_parses_to_unknown_or_partial_and_never_raises(agent: str | None) -> None:
    device = parse_user_agent(agent)
    assert device.platform in ("unknown", "ios")
    assert device.build is None or device.build[0].isdigit()
