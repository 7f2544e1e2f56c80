"""Shared mailboxes and the Exchange switches end to end: the simulator's Graph, Exchange admin API and ACS
over HTTP, Azurite's tables. What is checked is what people see: verdicts and mailbox types in the users
table, mail in the outbox, the tenant findings, the run's figures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from azure.data.tables import TableServiceClient

from core.constants import AUTHENTICATED_SMTP, EXCHANGE_ACTIVESYNC, EXCHANGE_WEB_SERVICES
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.cycle import FULL_CYCLE, digest_step, run_with_settings
from pipeline.settings import load_settings
from pipeline.wiring import StateTables
from sim.demo_tenant import MAC_MAIL_EWS_AGENT
from sim.graph_shapes import exchange_mailbox
from sim.scenario import Scenario
from tests.conftest import NOW, figures, outbox_messages, plain_text, sim_env, sim_settings
from tests.scenarios import add_user, new_id, signins, smtp_signins, tenant
from tests.test_cli import cli
from tests.test_smtp_senders import mail_to, run, users

StartSim = Callable[[Scenario], SimServer]
EXCHANGE = {"LAM_COLLECT_DEVICES": "true", "LAM_EXO_ORGANIZATION": "contoso.onmicrosoft.com"}
ANDROID = "Android/4.4.2-EAS-1.3"  # a real mail-client agent: tests/corpus/user_agents.csv (horde DeviceTest.php)


def exchange(sim: SimServer) -> dict[str, str]:
    """The Exchange collector on, pointed at the simulator's admin API."""
    return {**EXCHANGE, "LAM_EXO_BASE_URL": sim.url}


def shared_mailbox(scenario: Scenario, name: str, kind: str = "SharedMailbox") -> dict[str, Any]:
    account = add_user(scenario, name)
    scenario.mailboxes.append(exchange_mailbox(account, name.replace(".", ""), kind))
    return account


def test_the_owner_of_a_scanners_shared_mailbox_is_found_from_its_mailbox_type(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    """No owner map: Exchange says the scanner's account is a shared mailbox, so its manager is told."""
    scenario = tenant(tenant_id)
    scans = shared_mailbox(scenario, "scans")
    dana = add_user(scenario, "dana")
    scenario.managers[scans["id"]] = dana["id"]
    smtp_signins(scenario, scans, NOW - timedelta(hours=1), 12)  # a scan an hour from the office network
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, **exchange(sim))
    run(settings)

    state = users(settings)[scans["id"]]
    assert state.mailbox_type == "SharedMailbox"
    assert state.verdict.reasons == ("smtp_basic_auth_succeeded", "smtp_sender_shared_mailbox", "smtp_sender_device")
    mail = mail_to(sim)
    assert list(mail) == ["dana@contoso.example"], "the shared mailbox itself is never mailed"
    text = plain_text(mail["dana@contoso.example"])
    assert "You are the manager of the account scans@contoso.example" in text
    assert "printer or scanner" in text and "Direct Send" in text
    assert "The account is a shared or resource mailbox: nobody signs in with it as their own" in text
    assert sim.state.requests["InvokeCommand:Get-Mailbox"] == 1, "the type comes with the device collector's list"


def test_a_shared_mailbox_sending_from_a_mail_app_is_mailed_only_when_exchange_is_not_read(
    start_sim: StartSim, azurite: Azurite
) -> None:
    """The same tenant twice. Without the Exchange collector the mail-client agent makes a person, who is
    told about their own app: the shared mailbox gets the email nobody reads. With it, its owner does."""
    got: dict[str, list[str]] = {}
    for label, on in (("signins only", False), ("exchange on", True)):
        scenario = tenant(new_id())
        info = shared_mailbox(scenario, "info")
        smtp_signins(scenario, info, NOW - timedelta(hours=2), 4, every=timedelta(hours=5), ua=ANDROID)
        sim = start_sim(scenario)
        overrides = exchange(sim) if on else {}
        settings = sim_settings(
            sim, azurite, LAM_SENDER_OWNERS="info@contoso.example=office.lead@contoso.example", **overrides
        )
        run(settings)
        got[label] = list(mail_to(sim))
    assert got == {"signins only": ["info@contoso.example"], "exchange on": ["office.lead@contoso.example"]}


def test_a_room_mailbox_with_no_owner_and_no_manager_lands_in_the_digest(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    room = shared_mailbox(scenario, "room.4b", "RoomMailbox")
    smtp_signins(scenario, room, NOW - timedelta(hours=3), 6, every=timedelta(hours=4), ua=ANDROID)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_DIGEST_RECIPIENTS="it-admin@contoso.example", **exchange(sim))
    run(settings, [*FULL_CYCLE, digest_step])

    assert users(settings)[room["id"]].verdict.reasons[1] == "smtp_sender_shared_mailbox"
    mail = mail_to(sim)
    assert list(mail) == ["it-admin@contoso.example"], "only the digest"
    digest = plain_text(mail["it-admin@contoso.example"])
    assert "  - room.4b@contoso.example" in digest and "owner unknown" in digest


def test_hostile_mailbox_records_are_skipped_and_counted_and_the_rest_still_judged(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    scans = shared_mailbox(scenario, "scans")
    smtp_signins(scenario, scans, NOW - timedelta(hours=1), 12)
    scenario.mailboxes += [
        {"Name": "broken", "Identity": "broken", "RecipientTypeDetails": "SharedMailbox"},  # no object id
        {"Name": "odd", "Identity": "odd", "ExternalDirectoryObjectId": scans["id"], "RecipientTypeDetails": 7},
        {"Name": "x" * 5000, "ExternalDirectoryObjectId": "'; drop", "RecipientTypeDetails": "<b>" * 100},
    ]
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, **exchange(sim), LAM_SENDER_OWNERS="scans@contoso.example=it@contoso.example")
    records = asyncio.run(run_with_settings(settings, FULL_CYCLE, NOW))

    assert users(settings)[scans["id"]].mailbox_type == "SharedMailbox"
    collect = next(r for r in records if r.step == "collect")
    noted = figures(collect).noted
    assert (noted["mailbox_without_object_id"], noted["mailbox_type_unreadable"]) == (2, 1)
    assert list(mail_to(sim)) == ["it@contoso.example"]


def findings(settings_env: dict[str, str]) -> dict[str, dict[str, object]]:
    out = cli("findings", "--format", "json", env=settings_env)
    assert out.returncode == 0, out.stderr
    return {f["name"]: f for f in json.loads(out.stdout)}


def test_the_switches_are_read_for_the_senders_and_shown_with_the_findings(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    exempt, closed, plain = (shared_mailbox(scenario, n, "UserMailbox") for n in ("copier", "old.app", "plotter"))
    for n, account in enumerate((exempt, closed, plain)):
        smtp_signins(scenario, account, NOW - timedelta(hours=1), 6, ip=f"198.51.100.{30 + n}")
    mac = shared_mailbox(scenario, "mac.user", "UserMailbox")
    signins(
        scenario,
        mac,
        NOW - timedelta(hours=2),
        3,
        every=timedelta(hours=6),
        client_app=EXCHANGE_WEB_SERVICES,
        user_agent=MAC_MAIL_EWS_AGENT,
    )
    scenario.cas["copier@contoso.example"] = {"SmtpClientAuthenticationDisabled": False}
    scenario.cas["old.app@contoso.example"] = {"SmtpClientAuthenticationDisabled": True}
    scenario.cas["mac.user@contoso.example"] = {"EwsEnabled": False}
    scenario.transport_config = {"SmtpClientAuthenticationDisabled": False}
    scenario.organization_config = {"EwsEnabled": True}
    sim = start_sim(scenario)
    watched = f"{EXCHANGE_ACTIVESYNC},{AUTHENTICATED_SMTP},{EXCHANGE_WEB_SERVICES}"
    env = sim_env(sim, azurite, LAM_LEGACY_PROTOCOLS=watched, **exchange(sim))
    run(load_settings(env))

    assert sim.state.requests["InvokeCommand:Get-CASMailbox"] == 4, "one lookup per sender, nobody else"
    found = findings(env)
    assert found["smtp_auth_org_switch"]["ok"] is False
    assert str(found["smtp_auth_org_switch"]["summary"]).startswith("SMTP AUTH is still enabled org-wide")
    exemptions = str(found["smtp_auth_mailbox_exemptions"]["summary"])
    assert exemptions.startswith("1 of the 3 sender mailbox(es) checked have SMTP AUTH explicitly enabled")
    assert "copier@contoso.example" in exemptions and "old.app@" not in exemptions
    assert "Since the first run on" in str(found["retirement_authenticated_smtp"]["summary"])
    ews = str(found["ews_org_switch"]["summary"])
    assert ews.startswith(
        "Exchange Web Services is kept on for the organization (Get-OrganizationConfig EwsEnabled $true)"
    )
    assert ews.endswith(
        "Of the 1 account(s) that signed in over EWS in the last 30 days, 1 have EWS turned off on their mailbox "
        "(Set-CASMailbox -EwsEnabled $false)."
    )

    off = findings({**env, "LAM_COLLECT_DEVICES": "false"})
    assert off["exchange_switches"]["summary"] == "Switches not read: Exchange collector off (LAM_COLLECT_DEVICES)."
    assert "smtp_auth_org_switch" not in off


def test_the_first_run_is_the_baseline_and_a_fixed_sender_counts_as_fixed(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    scanner, app = add_user(scenario, "scanner"), add_user(scenario, "billing.app")
    smtp_signins(scenario, scanner, NOW - timedelta(hours=1), 12)
    smtp_signins(scenario, app, NOW - timedelta(hours=1), 8, ip="198.51.100.77")
    sim = start_sim(scenario)
    owners = "scanner@contoso.example=facilities@contoso.example,billing.app@contoso.example=dev@contoso.example"
    settings = sim_settings(sim, azurite, LAM_SENDER_OWNERS=owners)
    run(settings)
    smtp_signins(scenario, app, NOW + timedelta(days=4) - timedelta(hours=1), 3, ip="198.51.100.77")  # still sends
    run(settings, now=NOW + timedelta(days=4))  # the scanner was moved to OAuth: quiet since its owner was told

    tables = StateTables.open(settings)
    baseline = tables.tenant.load_baseline()
    assert baseline is not None and baseline.first_run == NOW
    assert baseline.accounts == {"retirement_authenticated_smtp": 2}
    (smtp,) = [f for f in tables.findings() if f.name == "retirement_authenticated_smtp"]
    assert smtp.summary.endswith("Since the first run on 2026-11-20: 2 account(s) then, 1 now, 1 fixed.")
    service = TableServiceClient.from_connection_string(settings.tables_connection_string or "")
    row = service.get_table_client("tenant").get_entity(tenant_id, "retirement_baseline")
    assert len(row["Ids"]) < 32000
    sent = sorted(str(m["To"].addresses[0].addr_spec) for m in outbox_messages(sim.state.outbox))
    assert sent == ["dev@contoso.example", "dev@contoso.example", "facilities@contoso.example"], "a reminder to dev"


def test_without_the_exchange_role_the_switches_finding_says_what_to_grant(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    scans = shared_mailbox(scenario, "scans")
    smtp_signins(scenario, scans, NOW - timedelta(hours=1), 12)
    scenario.faults["InvokeCommand"] = {"status": 403, "code": "Forbidden", "message": "Access denied"}
    sim = start_sim(scenario)
    env = sim_env(sim, azurite, LAM_SENDER_OWNERS="scans@contoso.example=it@contoso.example", **exchange(sim))
    run(load_settings(env))

    found = findings(env)
    summary = str(found["exchange_switches"]["summary"])
    assert summary.startswith("Switches not read: Exchange refused Get-TransportConfig (403)")
    assert "View-Only Organization Management" in summary
    assert "smtp_auth_org_switch" not in found, "nothing guessed"
    assert list(mail_to(sim)) == ["it@contoso.example"], "the owner map still names who is told"


def test_a_protocol_watched_later_starts_its_progress_when_it_is_first_counted(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    """EWS added to LAM_LEGACY_PROTOCOLS on day 4: its first count is taken then, SMTP's stays the first run's."""
    scenario = tenant(tenant_id)
    scanner, crm = add_user(scenario, "scanner"), add_user(scenario, "crm")
    smtp_signins(scenario, scanner, NOW - timedelta(hours=1), 12)
    agent = "ExchangeServicesClient/15.00.0913.015"  # tests/test_imap_pop_ews_owners.py: the EWS Managed API
    signins(
        scenario,
        crm,
        NOW + timedelta(days=4),
        40,
        every=timedelta(minutes=30),
        client_app=EXCHANGE_WEB_SERVICES,
        user_agent=agent,
        ip="198.51.100.42",
    )
    sim = start_sim(scenario)
    run(sim_settings(sim, azurite), now=NOW)
    later = sim_settings(
        sim, azurite, LAM_LEGACY_PROTOCOLS=f"{EXCHANGE_ACTIVESYNC},{AUTHENTICATED_SMTP},{EXCHANGE_WEB_SERVICES}"
    )
    run(later, now=NOW + timedelta(days=4, hours=1))
    run(later, now=NOW + timedelta(days=5))

    tables = StateTables.open(later)
    baseline = tables.tenant.load_baseline()
    assert baseline is not None and baseline.first_run == NOW
    assert baseline.accounts == {"retirement_authenticated_smtp": 1, "retirement_exchange_web_services": 1}
    findings = {f.name: f.summary for f in tables.findings()}
    assert "Since the first run on 2026-11-20: 1 account(s) then" in findings["retirement_authenticated_smtp"]
    assert (
        "Since watching began on 2026-11-24: 1 account(s) then, 1 now, 0 fixed."
        in (findings["retirement_exchange_web_services"])
    )
