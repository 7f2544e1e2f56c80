"""SMTP AUTH senders end to end: the simulator's Graph (sign-ins, users, managers) and ACS over HTTP,
Azurite's tables. What is checked is what people see: verdicts in the users table, mail in the outbox,
the admin's digest."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from azure.data.tables import TableServiceClient

from core.clock import utcnow
from core.records import UserState, Verdict
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.cycle import FULL_CYCLE, digest_step, run_with_settings
from pipeline.settings import Settings, load_settings
from sim.graph_shapes import sign_in
from sim.scenario import Scenario
from store.tenant import TenantRepository
from store.users import UserRepository
from tests.conftest import NOW, outbox_messages, plain_text, sim_env, sim_settings
from tests.scenarios import add_user, legacy_signins, new_id, smtp_signins, tenant
from tests.test_cli import cli

StartSim = Callable[[Scenario], SimServer]
ADMIN = "it-admin@contoso.example"


def run(settings: Settings, steps: list[Any] | None = None, now: datetime = NOW) -> None:
    asyncio.run(run_with_settings(settings, steps or FULL_CYCLE, now))


def users(settings: Settings) -> dict[str, UserState]:
    service = TableServiceClient.from_connection_string(settings.tables_connection_string or "")
    return UserRepository(service.get_table_client("users"), settings.tenant_id).load_all()


def mail_to(sim: SimServer) -> dict[str, EmailMessage]:
    return {str(m["To"].addresses[0].addr_spec): m for m in outbox_messages(sim.state.outbox)}


def test_the_owner_of_a_scanners_shared_mailbox_is_mailed_and_the_mailbox_is_not(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    scanner = add_user(scenario, "scanner")
    add_user(scenario, "facilities")
    smtp_signins(scenario, scanner, NOW - timedelta(hours=1), 12)  # a scan an hour from the office network
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_SENDER_OWNERS="Scanner@contoso.example=facilities@contoso.example")
    run(settings)

    state = users(settings)[scanner["id"]]
    assert (state.verdict.status, state.verdict.reasons) == (
        "legacy_active",
        ("smtp_basic_auth_succeeded", "smtp_sender_device"),
    )
    assert state.evidence.last_success_at == NOW - timedelta(hours=1)
    mail = mail_to(sim)
    assert list(mail) == ["facilities@contoso.example"], "the scanner's own mailbox is never mailed"
    text = plain_text(mail["facilities@contoso.example"])
    assert "You are listed as the owner of the account scanner@contoso.example." in text
    assert "printer or scanner" in text and "Connector relay" in text and "Direct Send" in text
    assert "at the end of December 2026 (41 days from now)" in text
    assert "550 5.7.30 Basic authentication is not supported for Client Submission" in text
    assert "Exchange account on your" not in text and "Apple" not in text
    assert "Action needed by the end of December 2026" in str(mail["facilities@contoso.example"]["Subject"])


def test_without_an_owner_the_accounts_manager_is_told_in_their_language(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    app = add_user(scenario, "billing.app")
    dana = add_user(scenario, "dana", preferred_language="de-DE", usage_location="DE")
    scenario.managers[app["id"]] = dana["id"]
    smtp_signins(scenario, app, NOW - timedelta(minutes=5), 300, every=timedelta(seconds=30))  # invoices, in bulk
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    run(settings)

    state = users(settings)[app["id"]]
    assert state.verdict.reasons == ("smtp_basic_auth_succeeded", "smtp_sender_application")
    mail = mail_to(sim)
    assert list(mail) == ["dana@contoso.example"]
    text = plain_text(mail["dana@contoso.example"])
    assert "Vorgesetzte(r) des Kontos billing.app@contoso.example" in text
    assert "Microsoft Graph sendMail" in text and "Azure Communication Services Email" in text
    assert "Ende Dezember 2026" in text
    assert state.notified_count == 1


def test_an_account_with_no_owner_and_no_manager_is_not_mailed_and_lands_in_the_digest(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    monitor = add_user(scenario, "monitoring")
    smtp_signins(scenario, monitor, NOW - timedelta(hours=2), 8, every=timedelta(hours=3))
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_DIGEST_RECIPIENTS=ADMIN)
    run(settings, [*FULL_CYCLE, digest_step])

    assert users(settings)[monitor["id"]].verdict.status == "legacy_active"
    mail = mail_to(sim)
    assert list(mail) == [ADMIN], "only the digest: the account itself is no recipient"
    digest = plain_text(mail[ADMIN])
    assert "Senders and mailbox clients with owner unknown" in digest  # changed: IMAP, POP and EWS too
    assert "  - monitoring@contoso.example" in digest
    assert "SMTP AUTH sender, owner unknown" in digest
    # Changed with issue 17 (admin views): the digest groups by protocol, senders by kind with their owner.
    assert (
        "Authenticated SMTP: 1 account(s), 41 day(s) left to the end of December 2026\n"
        "  printers and scanners: 1\n"
        "    - monitoring@contoso.example (owner unknown)\n"
    ) in digest.replace("\r\n", "\n")


def test_an_smtp_auth_spray_makes_an_attack_finding_and_mails_nobody(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    victims = [add_user(scenario, f"victim{n}") for n in range(6)]
    for n, person in enumerate(victims):
        for attempt in range(2):
            scenario.sign_ins.append(
                sign_in(
                    new_id(),
                    NOW - timedelta(hours=3, minutes=n * 5 + attempt),
                    person,
                    client_app="Authenticated SMTP",
                    error_code=50126,
                    ip="192.0.2.66",
                    operating_system="",
                )
            )
    scenario.sort()
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_SENDER_OWNERS="victim0@contoso.example=owner@contoso.example")
    run(settings)

    states = users(settings)
    assert {states[p["id"]].verdict.reasons for p in victims} == {("smtp_password_spray",)}
    assert {states[p["id"]].verdict.status for p in victims} == {"attack_suspected"}
    service = TableServiceClient.from_connection_string(settings.tables_connection_string or "")
    attack = TenantRepository(service.get_table_client("tenant"), tenant_id).load_attack()
    assert attack is not None and attack.accounts == 6 and attack.sources == {"192.0.2.66": 6}
    assert outbox_messages(sim.state.outbox) == [], "nobody is mailed about an attack, not even a mapped owner"


def test_a_persons_mail_app_on_smtp_auth_mails_the_person_with_their_own_steps(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    erin = add_user(scenario, "erin")
    # A real Android EAS client agent (tests/corpus/user_agents.csv: horde ActiveSync DeviceTest.php).
    smtp_signins(scenario, erin, NOW - timedelta(hours=4), 3, every=timedelta(hours=5), ua="Android/4.4.2-EAS-1.3")
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_SENDER_OWNERS="erin@contoso.example=boss@contoso.example")
    run(settings)

    assert users(settings)[erin["id"]].verdict.advice == ("smtp_person_modern_auth",)
    mail = mail_to(sim)
    assert list(mail) == ["erin@contoso.example"], "a person is told about their own app, not an owner"
    text = plain_text(mail["erin@contoso.example"])
    assert "A mail app of yours sends email as erin@contoso.example" in text and "Microsoft Outlook" in text


def test_an_eas_user_keeps_todays_verdict_and_email_exactly_with_smtp_auth_watched(
    start_sim: StartSim, azurite: Azurite
) -> None:
    """The same EAS user in two tenants: one watching EAS alone (before this change), one with the new
    default (EAS and SMTP AUTH, beside a scanner). Verdict, subject and both bodies are identical."""
    seen: list[tuple[Verdict, int, str, str, str]] = []
    for tenant_id, protocols in ((new_id(), "Exchange ActiveSync"), (new_id(), None)):
        scenario = tenant(tenant_id)
        person = add_user(scenario, "alice")
        person["id"] = "0b8f6a34-1c1e-4a43-9c6e-0d9d2a3b4c5d"  # the same user in both tenants
        legacy_signins(scenario, person, NOW - timedelta(hours=2), 10)
        smtp_signins(scenario, add_user(scenario, "scanner"), NOW - timedelta(hours=1), 6)
        sim = start_sim(scenario)
        overrides = {"LAM_LEGACY_PROTOCOLS": protocols} if protocols else {}
        settings = sim_settings(sim, azurite, **overrides)
        assert settings.legacy_protocols == (
            (protocols,) if protocols else ("Exchange ActiveSync", "Authenticated SMTP")
        )
        run(settings)
        state = users(settings)[person["id"]]
        mail = mail_to(sim)["alice@contoso.example"]
        html = mail.get_body(("html",))
        assert html is not None
        body = str(html.get_content())
        seen.append((state.verdict, state.notified_count, str(mail["Subject"]), plain_text(mail), body))
    assert seen[0][0].status == "legacy_active" and seen[0][0].reasons == ("legacy_signin_succeeded",)
    assert seen[0] == seen[1]


def test_report_lists_the_smtp_senders_with_kind_owner_last_success_and_days_to_the_switch_off(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    scanner, app, monitor, dana = (add_user(scenario, n) for n in ("scanner", "billing.app", "monitoring", "dana"))
    scenario.managers[app["id"]] = dana["id"]
    smtp_signins(scenario, scanner, NOW - timedelta(hours=1), 12)
    smtp_signins(scenario, app, NOW - timedelta(minutes=5), 300, every=timedelta(seconds=30))
    smtp_signins(scenario, monitor, NOW - timedelta(hours=2), 8, every=timedelta(hours=3), error_code=50126)
    legacy_signins(scenario, add_user(scenario, "alice"), NOW - timedelta(hours=2), 3)  # EAS: not a sender
    sim = start_sim(scenario)
    env = sim_env(sim, azurite, LAM_SENDER_OWNERS="scanner@contoso.example=facilities@contoso.example")
    run(load_settings(env))

    days = (date(2026, 12, 31) - utcnow().date()).days  # the registry's end of December 2026, from today
    csv_out = cli("report", "--protocol", "Authenticated SMTP", "--format", "csv", env=env)
    assert csv_out.returncode == 0, csv_out.stderr
    rows = list(csv.DictReader(io.StringIO(csv_out.stdout)))
    assert [(r["upn"], r["kind"], r["owner"], r["last_success"], r["days_to_switch_off"]) for r in rows] == [
        (
            "billing.app@contoso.example",
            "application",
            "dana@contoso.example (manager)",
            "2026-11-20T11:55:00+00:00",
            str(days),
        ),
        ("scanner@contoso.example", "device", "facilities@contoso.example", "2026-11-20T11:00:00+00:00", str(days)),
        ("monitoring@contoso.example", "device", "owner unknown", "", str(days)),
    ]
    table = cli("report", "--protocol", "authenticated smtp", env={**env, "COLUMNS": "200"})
    assert table.returncode == 0, table.stderr
    # Changed with issue 17 (admin views): the title names the protocol as the registry spells it.
    assert "Authenticated SMTP senders (3)" in table.stdout and "days to switch-off" in table.stdout
    assert "alice@" not in table.stdout
    piped = cli("report", "--protocol", "authenticated smtp", env=env)  # not a terminal: 120 columns
    assert "facilities@conto" in piped.stdout and "owner unknown" in piped.stdout  # folded, not squeezed out


def test_a_scanner_quiet_after_its_owner_was_told_is_verified_fixed_and_nobody_gets_more_mail(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    scanner = add_user(scenario, "scanner")
    smtp_signins(scenario, scanner, NOW - timedelta(hours=1), 12)
    sim = start_sim(scenario)
    owners = "scanner@contoso.example=facilities@contoso.example"
    settings = sim_settings(sim, azurite, LAM_SENDER_OWNERS=owners, LAM_SEND_CONFIRMATION="true")
    run(settings)
    assert users(settings)[scanner["id"]].notified_count == 1

    run(settings, now=NOW + timedelta(hours=2))  # switched to OAuth: no basic submission since
    assert users(settings)[scanner["id"]].verdict.status == "pending_verification"
    run(settings, now=NOW + timedelta(days=4))  # past the quiet period and the first reminder's day
    state = users(settings)[scanner["id"]]
    assert state.verdict.reasons == ("smtp_no_basic_auth_since_told", "smtp_sender_device")
    assert state.verdict.status == "remediated"
    assert len(outbox_messages(sim.state.outbox)) == 1, "no reminder and no thank-you to the scanner's mailbox"
