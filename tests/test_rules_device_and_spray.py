"""Pure rules: version-aware advice, spray detection across accounts, stable devices, bounded counts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from core.config import RuleConfig
from core.findings import AttackFinding, TenantSnapshot
from core.records import OTHER, Delta, SignInEvent, capped
from rules.advice import advice_for
from rules.evidence import fold_legacy
from rules.legacy_activity import classify
from rules.readiness import tenant_findings_counted
from rules.spray import MAX_SOURCES, SprayTracker, attack_finding, attribute_spray, merge_attack
from rules.user_agent import parse_user_agent

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
SETTINGS = RuleConfig()
EAS = frozenset({"exchange activesync"})


@pytest.mark.parametrize(
    ("agent", "advice"),
    [
        # iPhone 6s on iOS 11: update first, then the steps are on iOS 15 (its last), under Mail > Accounts
        ("Apple-iPhone8C1/1502.1", ("update_ios_first", "remove_and_readd", "path_mail_accounts")),
        ("Apple-iPhone9C3/1604.57", ("remove_and_readd", "path_passwords_and_accounts")),  # iOS 12.1.4
        ("Apple-iPhone12C1/1906.1", ("remove_and_readd", "path_mail_accounts")),  # 19F: iOS 15.5
        (
            "Apple-iPhone12C1/1907.71",
            ("migration_blocked", "remove_and_readd", "clear_safari_data", "path_mail_accounts"),
        ),
        (
            "Apple-iPhone15C2/2106.5",
            ("migration_blocked", "remove_and_readd", "clear_safari_data", "path_mail_accounts"),
        ),
        (
            "Apple-iPhone16C1/2201.7",
            ("migration_blocked", "remove_and_readd", "clear_safari_data", "path_apps_mail_accounts"),
        ),
        ("Apple-iPhone4C1/1306.69", ("replace_device", "path_mail_contacts_calendars")),  # iPhone 4s, iOS 9.3.2
        ("Apple-iPhone7C2/1306.69", ("update_ios_first", "remove_and_readd", "path_passwords_and_accounts")),  # 6
        ("Apple-MacBook/2206.1", ("readd_in_internet_accounts",)),
        ("Android-SAMSUNG-SM-G991B/102.60101", ("readd_with_modern_auth",)),
        ("garbage", ("readd_with_modern_auth",)),
    ],
)
def test_advice_follows_the_ios_version(agent: str, advice: tuple[str, ...]) -> None:
    assert advice_for(parse_user_agent(agent)) == advice


def test_ios_15_minor_versions_are_known() -> None:
    assert parse_user_agent("Apple-iPhone12C1/1907.71").os_version == "15.6"
    assert parse_user_agent("Apple-iPhone12C1/1906.1").os_version == "15.5"
    assert parse_user_agent("Apple-iPhone14C2/2004.47").os_version == "16.3"
    assert parse_user_agent("Apple-iPhone10C1/1908.390").os_version == "15.8.4"
    assert parse_user_agent("Apple-iPhone10C1/1908.394").os_version == "15.8"  # unlisted: its train's 15.8


def failure(user: str, ip: str, minute: float, code: int = 50126, agent: str = "BAV2ROPC") -> SignInEvent:
    return SignInEvent(
        id=f"{user}-{ip}-{minute}",
        created_at=NOW + timedelta(minutes=minute),
        user_id=user,
        upn=f"{user}@c.example",
        app_id="",
        client_app="Exchange ActiveSync",
        error_code=code,
        ip=ip,
        user_agent=agent,
        country="NL",
    )


def newest_first(events: list[SignInEvent]) -> list[SignInEvent]:
    """Graph's order: the tracker relies on it to forget hours the stream has left behind."""
    return sorted(events, key=lambda e: e.created_at, reverse=True)


def test_one_source_failing_on_many_accounts_in_an_hour_is_a_spray() -> None:
    events = [failure(f"u{i}", "192.0.2.66", minute=i * 10) for i in range(5)]
    events += [failure("u0", "198.51.100.7", minute=70, code=53003, agent="Apple-iPhone14C2/2004.47")]
    acc: dict[str, Delta] = {}
    fold_legacy(acc, events, EAS)
    tracker = SprayTracker(min_accounts=5)
    tracker.add(newest_first(events))
    assert set(tracker.sources) == {"192.0.2.66"}
    victim, hit = attribute_spray(acc["u1"], tracker.sources)
    assert hit == ("192.0.2.66",)
    assert victim.spray_failures == 1
    assert victim.networks == {}  # the attacker's network is not the user's
    assert attribute_spray(acc["u0"], tracker.sources)[0].networks == {"198.51.100.0/24": 1}
    assert classify(victim, SETTINGS) == (
        "attack_suspected",
        ("spray_source", "credential_failures", "no_stable_device"),
    )
    finding = attack_finding(tracker, {"192.0.2.66": 5}, accounts=5)
    assert finding is not None
    assert (finding.accounts, finding.sources) == (5, {"192.0.2.66": 5})
    assert (finding.first_seen, finding.last_seen) == (NOW, NOW + timedelta(minutes=40))


def test_four_accounts_or_a_policy_refusal_are_not_a_spray() -> None:
    events = [failure(f"u{i}", "192.0.2.66", minute=i) for i in range(4)]
    events += [failure(f"p{i}", "192.0.2.70", minute=i, code=53003) for i in range(9)]
    tracker = SprayTracker(min_accounts=5)
    tracker.add(newest_first(events))
    assert tracker.sources == {}
    assert attack_finding(tracker, {}, accounts=0) is None


def test_the_same_source_spread_over_two_hours_is_not_counted_as_one_burst() -> None:
    events = [failure(f"u{i}", "192.0.2.66", minute=i * 20) for i in range(5)]  # 0..80 min: 3 + 2 per hour
    tracker = SprayTracker(min_accounts=5)
    tracker.add(newest_first(events))
    assert tracker.sources == {}


def test_the_tracker_survives_a_checkpoint_and_forgets_hours_the_stream_has_passed() -> None:
    """Two pages of one burst, the tracker saved and restored between them (a run stopped mid-window)."""
    burst = newest_first([failure(f"u{i}", "192.0.2.66", minute=50 - i * 10) for i in range(5)])
    tracker = SprayTracker(min_accounts=5)
    tracker.add(burst[:3])
    restored = SprayTracker.from_state(5, orjson.loads(orjson.dumps(tracker.state())))
    restored.add(burst[3:])
    assert set(restored.sources) == {"192.0.2.66"}
    older = [failure(f"x{i}", f"203.0.113.{i}", minute=-600 - i) for i in range(300)]
    restored.add(older)  # ten hours earlier: the burst's hour is closed and dropped
    assert len(restored.state()["buckets"]) <= 300
    assert all(hour * 3600 <= (NOW - timedelta(hours=9)).timestamp() for _, hour, *_ in restored.state()["buckets"])


def test_a_roaming_phone_refused_by_policy_is_still_a_device() -> None:
    events = [
        failure("u", f"10.{n}.0.1", minute=n * 90, code=53003, agent="Apple-iPhone14C2/2004.47") for n in range(8)
    ]
    acc: dict[str, Delta] = {}
    fold_legacy(acc, events, EAS)
    assert len(acc["u"].evidence.networks) == 8
    assert classify(acc["u"].evidence, SETTINGS) == (
        "legacy_active",
        ("legacy_signin_failed", "stable_device_signature"),
    )


def test_counts_stay_bounded_and_exact() -> None:
    counts = {f"10.0.{i}.0/24": i + 1 for i in range(40)}
    kept = capped(counts, keep=16)
    assert len(kept) == 16
    assert sum(kept.values()) == sum(counts.values())
    assert kept[OTHER] == sum(range(1, 26))
    assert capped(kept, keep=16) == kept
    events = [failure("u", f"10.0.{i}.1", minute=i) for i in range(300)]
    acc: dict[str, Delta] = {}
    fold_legacy(acc, events, EAS)
    assert len(acc["u"].evidence.networks) <= 64
    assert sum(acc["u"].evidence.networks.values()) == 300


def test_victims_of_sources_past_the_named_ones_are_attacked_accounts_too_across_a_checkpoint() -> None:
    """Before: past MAX_SOURCES named sources, victims were not marked and the attacked-account count came
    out low. 1,500 sources, each failing on its own two accounts within the hour (a threshold of 2)."""
    events = newest_first(
        [failure(f"v{s}-{a}", f"2001:db8:{s:x}::1", minute=50 - s * 0.02) for s in range(1500) for a in range(2)]
    )
    acc: dict[str, Delta] = {}
    fold_legacy(acc, events, EAS)
    tracker = SprayTracker(min_accounts=2)
    tracker.add(events[:1600])
    staged = tracker.drain_unnamed()  # what the first commit stages beside the deltas
    restored = SprayTracker.from_state(2, orjson.loads(orjson.dumps(tracker.state())))
    restored.remember_unnamed(staged)  # the next run of the window reads them back
    restored.add(events[1600:])
    assert (len(restored.sources), restored.unnamed, restored.source_count) == (MAX_SOURCES, 500, 1500)
    sources = restored.spray_sources()
    attacked, by_named = 0, 0
    for user, delta in acc.items():
        evidence, hit = attribute_spray(delta, sources)
        assert hit and evidence.spray_failures == 1, user
        assert classify(evidence, SETTINGS)[0] == "attack_suspected", user
        attacked += 1
        by_named += any(ip in restored.sources for ip in hit)
    assert (attacked, by_named) == (3000, 2 * MAX_SOURCES)
    finding = attack_finding(restored, {"2001:db8::1": 2}, accounts=attacked)
    assert finding is not None and (finding.accounts, finding.source_count) == (3000, 1500)
    assert "2001:db8:5dc::1" not in sources, "a source that never reached the threshold is not one"


def test_the_spray_finding_says_how_many_sources_in_all_not_only_the_ones_it_lists() -> None:
    listed = {f"2001:db8:{n:x}::1": 2 for n in range(20)}
    attack = AttackFinding(2100, listed, NOW, NOW + timedelta(minutes=17), source_count=1050)
    (found,) = [f for f in tenant_findings_counted(TenantSnapshot(attack=attack), 0) if f.name == "attack"]
    assert "UTC from 1050 source(s), the most active 2001:db8:0::1 (2 accounts), " in found.summary
    assert found.summary.endswith(": 2100 account(s) show only attack traffic and were not emailed.")
    merged = merge_attack(attack, replace(attack, source_count=40), 2100)
    assert merged.source_count == 1050, "the most one window counted"
