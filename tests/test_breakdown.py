"""The summary's breakdown, counted while a collect run judges users: pure, from real Apple user agents."""

from __future__ import annotations

from datetime import UTC, datetime

from core.records import Evidence, UserState, Verdict
from rules.breakdown import breakdown_of, ios_band

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def user(agent: str, status: str = "legacy_active", notified: int = 0) -> UserState:
    verdict = Verdict(status, ())  # type: ignore[arg-type]
    return UserState("u", Evidence(user_agent=agent), verdict, "v", NOW, notified_count=notified)


# Agents and builds from tests/test_user_agent.py: 2004.47 = 20D47 (iOS 16.3), 1907.71 = 19G71 (iOS 15.6),
# 1604.57 = 16D57 (iOS 12.1.4), 1002.329 = 10B329 (iOS 6.1.3).
def test_ios_bands_follow_apples_cut_offs() -> None:
    assert ios_band(user("Apple-iPad2C7/1002.329")) == "below 12"
    assert ios_band(user("Apple-iPhone9C3/1604.57")) == "12 to 15.5"
    assert ios_band(user("Apple-iPhone12C1/1907.71")) == "15.6 or later"
    assert ios_band(user("Apple-iPhone14C2/2004.47")) == "15.6 or later"
    assert ios_band(user("")) == "n/a"


def test_only_legacy_active_users_enter_the_active_breakdown() -> None:
    figures = breakdown_of(
        [
            user("Apple-iPhone14C2/2004.47", notified=2),
            user("Apple-iPhone14C2/2004.47", "remediated", notified=1),
            user("Apple-iPad8C1/1807.61"),
        ]
    )
    assert figures.legacy_active_by_platform == {"ios": 1, "ipados": 1}
    assert figures.tracked_by_platform == {"ios": 2, "ipados": 1}
    assert figures.legacy_active_by_ios_version == {"15.6 or later": 1, "12 to 15.5": 1}  # iPadOS 14.7
    assert figures.notified == 2


def account(status: str, reasons: tuple[str, ...], protocols: dict[str, int], success: int) -> UserState:
    evidence = Evidence(protocols=protocols, legacy_success=success, legacy_failure=1)
    return UserState("u", evidence, Verdict(status, reasons), "v", NOW)  # type: ignore[arg-type]


def test_open_accounts_are_counted_per_protocol_kind_and_outcome() -> None:
    smtp = {"Authenticated SMTP": 4}
    figures = breakdown_of(
        [
            account("legacy_active", ("smtp_basic_auth_succeeded", "smtp_sender_device"), smtp, 4),
            account("legacy_active", ("smtp_basic_auth_failing", "smtp_sender_application"), smtp, 0),
            account("attack_suspected", ("smtp_password_spray",), {"authenticated smtp": 2}, 0),  # Graph's case varies
            account("legacy_active", ("legacy_signin_succeeded",), {"Exchange ActiveSync": 3, "IMAP4": 1}, 3),
            account("remediated", ("smtp_no_basic_auth_since_told", "smtp_sender_device"), smtp, 4),  # not open
            account("attack_suspected", ("spray_source",), {"Exchange ActiveSync": 2}, 0),
        ]
    )
    assert figures.open_by_protocol == {
        "Authenticated SMTP": {
            "application": {"failing": 1},
            "attack": {"failing": 1},
            "device": {"succeeding": 1},
        },
        "Exchange ActiveSync": {"attack": {"failing": 1}, "person": {"succeeding": 1}},
        "IMAP4": {"person": {"succeeding": 1}},  # one account on two protocols counts under both
    }
