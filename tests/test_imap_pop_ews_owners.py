"""Devices and applications on IMAP4, POP3 and EWS end to end: the simulator's Graph (sign-ins, users,
managers) and ACS over HTTP, Azurite's tables. Checked: the verdicts in the users table, who gets which mail.

The EWS agent is real (Microsoft's EWS request sample, see tests/test_mailbox_clients.py); the IMAP and POP
sign-ins carry no agent and are hand-made, as no public record was found."""

from __future__ import annotations

from datetime import timedelta

from devstack.azurite import Azurite
from tests.conftest import NOW, outbox_messages, plain_text, sim_settings
from tests.scenarios import add_user, tenant, unattended_signins
from tests.test_smtp_senders import StartSim, mail_to, run, users

WATCHED = "Exchange ActiveSync,Authenticated SMTP,IMAP4,POP3,Exchange Web Services"
EWS_AGENT = "ExchangeServicesClient/15.00.0913.015"
OFFICE, SERVERS = "198.51.100.40", "198.51.100.42"
TWO_MINUTES = timedelta(minutes=2)


def test_a_helpdesk_on_imap_is_told_to_its_manager_in_french_and_the_mailbox_is_not_mailed(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    helpdesk = add_user(scenario, "helpdesk")
    chloe = add_user(scenario, "chloe", preferred_language="fr-FR", usage_location="FR")
    scenario.managers[helpdesk["id"]] = chloe["id"]
    # a ticketing system polling every two minutes, refused since basic auth for IMAP is off
    unattended_signins(scenario, helpdesk, "IMAP4", NOW - timedelta(minutes=3), 300, every=TWO_MINUTES, ip=OFFICE)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_LEGACY_PROTOCOLS=WATCHED)
    run(settings)

    state = users(settings)[helpdesk["id"]]
    assert (state.verdict.status, state.verdict.reasons, state.verdict.advice) == (
        "legacy_active",
        ("imap_pop_basic_auth_failing", "imap_pop_application"),
        ("collect_with_oauth",),
    )
    mail = mail_to(sim)
    assert list(mail) == ["chloe@contoso.example"], "the helpdesk's own mailbox is no recipient"
    text = plain_text(mail["chloe@contoso.example"])
    assert "responsable hiérarchique du compte helpdesk@contoso.example" in text
    assert "relève la boîte helpdesk@contoso.example avec un mot de passe via IMAP" in text
    assert "IMAP.AccessAsApp" in text and "Microsoft Graph" in text and "SMTP" not in text
    assert str(mail["chloe@contoso.example"]["Subject"]).startswith("Action requise : la boîte helpdesk@")
    assert state.notified_count == 1


def test_a_fax_on_pop_mails_its_mapped_owner_and_an_ews_app_its_owner_with_the_day_ews_goes(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    fax = add_user(scenario, "fax")
    crm = add_user(scenario, "crm")
    unattended_signins(scenario, fax, "POP3", NOW - timedelta(minutes=5), 80, every=timedelta(minutes=15), ip=OFFICE)
    ews = "Exchange Web Services"
    unattended_signins(scenario, crm, ews, NOW, 40, every=timedelta(minutes=30), ip=SERVERS, error_code=0, ua=EWS_AGENT)
    sim = start_sim(scenario)
    owners = "fax@contoso.example=facilities@contoso.example,crm@contoso.example=sales.ops@contoso.example"
    settings = sim_settings(sim, azurite, LAM_LEGACY_PROTOCOLS=WATCHED, LAM_SENDER_OWNERS=owners)
    run(settings)

    states = users(settings)
    assert states[fax["id"]].verdict.reasons == ("imap_pop_basic_auth_failing", "imap_pop_device")
    assert states[crm["id"]].verdict.reasons == ("ews_signin_succeeded", "ews_application")
    mail = mail_to(sim)
    assert sorted(mail) == ["facilities@contoso.example", "sales.ops@contoso.example"]
    fax_text = plain_text(mail["facilities@contoso.example"])
    assert "A device, such as a printer or fax that fetches jobs by email, collects the mailbox fax@" in fax_text
    assert "It is already refused" in fax_text and "POP.AccessAsApp" in fax_text
    crm_mail = mail["sales.ops@contoso.example"]
    assert (
        str(crm_mail["Subject"])
        == "Action needed by 1 April 2027: crm@contoso.example still uses Exchange Web Services"
    )
    crm_text = plain_text(crm_mail)
    assert "for good on 1 April 2027 (132 days from now)" in crm_text  # NOW is 2026-11-20
    assert "Microsoft Graph mail, calendar and contacts APIs" in crm_text and "IMAP" not in crm_text


def test_an_imap_password_spray_is_an_attack_and_mails_nobody(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    victims = [add_user(scenario, f"victim{n}") for n in range(6)]
    for n, person in enumerate(victims):
        last = NOW - timedelta(hours=3, minutes=5 * n)
        minute = timedelta(minutes=1)  # two wrong passwords a minute apart, through Exchange's proxy (BAV2ROPC)
        unattended_signins(
            scenario, person, "IMAP4", last, 2, every=minute, ip="192.0.2.66", error_code=50126, ua="BAV2ROPC"
        )
    sim = start_sim(scenario)
    owners = "victim0@contoso.example=owner@contoso.example"
    settings = sim_settings(sim, azurite, LAM_LEGACY_PROTOCOLS=WATCHED, LAM_SENDER_OWNERS=owners)
    run(settings)

    states = users(settings)
    assert {states[p["id"]].verdict.status for p in victims} == {"attack_suspected"}
    assert outbox_messages(sim.state.outbox) == [], "nobody is mailed about an attack, not even a mapped owner"
