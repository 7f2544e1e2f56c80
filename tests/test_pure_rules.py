"""The pure rules moved out of the I/O layers, tested directly: records in, verdicts out, no servers.

Expected answers come from the documented intent (the functions' docstrings and README.md), not from
running the code: who is tracked, who is mailed when, what the admin's attack finding shows, and
whether a Conditional Access policy counts as blocking legacy authentication.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.config import MessagePolicy, RuleConfig
from core.constants import EXCHANGE_ONLINE_APP_ID
from core.findings import AttackFinding, DeviceFinding
from core.records import (
    AppleAppStatus,
    ConsentPolicy,
    Delta,
    DeviceRecord,
    DirectoryUser,
    Evidence,
    Status,
    UserState,
    Verdict,
)
from report.queries import parse_filter
from rules.cadence import CONFIRMATION, allowed, due_at, due_messages
from rules.devices import could_be_legacy, devices_by_user, judge_device, partnership_finding
from rules.evaluation import evaluate_user, join_by_user
from rules.readiness import blocks_legacy_for_everyone, user_emails_may_go
from rules.spray import merge_attack
from rules.status import RULE_VERSION
from rules.user_agent import PLATFORMS
from sim.graph_shapes import legacy_block_policy

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CONFIG = RuleConfig()
WINDOW = "window-2026-11-20"
ALICE = DirectoryUser(id="u-alice", upn="alice@contoso.example", display_name="Alice", mail="alice@contoso.example")
IPHONE_AGENT = "Apple-iPhone14C2/2004.47"
BEFORE_IOS12 = datetime(2017, 3, 2, 9, 30, tzinfo=UTC)
AFTER_IOS12 = datetime(2021, 6, 1, 8, 0, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------------
# builders


def legacy_evidence(successes: int = 3, last: datetime = NOW - timedelta(hours=1)) -> Evidence:
    """A phone still signing in over legacy EAS, successfully."""
    return Evidence(
        upn=ALICE.upn,
        legacy_success=successes,
        protocols={"Exchange ActiveSync": successes},
        first_legacy_at=last - timedelta(days=2),
        last_legacy_at=last,
        user_agent=IPHONE_AGENT,
        agents={IPHONE_AGENT: successes},
        networks={"203.0.113.0/24": successes},
        countries={"US": successes},
    )


def apple_signin(at: datetime) -> Evidence:
    """A window holding only a modern sign-in of Apple's app: the mark of a re-added account."""
    return Evidence(upn=ALICE.upn, last_apple_at=at)


def partnership(
    *,
    first_sync: datetime | None = BEFORE_IOS12,
    last_sync: datetime | None = NOW - timedelta(days=1),
    device_type: str = "iPhone",
    device_os: str = "iOS 16.7.10 20H350",
    client_type: str = "EAS",
    client_version: str = "16.1",
    user_id: str = ALICE.id,
    device_id: str = "ApplF17VK1ABCDEF",
) -> DeviceRecord:
    return DeviceRecord(
        user_id=user_id,
        device_id=device_id,
        friendly_name="iPhone 8",
        device_os=device_os,
        device_type=device_type,
        device_model="iPhone10C1",
        user_agent="Apple-iPhone10C1/2008.350",
        client_type=client_type,
        client_version=client_version,
        first_sync=first_sync,
        last_sync=last_sync,
    )


def stored(
    status: Status = "legacy_active",
    *,
    user_id: str = ALICE.id,
    evidence: Evidence | None = None,
    since: datetime = NOW - timedelta(days=5),
    notified: int = 0,
    first_notified: datetime | None = None,
    last_notified: datetime | None = None,
    devices: tuple[DeviceRecord, ...] = (),
    window: str = "",
) -> UserState:
    return UserState(
        user_id=user_id,
        evidence=evidence if evidence is not None else legacy_evidence(last=NOW - timedelta(days=5)),
        verdict=Verdict(status, ("legacy_signin_succeeded",) if status == "legacy_active" else ()),
        rule_version=RULE_VERSION,
        status_since=since,
        directory=ALICE,
        notified_count=notified,
        first_notified_at=first_notified,
        last_notified_at=last_notified,
        devices=devices,
        applied_window=window,
    )


# ---------------------------------------------------------------------------------------------------
# evaluate_user: who is tracked, what status, and what is carried over


@pytest.mark.parametrize("devices", [None, ()], ids=["devices-not-collected", "no-partnerships"])
def test_a_user_seen_only_with_modern_auth_is_not_tracked(devices: tuple[DeviceRecord, ...] | None) -> None:
    """README: only users with legacy sign-ins (or a possibly-legacy partnership) are tracked."""
    state = evaluate_user(ALICE.id, None, apple_signin(NOW - timedelta(hours=2)), ALICE, devices, CONFIG, NOW, WINDOW)
    assert state is None


def test_a_new_user_with_legacy_signins_is_tracked_from_now() -> None:
    state = evaluate_user(ALICE.id, None, legacy_evidence(), ALICE, None, CONFIG, NOW, WINDOW)
    assert state is not None
    assert state.verdict.status == "legacy_active"
    assert "legacy_signin_succeeded" in state.verdict.reasons
    assert state.status_since == NOW
    assert (state.notified_count, state.first_notified_at, state.last_notified_at) == (0, None, None)
    assert state.applied_window == WINDOW
    assert state.rule_version == RULE_VERSION
    assert state.directory == ALICE


def test_a_pre_ios12_partnership_alone_makes_a_user_tracked_and_legacy_active() -> None:
    """README: a partnership that still syncs with a pre-iOS 12 profile, even with no sign-in in the log."""
    device = partnership()
    state = evaluate_user(ALICE.id, None, None, ALICE, (device,), CONFIG, NOW, WINDOW)
    assert state is not None
    assert state.verdict.status == "legacy_active"
    assert state.verdict.reasons == ("pre_ios12_profile",)
    assert state.devices == (device,)
    assert state.applied_window == ""  # no sign-ins of this window were absorbed


def test_a_partnership_that_stopped_syncing_is_debris_and_never_mailed() -> None:
    """README: the only legacy evidence is a partnership not synced for the stale window → stale, not mailed."""
    old = partnership(last_sync=NOW - timedelta(days=CONFIG.stale_days + 30))
    state = evaluate_user(ALICE.id, None, None, ALICE, (old,), CONFIG, NOW, WINDOW)
    assert state is not None
    assert state.verdict.status == "stale"
    assert "obsolete_device_only" in state.verdict.reasons
    assert due_at(state, MessagePolicy()) is None


def test_new_signins_add_to_the_stored_evidence_and_keep_status_since_and_cadence() -> None:
    first_sent = NOW - timedelta(days=4)
    before = stored(notified=1, first_notified=first_sent, last_notified=first_sent, window="window-previous")
    state = evaluate_user(ALICE.id, before, legacy_evidence(successes=2), ALICE, None, CONFIG, NOW, WINDOW)
    assert state is not None
    assert state.verdict.status == "legacy_active"
    assert state.evidence.legacy_success == 3 + 2
    assert state.evidence.last_legacy_at == NOW - timedelta(hours=1)
    assert state.status_since == before.status_since  # still legacy_active: the clock of the status runs on
    assert (state.notified_count, state.first_notified_at, state.last_notified_at) == (1, first_sent, first_sent)
    assert state.applied_window == WINDOW


def test_a_status_change_restarts_status_since_but_keeps_the_notification_history() -> None:
    """Re-added in Apple's app two days after the last legacy sign-in, quiet since: remediated."""
    first_sent = NOW - timedelta(days=4)
    before = stored(notified=2, first_notified=first_sent, last_notified=NOW - timedelta(days=1))
    state = evaluate_user(ALICE.id, before, apple_signin(NOW - timedelta(days=3)), ALICE, None, CONFIG, NOW, WINDOW)
    assert state is not None
    assert state.verdict.status == "remediated"
    assert state.status_since == NOW
    assert state.evidence.legacy_success == before.evidence.legacy_success  # nothing legacy added
    assert (state.notified_count, state.first_notified_at) == (2, first_sent)  # the confirmation needs them


@pytest.mark.parametrize(
    ("was", "episode", "notified", "next_message"),
    [("remediated", 2, 0, "remediation-1-e2"), ("pending_verification", 1, 2, "remediation-3")],
)
def test_back_on_legacy_after_the_fix_starts_a_new_round_of_messages(
    was: Status, episode: int, notified: int, next_message: str
) -> None:
    """Remediated, then legacy again: counts restart under new message ids. Back during the quiet period
    after the fix: the same round goes on, its last reminder next."""
    first_sent = NOW - timedelta(days=30)
    before = stored(was, notified=2, first_notified=first_sent, last_notified=NOW - timedelta(days=27))
    state = evaluate_user(ALICE.id, before, legacy_evidence(successes=1), ALICE, None, CONFIG, NOW, WINDOW)
    assert state is not None and state.verdict.status == "legacy_active"
    assert (state.episode, state.notified_count) == (episode, notified)
    assert [m.message_id for m in due_messages([state], POLICY, NOW)] == [next_message]


def test_time_alone_moves_a_stored_user_and_keeps_the_window_they_absorbed() -> None:
    """README: users without new sign-ins are judged again, so pending_verification becomes remediated."""
    evidence = replace(legacy_evidence(last=NOW - timedelta(hours=30)), last_apple_at=NOW - timedelta(hours=29))
    before = stored("pending_verification", evidence=evidence, since=NOW - timedelta(hours=29), window="w-1")
    state = evaluate_user(ALICE.id, before, None, None, None, CONFIG, NOW, WINDOW)
    assert state is not None
    assert state.verdict.status == "remediated"
    assert state.status_since == NOW
    assert state.applied_window == "w-1"  # no delta applied in this pass
    assert state.directory == ALICE  # not refetched: the stored entry stands, not "not_in_directory"


def test_devices_not_collected_keep_the_stored_partnerships() -> None:
    device = partnership()
    before = stored(evidence=Evidence(), devices=(device,), since=NOW - timedelta(days=9))
    state = evaluate_user(ALICE.id, before, None, ALICE, None, CONFIG, NOW, WINDOW)
    assert state is not None
    assert state.devices == (device,)
    assert state.verdict.status == "legacy_active"
    assert state.status_since == before.status_since


def test_a_removed_partnership_ends_the_reminders() -> None:
    """Devices collected and the user absent from them: they have none now, so nothing is left to fix."""
    before = stored(evidence=Evidence(), devices=(partnership(),), notified=1, first_notified=NOW - timedelta(days=2))
    state = evaluate_user(ALICE.id, before, None, ALICE, (), CONFIG, NOW, WINDOW)
    assert state is not None
    assert state.devices == ()
    assert state.verdict.status != "legacy_active"
    assert state.status_since == NOW
    assert due_at(state, MessagePolicy()) is None


# ---------------------------------------------------------------------------------------------------
# join_by_user: one row per user from three user-id-ordered sources


def user_row(user_id: str) -> UserState:
    return stored(user_id=user_id)


def delta(upn: str) -> Delta:
    return Delta(evidence=Evidence(upn=upn, legacy_success=1))


def test_the_join_lines_up_state_delta_and_devices_per_user_in_id_order() -> None:
    a, c = user_row("a"), user_row("c")
    db, dc = delta("b@contoso.example"), delta("c@contoso.example")
    phone_c, phone_d = partnership(user_id="c"), partnership(user_id="d")
    rows = list(join_by_user([a, c], [("b", db), ("c", dc)], {"d": (phone_d,), "c": (phone_c,)}))
    assert rows == [
        ("a", a, None, ()),  # devices collected and none for a: an empty tuple, not None
        ("b", None, db, ()),
        ("c", c, dc, (phone_c,)),
        ("d", None, None, (phone_d,)),
    ]


def test_without_collected_devices_every_row_says_unknown() -> None:
    a = user_row("a")
    db = delta("b@contoso.example")
    rows = list(join_by_user([a], [("b", db)], None))
    assert rows == [("a", a, None, None), ("b", None, db, None)]


def test_rows_written_during_the_pass_and_read_back_are_skipped() -> None:
    """The users table's continuation may return a row this pass wrote (an id already yielded)."""
    a, c, e = user_row("a"), user_row("c"), user_row("e")
    written_b, rewritten_c = user_row("b"), replace(user_row("c"), notified_count=1)
    db = delta("b@contoso.example")

    def table() -> Iterator[UserState]:
        yield from (a, c)
        yield from (written_b, rewritten_c)  # read back after the pass wrote them
        yield e

    rows = list(join_by_user(table(), [("b", db)], None))
    assert [row[0] for row in rows] == ["a", "b", "c", "e"]
    assert rows[1] == ("b", None, db, None)
    assert rows[2] == ("c", c, None, None)  # the first read, not the read-back


def test_the_join_of_nothing_is_empty() -> None:
    assert list(join_by_user([], [], {})) == []
    assert list(join_by_user([], [], None)) == []


# ---------------------------------------------------------------------------------------------------
# merge_attack: the standing password-spray finding the admin reads


def finding(sources: dict[str, int], first: datetime, last: datetime, accounts: int = 5) -> AttackFinding:
    return AttackFinding(accounts=accounts, sources=sources, first_seen=first, last_seen=last)


def test_the_first_finding_is_taken_as_it_is_with_the_accounts_under_attack_now() -> None:
    new = finding({"198.51.100.7": 9, "203.0.113.5": 12}, NOW - timedelta(hours=3), NOW - timedelta(hours=2))
    merged = merge_attack(None, new, attacked_accounts=14)
    assert merged.accounts == 14
    assert list(merged.sources.items()) == [("203.0.113.5", 12), ("198.51.100.7", 9)]  # largest first
    assert (merged.first_seen, merged.last_seen) == (new.first_seen, new.last_seen)


def test_sources_seen_again_keep_their_largest_count_and_the_time_span_widens() -> None:
    prior = finding({"198.51.100.7": 12, "203.0.113.5": 4}, NOW - timedelta(days=2), NOW - timedelta(days=1))
    new = finding(
        {"198.51.100.7": 9, "203.0.113.5": 6, "192.0.2.44": 8}, NOW - timedelta(hours=5), NOW - timedelta(hours=1)
    )
    merged = merge_attack(prior, new, attacked_accounts=20)
    assert list(merged.sources.items()) == [("198.51.100.7", 12), ("192.0.2.44", 8), ("203.0.113.5", 6)]
    assert merged.first_seen == prior.first_seen
    assert merged.last_seen == new.last_seen
    assert merged.accounts == 20  # accounts currently under attack, not a running sum of both findings


def test_a_late_finding_inside_the_known_span_does_not_shrink_it() -> None:
    prior = finding({"198.51.100.7": 5}, NOW - timedelta(days=3), NOW)
    new = finding({"198.51.100.7": 5}, NOW - timedelta(days=2), NOW - timedelta(days=1))
    merged = merge_attack(prior, new, attacked_accounts=5)
    assert (merged.first_seen, merged.last_seen) == (prior.first_seen, prior.last_seen)


def test_only_the_twenty_largest_sources_are_kept() -> None:
    prior = finding({f"198.51.100.{i}": i for i in range(1, 16)}, NOW - timedelta(days=1), NOW)
    new = finding({f"203.0.113.{i}": 100 + i for i in range(1, 11)}, NOW - timedelta(hours=2), NOW)
    merged = merge_attack(prior, new, attacked_accounts=25)
    expected = [(f"203.0.113.{i}", 100 + i) for i in range(10, 0, -1)]
    expected += [(f"198.51.100.{i}", i) for i in range(15, 5, -1)]
    assert list(merged.sources.items()) == expected


# ---------------------------------------------------------------------------------------------------
# blocks_legacy_for_everyone: does a Conditional Access policy (as Graph returns it) block legacy auth?
#
# There is no "Block legacy authentication" example among the Graph docs' "Create conditionalAccessPolicy"
# examples (learn.microsoft.com/en-us/graph/api/conditionalaccessroot-post-policies, v1.0 examples 1-4:
# MFA for EXO, block EXO from untrusted regions, "all conditions and controls", MFA from non-compliant
# devices; read in microsoftgraph/microsoft-graph-docs-contrib at 02b4cba04d0426b41fe35819922b100050c5c441,
# api-reference/v1.0/api/conditionalaccessroot-post-policies.md). The blocking policy is therefore built
# with the simulator's builder sim.graph_shapes.legacy_block_policy (client apps exchangeActiveSync +
# other, all users, all apps, grant "block"); the non-blocking ones below reproduce the shapes of those
# documented examples (abridged: the keys the rule reads, with their documented values and nulls).


def blocking_policy(state: str = "enabled") -> dict[str, Any]:
    """Built with the simulator's builder (see above), then varied per test."""
    return legacy_block_policy("Block legacy authentication", state)


# Shape of the Graph docs' "Create conditionalAccessPolicy" example 2 response, "Block access to EXO
# non-trusted regions": grant block, but every client app type, one group, Exchange Online only.
DOCS_BLOCK_EXO_UNTRUSTED_REGIONS: dict[str, Any] = {
    "id": "c98e6c3d-f6ca-42ea-a927-773b6f12a0c2",
    "displayName": "Block access to EXO non-trusted regions.",
    "state": "enabled",
    "sessionControls": None,
    "conditions": {
        "signInRiskLevels": [],
        "clientAppTypes": ["all"],
        "platforms": None,
        "applications": {
            "includeApplications": [EXCHANGE_ONLINE_APP_ID],
            "excludeApplications": [],
            "includeUserActions": [],
        },
        "users": {
            "includeUsers": [],
            "excludeUsers": [],
            "includeGroups": ["ba8e7ded-8b0f-4836-ba06-8ff1ecc5c8ba"],
            "excludeGroups": [],
            "includeRoles": [],
            "excludeRoles": [],
        },
        "locations": {"includeLocations": ["198ad66e-87b3-4157-85a3-8a7b51794ee9"], "excludeLocations": []},
    },
    "grantControls": {
        "operator": "OR",
        "builtInControls": ["block"],
        "customAuthenticationFactors": [],
        "termsOfUse": [],
    },
}

# Shape of the Graph docs' example 3, "Use all conditions and controls" (state disabled): the legacy
# client types and all apps, but one user and roles, and grant MFA / compliant device, not block.
DOCS_ALL_CONDITIONS: dict[str, Any] = {
    "displayName": "Demo app for documentation",
    "state": "disabled",
    "conditions": {
        "signInRiskLevels": ["high", "medium"],
        "clientAppTypes": ["mobileAppsAndDesktopClients", "exchangeActiveSync", "other"],
        "applications": {
            "includeApplications": ["All"],
            "excludeApplications": ["00000007-0000-0000-c000-000000000000"],
        },
        "users": {
            "includeUsers": ["a702a13d-a437-4a07-8a7e-8c052de62dfd"],
            "excludeUsers": ["124c5b6a-ffa5-483a-9b88-04c3fce5574a", "GuestsOrExternalUsers"],
            "includeGroups": [],
            "excludeGroups": [],
            "includeRoles": ["9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"],
            "excludeRoles": [],
        },
        "platforms": {"includePlatforms": ["all"], "excludePlatforms": ["iOS", "windowsPhone"]},
        "locations": {"includeLocations": ["AllTrusted"], "excludeLocations": []},
    },
    "grantControls": {"operator": "OR", "builtInControls": ["mfa", "compliantDevice"], "termsOfUse": []},
    "sessionControls": {"applicationEnforcedRestrictions": None, "persistentBrowser": None},
}


def test_an_enabled_policy_blocking_eas_and_other_clients_for_everyone_counts() -> None:
    assert blocks_legacy_for_everyone(blocking_policy()) is True


@pytest.mark.parametrize("state", ["enabledForReportingButNotEnforced", "disabled"])
def test_the_rule_judges_what_a_policy_covers_not_whether_it_is_on(state: str) -> None:
    """The collector sorts matching policies into enforced and report-only by ``state``; the rule ignores it."""
    assert blocks_legacy_for_everyone(blocking_policy(state)) is True


@pytest.mark.parametrize(
    "client_app_types",
    [["exchangeActiveSync"], ["other"], ["browser", "mobileAppsAndDesktopClients"], []],
    ids=["eas-only", "other-only", "modern-only", "none"],
)
def test_a_policy_missing_either_legacy_client_type_does_not_count(client_app_types: list[str]) -> None:
    policy = blocking_policy()
    policy["conditions"]["clientAppTypes"] = client_app_types
    assert blocks_legacy_for_everyone(policy) is False


def test_excluded_emergency_accounts_and_groups_do_not_stop_a_policy_counting() -> None:
    """Microsoft's guidance excludes break-glass accounts; the rule asks only that it includes All users."""
    policy = blocking_policy()
    policy["conditions"]["users"]["excludeUsers"] = ["7a2c9b1e-0d6f-4d3a-9c61-3f2b8e4a5d10"]
    policy["conditions"]["users"]["excludeGroups"] = ["0b7d6c4e-1a2f-4e59-8c3d-6e5f4a3b2c1d"]
    assert blocks_legacy_for_everyone(policy) is True


def test_a_policy_for_some_users_or_some_apps_does_not_count() -> None:
    for_a_group = blocking_policy()
    for_a_group["conditions"]["users"]["includeUsers"] = []
    for_a_group["conditions"]["users"]["includeGroups"] = ["ba8e7ded-8b0f-4836-ba06-8ff1ecc5c8ba"]
    exchange_only = blocking_policy()
    exchange_only["conditions"]["applications"]["includeApplications"] = [EXCHANGE_ONLINE_APP_ID]
    assert blocks_legacy_for_everyone(for_a_group) is False
    assert blocks_legacy_for_everyone(exchange_only) is False


def test_requiring_mfa_instead_of_blocking_does_not_count() -> None:
    policy = blocking_policy()
    policy["grantControls"]["builtInControls"] = ["mfa"]
    assert blocks_legacy_for_everyone(policy) is False


@pytest.mark.parametrize(
    "policy", [DOCS_BLOCK_EXO_UNTRUSTED_REGIONS, DOCS_ALL_CONDITIONS], ids=["example-2", "example-3"]
)
def test_the_documented_graph_examples_are_not_legacy_blocks(policy: dict[str, Any]) -> None:
    untouched = copy.deepcopy(policy)
    assert blocks_legacy_for_everyone(policy) is False
    assert policy == untouched  # a pure rule: the policy is read, never changed


def odd_policies() -> list[dict[str, Any]]:
    nulls_everywhere = blocking_policy()
    nulls_everywhere["conditions"] = {"clientAppTypes": None, "users": None, "applications": None}
    nulls_everywhere["grantControls"] = None
    null_lists = blocking_policy()
    null_lists["conditions"]["users"]["includeUsers"] = None
    null_lists["conditions"]["applications"]["includeApplications"] = None
    null_lists["grantControls"]["builtInControls"] = None
    junk_lists = blocking_policy()
    junk_lists["conditions"]["clientAppTypes"] = [None, 3, {"type": "other"}, ["exchangeActiveSync"]]
    junk_lists["conditions"]["users"]["includeUsers"] = [None, 1]
    junk_lists["grantControls"]["builtInControls"] = [{"block": True}, None]
    return [{}, {"conditions": None, "grantControls": None}, nulls_everywhere, null_lists, junk_lists]


@pytest.mark.parametrize("policy", odd_policies(), ids=["empty", "null-top", "null-sections", "null-lists", "junk"])
def test_missing_keys_and_odd_types_are_not_a_block_and_do_not_crash(policy: dict[str, Any]) -> None:
    assert blocks_legacy_for_everyone(policy) is False


def test_stray_non_string_entries_do_not_hide_a_real_block() -> None:
    policy = blocking_policy()
    policy["conditions"]["clientAppTypes"] = ["exchangeActiveSync", None, "other", 7]
    policy["grantControls"]["builtInControls"] = [None, "block"]
    assert blocks_legacy_for_everyone(policy) is True


# ---------------------------------------------------------------------------------------------------
# user_emails_may_go: can users finish the re-add, so may their emails be sent?

CONSENTED = AppleAppStatus(present=True, display_name="Apple Internet Accounts", admin_consent=True)
NOT_CONSENTED = AppleAppStatus(present=True, display_name="Apple Internet Accounts", admin_consent=False)
ABSENT = AppleAppStatus(present=False)


@pytest.mark.parametrize(
    ("apple", "consent", "may_go"),
    [
        (CONSENTED, None, True),
        (CONSENTED, ConsentPolicy(users_can_consent=False), True),
        (NOT_CONSENTED, ConsentPolicy(users_can_consent=True), True),
        (ABSENT, ConsentPolicy(users_can_consent=True), True),
        (NOT_CONSENTED, ConsentPolicy(users_can_consent=False), False),
        (ABSENT, ConsentPolicy(users_can_consent=None, problem="Authorization_RequestDenied"), False),
        (None, None, False),
    ],
    ids=[
        "admin-consent",
        "admin-consent-users-may-not",
        "users-may-consent",
        "app-absent-users-may-consent",
        "nobody-can",
        "consent-policy-unreadable",
        "never-checked",
    ],
)
def test_emails_go_when_the_re_add_can_succeed(
    apple: AppleAppStatus | None, consent: ConsentPolicy | None, may_go: bool
) -> None:
    """README: without admin consent and without user consent, user emails are held (held_tenant_not_ready)."""
    assert user_emails_may_go(apple, consent) is may_go


# ---------------------------------------------------------------------------------------------------
# devices: which partnerships could be legacy, which still sync with a legacy profile


@pytest.mark.parametrize(
    ("device", "legacy"),
    [
        (partnership(), True),
        (partnership(first_sync=AFTER_IOS12), False),
        (partnership(first_sync=AFTER_IOS12, client_version="14.1"), True),
        (partnership(device_type="SAMSUNGSMG991B", device_os="Android 13", client_version="14.1"), True),
        (partnership(device_type="SAMSUNGSMG991B", device_os="Android 13"), False),
        (partnership(client_type="Outlook"), False),
        (partnership(client_type="eas"), True),
        (partnership(device_type="iPad", device_os="iPadOS 16.7"), True),
        (partnership(first_sync=None), False),
    ],
    ids=[
        "iphone-profile-from-2017",
        "iphone-profile-after-ios12",
        "eas-14.1-protocol",
        "android-old-protocol",
        "android-first-synced-2017",
        "outlook-app-not-eas",
        "client-type-case",
        "ipad-profile-from-2017",
        "first-sync-unknown",
    ],
)
def test_which_partnerships_could_still_use_basic_auth(device: DeviceRecord, legacy: bool) -> None:
    """README: Apple, EAS, first synced before iOS 12 shipped on 2018-09-17, or an EAS protocol below 16.1."""
    assert could_be_legacy(device) is legacy


def test_the_ios12_release_day_is_the_boundary() -> None:
    day_before = partnership(first_sync=datetime(2018, 9, 16, 23, 59, tzinfo=UTC))
    release_day = partnership(first_sync=datetime(2018, 9, 17, 0, 0, tzinfo=UTC))
    assert could_be_legacy(day_before) is True
    assert could_be_legacy(release_day) is False
    assert judge_device(day_before, 60, NOW).reasons == ("pre_ios12_profile",)
    assert judge_device(release_day, 60, NOW).reasons == ()


def test_a_syncing_device_shows_every_legacy_reason() -> None:
    verdict = judge_device(partnership(client_version="14.1"), 60, NOW)
    assert verdict.active is True
    assert set(verdict.reasons) == {"pre_ios12_profile", "eas_protocol_below_16_1"}


def test_eas_16_0_is_below_the_required_protocol() -> None:
    verdict = judge_device(partnership(first_sync=AFTER_IOS12, client_version="16.0"), 60, NOW)
    assert verdict.reasons == ("eas_protocol_below_16_1",)


@pytest.mark.parametrize(
    ("last_sync", "active"),
    [(NOW - timedelta(days=59), True), (NOW - timedelta(days=61), False), (None, False)],
    ids=["synced-59-days-ago", "synced-61-days-ago", "never-synced"],
)
def test_a_partnership_not_synced_for_the_stale_window_is_debris(last_sync: datetime | None, active: bool) -> None:
    """README: one that has not synced for LAM_STALE_DAYS is listed as debris, never mailed about."""
    verdict = judge_device(partnership(last_sync=last_sync, client_version="14.1"), 60, NOW)
    assert verdict.active is active
    assert bool(verdict.reasons) is active  # debris carries no legacy reason


def test_a_modern_profile_that_syncs_is_not_legacy() -> None:
    verdict = judge_device(partnership(first_sync=AFTER_IOS12), 60, NOW)
    assert (verdict.active, verdict.reasons) == (True, ())


def test_the_partnership_finding_counts_what_the_admin_must_act_on() -> None:
    """Only users with a partnership that could be legacy concern the monitor; among theirs, the finding
    counts the ones still syncing with a legacy profile and the obsolete ones (debris)."""
    bob = "b0b00000-0000-4000-8000-000000000002"
    read = [
        partnership(device_id="old-syncing"),
        partnership(device_id="old-idle", last_sync=NOW - timedelta(days=90)),
        partnership(device_id="modern", first_sync=AFTER_IOS12),
        partnership(device_id="bob-modern", first_sync=AFTER_IOS12, user_id=bob),
    ]
    relevant = devices_by_user(read)
    assert {uid: [d.device_id for d in devs] for uid, devs in relevant.items()} == {
        ALICE.id: ["old-syncing", "old-idle", "modern"]
    }
    assert partnership_finding(read, relevant, 6, 60, NOW) == DeviceFinding(
        readable=True, devices=4, legacy=1, obsolete=1, requests=6
    )


# ---------------------------------------------------------------------------------------------------
# cadence: who is mailed when

POLICY = MessagePolicy()  # reminders 3 and 7 days after the first email: at most 3 emails
SINCE = NOW - timedelta(days=20)
FIRST = NOW - timedelta(days=10)


def cadence_state(
    status: Status = "legacy_active", *, notified: int = 0, user_id: str = ALICE.id, since: datetime = SINCE
) -> UserState:
    return stored(
        status,
        user_id=user_id,
        since=since,
        notified=notified,
        first_notified=FIRST if notified else None,
        last_notified=FIRST if notified else None,
    )


def test_the_first_email_is_due_as_soon_as_a_user_becomes_legacy_active() -> None:
    state = cadence_state(since=NOW - timedelta(minutes=5))
    assert due_at(state, POLICY) == state.status_since
    [message] = due_messages([state], POLICY, NOW)
    assert (message.message_id, message.reminder, message.when) == ("remediation-1", 0, state.status_since)
    assert message.is_confirmation is False


@pytest.mark.parametrize(("notified", "days"), [(1, 3), (2, 7)])
def test_reminders_follow_the_first_email_by_the_reminder_days(notified: int, days: int) -> None:
    state = cadence_state(notified=notified)
    expected = FIRST + timedelta(days=days)
    assert due_at(state, POLICY) == expected
    assert due_messages([state], POLICY, expected - timedelta(seconds=1)) == []
    [message] = due_messages([state], POLICY, expected)
    assert (message.message_id, message.reminder) == (f"remediation-{notified + 1}", notified)


def test_no_email_after_the_last_reminder() -> None:
    state = cadence_state(notified=1 + len(POLICY.reminder_days))
    assert due_at(state, POLICY) is None
    assert due_messages([state], POLICY, NOW + timedelta(days=365)) == []


def test_custom_reminder_days_set_the_cadence_and_the_limit() -> None:
    one_reminder = MessagePolicy(reminder_days=(1,))
    assert due_at(cadence_state(notified=1), one_reminder) == FIRST + timedelta(days=1)
    assert due_at(cadence_state(notified=2), one_reminder) is None
    no_reminders = MessagePolicy(reminder_days=())
    assert due_at(cadence_state(notified=0), no_reminders) == SINCE
    assert due_at(cadence_state(notified=1), no_reminders) is None


@pytest.mark.parametrize("status", ["attack_suspected", "pending_verification", "remediated", "stale", "excluded"])
@pytest.mark.parametrize("notified", [0, 1])
def test_only_legacy_active_users_are_mailed_about_remediation(status: Status, notified: int) -> None:
    state = cadence_state(status, notified=notified)
    assert due_at(state, POLICY) is None
    assert due_messages([state], POLICY, NOW) == []  # confirmations are off by default


def test_a_mailed_user_who_remediated_gets_one_confirmation_when_enabled() -> None:
    policy = MessagePolicy(send_confirmation=True)
    fixed = cadence_state("remediated", notified=2, since=NOW - timedelta(hours=3))
    [message] = due_messages([fixed], policy, NOW)
    assert message.message_id == CONFIRMATION
    assert message.is_confirmation is True
    assert message.when == fixed.status_since


def test_no_confirmation_for_users_never_mailed_or_not_remediated() -> None:
    policy = MessagePolicy(send_confirmation=True)
    never_mailed = cadence_state("remediated", notified=0, user_id="u-never")
    pending = cadence_state("pending_verification", notified=1, user_id="u-pending")
    stale = cadence_state("stale", notified=1, user_id="u-stale")
    assert due_messages([never_mailed, pending, stale], policy, NOW) == []


def test_due_messages_come_oldest_first() -> None:
    """README: what the budget cannot send is carried to the next run, oldest first."""
    newest = cadence_state(user_id="u-new", since=NOW - timedelta(hours=1))
    oldest = cadence_state(user_id="u-old", since=NOW - timedelta(days=2))
    reminder = cadence_state(user_id="u-reminder", notified=1)  # due FIRST + 3 days = NOW - 7 days
    not_yet = cadence_state(user_id="u-future", since=NOW + timedelta(hours=1))
    due = due_messages([newest, not_yet, oldest, reminder], POLICY, NOW)
    assert [m.state.user_id for m in due] == ["u-reminder", "u-old", "u-new"]


def test_an_empty_allow_list_lets_everyone_through() -> None:
    assert allowed("anyone@fabrikam.example", MessagePolicy()) is True


# Settings (LAM_ALLOWED_RECIPIENTS) casefold the entries; the policy here holds them as settings would.
PILOT = MessagePolicy(allowed_recipients=frozenset({"alice@contoso.example", "@fabrikam.example"}))


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("alice@contoso.example", True),
        ("Alice@Contoso.Example", True),
        ("bob@contoso.example", False),
        ("carol@fabrikam.example", True),
        ("CAROL@FABRIKAM.EXAMPLE", True),
        ("dave@notfabrikam.example", False),
    ],
)
def test_the_pilot_allow_list_matches_addresses_and_domains_case_insensitively(address: str, ok: bool) -> None:
    assert allowed(address, PILOT) is ok


@pytest.mark.parametrize(
    ("user_agent", "device_os", "platform"),
    [
        ("MSFT-WIN-3/10.0.17134", "", "windows"),  # Windows Mail (tests/corpus/user_agents.csv)
        ("", "Ios", "ios"),  # no agent (the v1.0 API): deviceDetail.operatingSystem, as the emails read it
        ("", "", "unknown"),
    ],
)
def test_the_platform_filter_reads_what_the_emails_read(user_agent: str, device_os: str, platform: str) -> None:
    evidence = legacy_evidence(successes=1)
    state = stored(evidence=replace(evidence, user_agent=user_agent, device_os=device_os))
    assert parse_filter({"platform": platform}).matches(state)
    others = [p for p in PLATFORMS if p != platform]
    assert not any(parse_filter({"platform": other}).matches(state) for other in others)
