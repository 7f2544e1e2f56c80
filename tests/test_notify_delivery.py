"""Emails people act on: their language, reminders on a cadence, pilots, quotas, throttling."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from azure.data.tables import TableServiceClient

from core.config import MessagePolicy
from core.records import DirectoryUser, Evidence, UserState, Verdict
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from notify.compose import available_locales, compose_remediation
from notify.notifier import notify_due
from pipeline.cycle import FULL_CYCLE, collect_and_evaluate_step, digest_step, notify_step, run_with_settings
from pipeline.wiring import build_sender
from sim.scenario import Scenario
from store.notifications import NotificationLedger
from store.tables import ensure_tables
from store.users import UserRepository
from tests.conftest import NOW, notify_figures, outbox_messages, plain_text, sim_settings
from tests.scenarios import add_user, apple_signins, legacy_signins, tenant

StartSim = Callable[[Scenario], SimServer]


def person(language: str | None, location: str | None, name: str = "Zoë <b>Ö</b>") -> UserState:
    return UserState(
        user_id="u1",
        evidence=Evidence(
            upn="zoe@contoso.example", legacy_success=2, last_legacy_at=NOW, user_agent="Apple-iPhone9C3/1604.57"
        ),
        verdict=Verdict(
            "legacy_active", ("legacy_signin_succeeded",), ("remove_and_readd", "path_passwords_and_accounts")
        ),
        rule_version="x",
        status_since=NOW,
        directory=DirectoryUser("u1", "zoe@contoso.example", name, "zoe@contoso.example", language, location),
    )


@pytest.mark.parametrize(
    ("language", "location", "default", "locale"),
    [
        ("de-DE", "US", "en", "de"),
        ("en-GB", "DE", "de", "en"),
        ("it-IT", "AT", "en", "de"),  # no Italian: the country's language (Austria: German)
        ("it-IT", "IT", "en", "en"),  # no Italian, nor for Italy: the default
        ("fr-CA", "CA", "en", "fr"),
        ("es-MX", "US", "de", "es"),
        (None, None, "de", "de"),
        ("xx", None, "zz", "en"),
    ],
)
def test_the_users_language_then_country_then_default(
    language: str | None, location: str | None, default: str, locale: str
) -> None:
    assert {"en", "de", "fr", "es"} <= available_locales()
    email = compose_remediation(person(language, location), MessagePolicy(default_locale=default))
    assert email.locale == locale


def test_english_and_german_for_the_same_verdict() -> None:
    english = compose_remediation(person("en-US", "US"), MessagePolicy())
    german = compose_remediation(person("de-DE", "DE"), MessagePolicy())
    # The model by its marketing name and the settings path of its iOS version (issue 14); no Apple build
    # numbers, dates as the reader writes them (issue 15).
    assert english.subject == "Action needed: reconnect your work email on your iPhone 7"
    assert german.subject == "Bitte handeln: Dienst-E-Mail auf Ihrem iPhone 7 neu verbinden"
    assert "Ihr Gerät iPhone 7 (iOS 12.1.4) meldet sich" in german.text
    assert "zuletzt gesehen am 20.11.2026" in german.text
    assert german.text.rstrip().endswith("Fragen? Wenden Sie sich bitte an Ihren IT-Helpdesk.")
    assert "1. Öffnen Sie Einstellungen > Passwörter & Accounts." in german.text  # iOS 12
    assert "Open Settings" not in german.text and "Öffnen" not in english.text  # whole, never half
    assert '<html lang="de">' in german.html
    assert "Zoë &lt;b&gt;Ö&lt;/b&gt;" in german.html and "Guten Tag Zoë <b>Ö</b>," in german.text


def test_other_mail_apps_get_generic_steps_and_outlook() -> None:
    other = replace(person("en", "US"), verdict=Verdict("legacy_active", (), ("readd_with_modern_auth",)))
    text = compose_remediation(other, MessagePolicy()).text
    assert "install Microsoft Outlook" in text and "Settings > Mail > Accounts" not in text


def test_reminders_follow_the_cadence_and_stop(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = tenant(tenant_id)
    alice, bob = add_user(scenario, "alice"), add_user(scenario, "bob")
    legacy_signins(scenario, alice, NOW - timedelta(hours=1), 3)
    legacy_signins(scenario, bob, NOW - timedelta(hours=1), 3)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    asyncio.run(run_with_settings(settings, FULL_CYCLE, NOW))
    # Bob re-adds his account on day 2; the next collection sees it and stops his reminders.
    apple_signins(scenario, bob, NOW + timedelta(days=2))
    asyncio.run(run_with_settings(settings, [collect_and_evaluate_step], NOW + timedelta(days=2, hours=1)))
    for day in (2, 3, 5, 7, 10, 20):
        asyncio.run(run_with_settings(settings, [notify_step], NOW + timedelta(days=day, hours=2)))
    subjects = [(m["To"].split("<")[1][:-1], m["Subject"]) for m in outbox_messages(sim.state.outbox)]
    alice_mail = [s for to, s in subjects if to.startswith("alice")]
    assert len(alice_mail) == 3
    assert not alice_mail[0].startswith("Reminder") and all(s.startswith("Reminder: ") for s in alice_mail[1:])
    assert [to for to, _ in subjects].count("bob@contoso.example") == 1
    service = TableServiceClient.from_connection_string(settings.tables_connection_string or "")
    ledger = NotificationLedger(service.get_table_client("notifications"), tenant_id)
    assert [e.message_id for e in ledger.for_user(alice["id"])] == ["remediation-1", "remediation-2", "remediation-3"]
    # The date as the reader's locale writes it (changed by issue 15 from 2026-11-20).
    assert "We wrote to you about this on 20 November 2026." in plain_text(outbox_messages(sim.state.outbox)[-1])


def test_a_pilot_allow_list_holds_everyone_else(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = tenant(tenant_id)
    legacy_signins(scenario, add_user(scenario, "alice"), NOW - timedelta(hours=1), 3)
    legacy_signins(scenario, add_user(scenario, "bob", mail="bob@fabrikam.example"), NOW - timedelta(hours=1), 3)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_ALLOWED_RECIPIENTS="@contoso.example")
    runs = asyncio.run(run_with_settings(settings, FULL_CYCLE, NOW))
    assert [m["To"] for m in outbox_messages(sim.state.outbox)] == ["Alice <alice@contoso.example>"]
    assert notify_figures(runs[-1]).held["held_not_in_allow_list"] == 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds))
        self.now += seconds


def test_the_send_budget_paces_and_carries_the_rest_oldest_first(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_SEND_PER_MINUTE="2", LAM_SEND_PER_HOUR="5", LAM_NOTIFY_MAX_SECONDS="600")
    service = TableServiceClient.from_connection_string(settings.tables_connection_string or "")
    ensure_tables(service)
    ledger = NotificationLedger(service.get_table_client("notifications"), tenant_id)
    users = [
        replace(
            person("en", "US", f"User {i}"),
            user_id=f"u{i}",
            status_since=NOW - timedelta(hours=10 - i),
            directory=DirectoryUser(f"u{i}", f"u{i}@contoso.example", f"User {i}", f"u{i}@contoso.example"),
        )
        for i in range(7)
    ]
    time = FakeClock()
    sender = build_sender(settings)
    assert sender is not None
    first = notify_due(users, True, settings.messages, ledger, sender, NOW, clock=time.clock, sleep=time.sleep)
    assert (first.delivered, first.carried_over, dict(first.held)) == (5, 2, {"quota_hour": 2})
    assert time.slept == [60, 60]  # two sends, wait a minute, two more, wait, the fifth
    assert [s["to"] for s in sim.state.sent] == [f"u{i}@contoso.example" for i in range(5)]
    done = {s.user_id: s for s in first.updated}
    later = [done.get(u.user_id, u) for u in users]
    second = notify_due(
        later, True, settings.messages, ledger, sender, NOW + timedelta(hours=2), clock=time.clock, sleep=time.sleep
    )
    assert second.delivered == 2
    assert [s["to"] for s in sim.state.sent][5:] == ["u5@contoso.example", "u6@contoso.example"]


def test_acs_throttling_is_carried_over_and_sent_once(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = tenant(tenant_id)
    legacy_signins(scenario, add_user(scenario, "alice"), NOW - timedelta(hours=1), 3)
    scenario.faults["emails:send"] = {"status": 429, "code": "TooManyRequests", "message": "quota", "times": 1}
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    runs = asyncio.run(run_with_settings(settings, FULL_CYCLE, NOW))
    assert notify_figures(runs[-1]).held["quota_throttled"] == 1 and sim.state.sent == []
    asyncio.run(run_with_settings(settings, [notify_step], NOW + timedelta(hours=1)))
    assert [s["to"] for s in sim.state.sent] == ["alice@contoso.example"]
    service = TableServiceClient.from_connection_string(settings.tables_connection_string or "")
    assert (
        UserRepository(service.get_table_client("users"), tenant_id).load_all()[scenario.users[0]["id"]].notified_count
        == 1
    )


def test_a_confirmation_once_remediated_in_the_users_language(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    anna = add_user(scenario, "anna", preferred_language="de-DE")
    legacy_signins(scenario, anna, NOW - timedelta(hours=1), 3)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_SEND_CONFIRMATION="true")
    asyncio.run(run_with_settings(settings, FULL_CYCLE, NOW))
    apple_signins(scenario, anna, NOW + timedelta(hours=2))
    for hours in (30, 31, 80):  # remediated after 24 quiet hours; one confirmation, not three
        asyncio.run(run_with_settings(settings, FULL_CYCLE, NOW + timedelta(hours=hours)))
    subjects = [m["Subject"] for m in outbox_messages(sim.state.outbox)]
    assert subjects[0].startswith("Bitte handeln")
    assert subjects[1:] == ["Erledigt: Ihre Dienst-E-Mail meldet sich jetzt modern an"]


def test_a_user_back_on_legacy_after_the_fix_gets_a_new_round(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    """Fixed, confirmed, then a restored backup brings the old account back: mailed afresh, not never."""
    scenario = tenant(tenant_id)
    anna = add_user(scenario, "anna")
    legacy_signins(scenario, anna, NOW - timedelta(hours=1), 3)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_SEND_CONFIRMATION="true")
    asyncio.run(run_with_settings(settings, FULL_CYCLE, NOW))
    apple_signins(scenario, anna, NOW + timedelta(hours=2))
    asyncio.run(run_with_settings(settings, FULL_CYCLE, NOW + timedelta(hours=30)))  # remediated, confirmed
    legacy_signins(scenario, anna, NOW + timedelta(days=40), 3)
    for day in (40, 41, 43, 47):
        asyncio.run(run_with_settings(settings, FULL_CYCLE, NOW + timedelta(days=day, hours=1)))
    subjects = [m["Subject"] for m in outbox_messages(sim.state.outbox)]
    assert len(subjects) == 4 and subjects[1].startswith("Done")
    assert not subjects[2].startswith("Reminder") and subjects[3].startswith("Reminder: ")
    service = TableServiceClient.from_connection_string(settings.tables_connection_string or "")
    ledger = NotificationLedger(service.get_table_client("notifications"), tenant_id)
    ids = [e.message_id for e in ledger.for_user(anna["id"])]
    assert sorted(ids) == ["confirmation", "remediation-1", "remediation-1-e2", "remediation-2-e2"]
    row = service.get_table_client("users").get_entity(tenant_id, anna["id"])
    assert (row["Status"], row["Episode"], row["NotifiedCount"]) == ("legacy_active", 2, 2)


def test_the_daily_digest_goes_once_a_day_and_not_when_empty(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    legacy_signins(scenario, add_user(scenario, "alice"), NOW - timedelta(hours=1), 3)
    legacy_signins(scenario, add_user(scenario, "<script>x</script>"), NOW - timedelta(hours=2), 3)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_DIGEST_RECIPIENTS="it-admin@contoso.example")
    asyncio.run(run_with_settings(settings, [*FULL_CYCLE, digest_step], NOW))
    asyncio.run(run_with_settings(settings, [digest_step], NOW + timedelta(hours=3)))  # same day: no second
    quiet = asyncio.run(run_with_settings(settings, [digest_step], NOW + timedelta(days=2)))
    digests = [m for m in outbox_messages(sim.state.outbox) if m["To"] == "it-admin@contoso.example"]
    assert len(digests) == 1
    # Changed with issue 17 (admin views): the digest counts every watched protocol, and groups by protocol.
    assert digests[0]["Subject"] == (
        "Legacy Auth Monitor 2026-11-20: 2 on legacy authentication, 2 new, 0 remediated this week"
    )
    text = plain_text(digests[0])
    assert "Exchange ActiveSync: 2 account(s)\r\n  people's own mail apps (each person is told): 2\r\n" in text
    assert "Emails in the last day: 2 sent" in text
    assert "enabling one today would cut off 2 user(s)" in text
    html = digests[0].get_body(("html",))
    assert html is not None and "&lt;script&gt;" in html.get_content() and "<script>x" not in html.get_content()
    assert quiet[0].message.startswith("nothing new in the last day")
