"""The protocol registry and the SMTP AUTH sender kinds: pure, no servers.

Inputs: the mail-client agents are real (tests/corpus/user_agents.csv, each with its source); the
clientAppUsed string "Authenticated SMTP" is the one Microsoft's own export script filters on
(microsoft-graph-docs sample quoted in shared/DESIGN.md) and the registry's dates are the Exchange team's
(rules/protocols.py cites them). No public SMTP AUTH sign-in record with a user agent was found, so the
evidence counts below are built by hand and say so; the expected kinds follow the issue's definitions.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from collectors.signins import legacy_filter
from core.config import RuleConfig
from core.constants import AUTHENTICATED_SMTP, EXCHANGE_ACTIVESYNC, LEGACY_CLIENT_APPS
from core.records import DirectoryUser, Evidence, UserState, Verdict
from rules import advice, mailbox_clients, protocols, recipients, retirements, senders, status

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CONFIG = RuleConfig()
USER = DirectoryUser(id="s1", upn="sender@contoso.example", display_name="Scanner", mail="sender@contoso.example")
CORPUS = Path(__file__).parent / "corpus" / "user_agents.csv"


def corpus_agents(platform: str) -> list[str]:
    with CORPUS.open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return [row["user_agent"] for row in rows if row["platform"] == platform]


def smtp(
    *,
    success: int = 0,
    failure: int = 0,
    credential: int = 0,
    spray: int = 0,
    agent: str = "(none)",
    networks: int = 1,
    hours: int = 6,
    last: timedelta = timedelta(hours=2),
    protocols_seen: dict[str, int] | None = None,
) -> Evidence:
    """Hand-built evidence of an account seen on Authenticated SMTP (counts, not a real record)."""
    total = success + failure
    return Evidence(
        upn="sender@contoso.example",
        legacy_success=success,
        legacy_failure=failure,
        failure_codes={"50126": credential} if credential else {},
        protocols=protocols_seen or {AUTHENTICATED_SMTP: total},
        first_legacy_at=NOW - timedelta(days=20),
        last_legacy_at=NOW - last,
        agents={agent: total},
        networks={f"198.51.{n}.0/24": total // networks for n in range(networks)},
        hours={f"2026-11-{10 + h:02d}T08": 1 for h in range(hours)},
        credential_failures=credential,
        spray_failures=spray,
    )


def test_the_registry_has_one_entry_per_legacy_value_it_knows_and_each_is_a_real_client_app() -> None:
    names = [entry.client_app.casefold() for entry in protocols.RETIREMENTS]
    assert len(names) == len(set(names))
    assert set(names) <= LEGACY_CLIENT_APPS
    assert {"authenticated smtp", "exchange activesync", "exchange web services", "imap4", "pop3"} <= set(names)
    assert protocols.retirement_of("authenticated smtp") is protocols.SMTP_AUTH
    assert protocols.retirement_of("SMTP") is None, "'SMTP' is not a clientAppUsed value"


def test_smtp_auth_switch_off_is_the_end_of_december_and_no_day_is_invented() -> None:
    entry = protocols.SMTP_AUTH
    assert entry.deadline == date(2026, 12, 31) and entry.deadline_words == "the end of December 2026"
    assert entry.days_left(date(2026, 11, 30)) == 31
    assert all(m.on is None for m in entry.milestones), "Microsoft gave months, not days"
    assert entry.refusal == "550 5.7.30 Basic authentication is not supported for Client Submission"
    ews = protocols.retirement_of("Exchange Web Services")
    assert ews is not None and ews.deadline == date(2027, 4, 1)


def test_every_advice_code_in_the_registry_is_declared_by_a_rule() -> None:
    declared = set(advice.RULE.codes) | set(senders.RULE.codes) | set(mailbox_clients.RULE.codes)
    codes = {code for entry in protocols.RETIREMENTS for codes in entry.advice.values() for code in codes}
    assert codes - declared == set(), "ews_to_graph and collect_with_oauth are declared by mailbox_clients now"
    assert protocols.SMTP_AUTH.who_acts["device"] == "owner" and protocols.SMTP_AUTH.who_acts["person"] == "user"


def test_smtp_auth_is_watched_by_default_with_its_exact_name() -> None:
    from pipeline.settings import Settings

    watched = Settings(tenant_id="t").legacy_protocols
    start = datetime(2026, 11, 1, tzinfo=UTC)
    query = legacy_filter(start, start + timedelta(days=1), watched)
    assert "clientAppUsed eq 'Exchange ActiveSync' or clientAppUsed eq 'Authenticated SMTP'" in query


def test_a_scanner_one_network_a_few_sends_an_hour_no_agent_is_a_device_that_stops_at_the_switch_off() -> None:
    verdict = status.evaluate(smtp(success=24, hours=12), USER, CONFIG, NOW)
    assert verdict.status == "legacy_active"
    assert verdict.reasons == ("smtp_basic_auth_succeeded", "smtp_sender_device")
    assert verdict.advice == ("smtp_device_ways_out",)


def test_many_sends_an_hour_from_a_server_network_is_an_application() -> None:
    verdict = status.evaluate(smtp(success=600, hours=4), USER, CONFIG, NOW)
    assert verdict.reasons == ("smtp_basic_auth_succeeded", "smtp_sender_application")
    assert verdict.advice == ("smtp_app_ways_out",)


def test_successes_from_several_networks_without_an_agent_are_an_application_not_a_device() -> None:
    verdict = status.evaluate(smtp(success=30, networks=3, hours=10), USER, CONFIG, NOW)
    assert verdict.reasons == ("smtp_basic_auth_succeeded", "smtp_sender_application")


@pytest.mark.parametrize("agent", corpus_agents("ios")[:3] + corpus_agents("android")[:3])
def test_a_real_mail_client_agent_is_a_persons_mail_app(agent: str) -> None:
    verdict = status.evaluate(smtp(success=5, agent=agent), USER, CONFIG, NOW)
    assert verdict.reasons == ("smtp_basic_auth_succeeded", "smtp_sender_mail_app")
    assert verdict.advice == ("smtp_person_modern_auth",)


def test_only_failures_mean_the_sender_is_broken_already() -> None:
    verdict = status.evaluate(smtp(failure=8, hours=8), USER, CONFIG, NOW)
    assert verdict.reasons == ("smtp_basic_auth_failing", "smtp_sender_device")


def test_an_smtp_spray_is_an_attack_with_no_advice() -> None:
    spray = smtp(failure=6, credential=6, spray=6, agent="BAV2ROPC", networks=6, hours=1)
    verdict = status.evaluate(spray, USER, CONFIG, NOW)
    assert (verdict.status, verdict.reasons, verdict.advice) == ("attack_suspected", ("smtp_password_spray",), ())


def test_wrong_passwords_from_many_networks_with_no_success_are_an_attack_even_below_the_spray_threshold() -> None:
    verdict = status.evaluate(smtp(failure=12, credential=12, networks=6), USER, CONFIG, NOW)
    assert verdict.status == "attack_suspected"


def test_a_sender_that_also_succeeded_is_not_an_attack_even_when_targeted() -> None:
    verdict = status.evaluate(smtp(success=10, failure=6, credential=6, spray=6), USER, CONFIG, NOW)
    assert verdict.status == "legacy_active"


def test_a_sender_quiet_for_the_stale_window_is_stale() -> None:
    verdict = status.evaluate(smtp(success=3, last=timedelta(days=61)), USER, CONFIG, NOW)
    assert verdict == Verdict("stale", ("no_legacy_signin_in_stale_window",))


def test_an_account_also_on_exchange_activesync_keeps_the_eas_rules() -> None:
    mixed = smtp(
        success=4, agent="Apple-iPhone14C2/2004.47", protocols_seen={EXCHANGE_ACTIVESYNC: 2, AUTHENTICATED_SMTP: 2}
    )
    verdict = status.evaluate(mixed, USER, CONFIG, NOW)
    assert verdict.reasons == ("legacy_signin_succeeded",)
    assert "smtp_person_modern_auth" not in verdict.advice


def test_kind_of_reads_the_kind_back_from_a_stored_verdict() -> None:
    assert senders.kind_of(status.evaluate(smtp(success=24), USER, CONFIG, NOW)) == "device"
    assert senders.kind_of(Verdict("legacy_active", ("legacy_signin_succeeded",))) is None


def sender_state(evidence: Evidence, user: DirectoryUser = USER) -> UserState:
    verdict = status.evaluate(evidence, user, CONFIG, NOW)
    return UserState(user.id, evidence, verdict, status.RULE_VERSION, NOW, directory=user)


MANAGER = DirectoryUser(id="m1", upn="dana@contoso.example", display_name="Dana", mail="dana@contoso.example")


def test_a_devices_owner_comes_from_the_map_first_then_the_manager_then_nobody() -> None:
    device = sender_state(smtp(success=24))
    owners = {"sender@contoso.example": "facilities@contoso.example"}
    mapped = recipients.recipient_for(device, owners, {USER.id: MANAGER})
    assert (mapped.role, mapped.who and mapped.who.mail) == ("owner", "facilities@contoso.example")
    assert recipients.recipient_for(device, {}, {USER.id: MANAGER}) == recipients.Recipient("manager", MANAGER)
    assert recipients.recipient_for(device, {}, {}) == recipients.Recipient("unknown")


def test_a_person_is_told_about_their_own_app_and_an_attack_is_told_to_nobody() -> None:
    owners = {"sender@contoso.example": "facilities@contoso.example"}
    person = sender_state(smtp(success=5, agent=corpus_agents("ios")[0]))
    assert recipients.recipient_for(person, owners) == recipients.Recipient("user", USER)
    spray = sender_state(smtp(failure=6, credential=6, spray=6, networks=6, hours=1))
    assert recipients.recipient_for(spray, owners).role == "nobody"


def test_the_smtp_readiness_finding_counts_senders_and_accounts_that_stop_at_the_switch_off() -> None:
    app = replace(smtp(success=24, networks=2), last_success_at=NOW - timedelta(days=2))  # two networks: two senders
    person = replace(smtp(success=5, agent=corpus_agents("ios")[0]), last_success_at=NOW - timedelta(days=1))
    old = replace(smtp(success=5), last_success_at=NOW - timedelta(days=40))  # not in the last 30 days
    failing = smtp(failure=8)  # broken already: nothing more stops at the switch-off
    states = [replace(sender_state(ev), user_id=f"u{n}") for n, ev in enumerate((app, person, old, failing))]
    states[1] = replace(states[1], notified_count=1)
    watched = ("Exchange ActiveSync", "Authenticated SMTP")
    (found,) = retirements.retirement_findings(states, NOW, watched)
    assert (found.name, found.ok, found.severity) == ("retirement_authenticated_smtp", False, "high")
    assert found.summary == (
        "By the end of December 2026 (31 days left), 3 sender(s) in 2 account(s) that sent with basic SMTP AUTH "
        "in the last 30 days stop (1 application, 1 person's app; 1 account(s) told so far)."
    )
    (clear,) = retirements.retirement_findings([], NOW, watched)
    assert clear.ok and clear.summary.startswith("By the end of December 2026 (31 days left), 0 sender(s) in 0")
    assert retirements.retirement_findings(states, NOW, ("Exchange ActiveSync",)) == []


def test_a_sender_is_verified_fixed_only_after_the_quiet_period_without_basic_success_since_told() -> None:
    told = NOW - timedelta(hours=3)
    before = smtp(success=24, last=timedelta(hours=5))  # last success before the owner was told
    assert status.evaluate(before, USER, CONFIG, NOW, told_at=told).status == "pending_verification"
    later = NOW + timedelta(hours=24)
    fixed = status.evaluate(before, USER, CONFIG, later, told_at=told)
    assert fixed == Verdict("remediated", ("smtp_no_basic_auth_since_told", "smtp_sender_device"))
    still = smtp(success=24, last=timedelta(hours=1))  # sent with a password after the owner was told
    assert status.evaluate(still, USER, CONFIG, later, told_at=told).status == "legacy_active"
    never_told = status.evaluate(before, USER, CONFIG, later)
    assert never_told.status == "legacy_active", "quiet without an email is not a fix"
