"""The rules are pure: evidence, directory entry, settings and clock in; a verdict with reasons out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.config import RuleConfig
from core.constants import APPLE_APP_ID, EXCHANGE_ONLINE_APP_ID
from core.records import Delta, DirectoryUser, Evidence, SignInEvent
from rules.evidence import fold_apple, fold_legacy
from rules.status import evaluate

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SETTINGS = RuleConfig(excluded_upns=frozenset({"room@contoso.example"}))
ALICE = DirectoryUser(id="u1", upn="alice@contoso.example", display_name="Alice", mail="alice@contoso.example")
EAS = frozenset({"exchange activesync"})


def event(
    when: datetime,
    *,
    client_app: str = "Exchange ActiveSync",
    app_id: str = EXCHANGE_ONLINE_APP_ID,
    code: int = 0,
    user: str = "u1",
    event_id: str = "",
) -> SignInEvent:
    return SignInEvent(
        id=event_id or f"{user}-{when.isoformat()}-{client_app}",
        created_at=when,
        user_id=user,
        upn=f"{user}@contoso.example",
        app_id=app_id,
        client_app=client_app,
        error_code=code,
        user_agent="Apple-iPhone14C2/2004.47",
    )


def evidence(*events: SignInEvent) -> Evidence:
    acc: dict[str, Delta] = {}
    fold_legacy(acc, events, EAS)
    fold_apple(acc, events)
    return acc["u1"].evidence


def test_successful_legacy_signins_make_a_user_legacy_active() -> None:
    verdict = evaluate(evidence(event(NOW - timedelta(hours=2))), ALICE, SETTINGS, NOW)
    assert verdict.status == "legacy_active"
    assert verdict.reasons == ("legacy_signin_succeeded",)


def test_failed_legacy_signins_are_counted_by_error_code() -> None:
    ev = evidence(event(NOW - timedelta(hours=1), code=53003), event(NOW - timedelta(hours=7), code=53003))
    assert (ev.legacy_success, ev.legacy_failure, ev.failure_codes) == (0, 2, {"53003": 2})
    assert evaluate(ev, ALICE, SETTINGS, NOW).reasons == ("legacy_signin_failed", "stable_device_signature")


def test_apple_app_signin_within_the_quiet_period_is_pending() -> None:
    ev = evidence(
        event(NOW - timedelta(hours=5)), event(NOW - timedelta(hours=4), client_app="Browser", app_id=APPLE_APP_ID)
    )
    verdict = evaluate(ev, ALICE, SETTINGS, NOW)
    assert verdict.status == "pending_verification"
    assert verdict.reasons == ("apple_app_signin_after_legacy", "quiet_period_running")


@pytest.mark.parametrize(
    ("quiet", "status"),
    [(timedelta(hours=24), "remediated"), (timedelta(hours=23, minutes=59), "pending_verification")],
)
def test_remediated_exactly_when_the_quiet_period_has_passed(quiet: timedelta, status: str) -> None:
    last_legacy = NOW - quiet
    ev = evidence(
        event(last_legacy),
        event(last_legacy + timedelta(minutes=10), client_app="Mobile Apps and Desktop clients", app_id=APPLE_APP_ID),
    )
    assert evaluate(ev, ALICE, SETTINGS, NOW).status == status


def test_legacy_after_the_apple_signin_keeps_the_user_active() -> None:
    """Re-added on the iPhone, but an old iPad still uses legacy EAS."""
    ev = evidence(
        event(NOW - timedelta(days=3), client_app="Browser", app_id=APPLE_APP_ID), event(NOW - timedelta(hours=1))
    )
    verdict = evaluate(ev, ALICE, SETTINGS, NOW)
    assert verdict.status == "legacy_active"
    assert "legacy_after_apple_app_signin" in verdict.reasons


def test_failed_apple_signins_do_not_count_as_remediation() -> None:
    ev = evidence(
        event(NOW - timedelta(days=3)),
        event(NOW - timedelta(days=2), client_app="Browser", app_id=APPLE_APP_ID, code=65001),
    )
    assert ev.last_apple_at is None
    assert evaluate(ev, ALICE, SETTINGS, NOW).status == "legacy_active"


@pytest.mark.parametrize(
    ("age", "status"), [(timedelta(days=60), "legacy_active"), (timedelta(days=60, seconds=1), "stale")]
)
def test_stale_after_the_stale_window(age: timedelta, status: str) -> None:
    assert evaluate(evidence(event(NOW - age)), ALICE, SETTINGS, NOW).status == status


@pytest.mark.parametrize(
    ("user", "reason"),
    [
        (None, "not_in_directory"),
        (
            DirectoryUser(id="u1", upn="room@contoso.example", display_name="Room", mail="room@contoso.example"),
            "excluded_by_setting",
        ),
        (
            DirectoryUser(
                id="u1", upn="a@contoso.example", display_name="A", mail="a@contoso.example", account_enabled=False
            ),
            "account_disabled",
        ),
        (
            DirectoryUser(
                id="u1", upn="g#EXT#@contoso.example", display_name="G", mail="g@fabrikam.example", user_type="Guest"
            ),
            "guest_account",
        ),
        (DirectoryUser(id="u1", upn="nomail@contoso.example", display_name="N", mail=None), "no_mailbox"),
    ],
)
def test_excluded_users_are_never_legacy_active(user: DirectoryUser | None, reason: str) -> None:
    verdict = evaluate(evidence(event(NOW - timedelta(hours=1))), user, SETTINGS, NOW)
    assert verdict.status == "excluded"
    assert reason in verdict.reasons


def test_fold_ignores_unwatched_protocols_and_matches_case_insensitively() -> None:
    acc: dict[str, Delta] = {}
    ignored = fold_legacy(
        acc, [event(NOW, client_app="exchange activesync"), event(NOW - timedelta(hours=1), client_app="IMAP4")], EAS
    )
    assert ignored == 1
    assert acc["u1"].evidence.legacy_total == 1
    assert acc["u1"].evidence.protocols == {"exchange activesync": 1}


def test_merging_a_later_delta_adds_counts_and_follows_the_latest_device() -> None:
    older = evidence(event(NOW - timedelta(days=2)))
    newer = Evidence(
        upn="u1@contoso.example",
        legacy_success=2,
        first_legacy_at=NOW - timedelta(hours=3),
        last_legacy_at=NOW - timedelta(hours=1),
        user_agent="Apple-iPad13C2/2006.5",
    )
    merged = older.merged(newer)
    assert merged.legacy_success == 3
    assert merged.first_legacy_at == NOW - timedelta(days=2)
    assert merged.last_legacy_at == NOW - timedelta(hours=1)
    assert merged.user_agent == "Apple-iPad13C2/2006.5"
    assert older.merged(Evidence()).user_agent == "Apple-iPhone14C2/2004.47"
