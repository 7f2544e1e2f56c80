"""IMAP4, POP3 and Exchange Web Services: who signs in (a person's mail app, a device, an application, an
attack), what their verdict says, and the wording of every advice code in every language. Pure, no servers.

Inputs: the EWS Managed API agent "ExchangeServicesClient/15.00.0913.015" is real: Microsoft's own request
sample to outlook.office365.com with Basic authorization (MicrosoftDocs/office-developer-exchange-docs,
docs/exchange-web-services/how-to-route-public-folder-content-requests.md), the library setting it as its
default agent prefix (OfficeDev/ews-managed-api, Core/ExchangeServiceBase.cs). The macOS Mail over EWS agent
is the corpus's (tests/corpus/user_agents.csv, sim/demo_tenant.py). No public IMAP4 or POP3 sign-in record
was found (searched: Graph signIns JSON with clientAppUsed "IMAP4", "POP3", "Authenticated SMTP" in public
repositories; the hits were other projects' hand-made fixtures), and IMAP/POP carry no HTTP agent of the
client: the evidence counts below are built by hand and say so; the expected kinds follow the issue.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from collectors.signins import parse_signin
from core.config import MessagePolicy, RuleConfig
from core.constants import EXCHANGE_WEB_SERVICES
from core.findings import Finding
from core.records import Delta, DirectoryUser, Evidence, UserState, Verdict
from notify.compose import SENDER, available_locales, compose_remediation, compose_sender_notice, template_environment
from notify.digest import Digest, compose_digest
from rules import protocols, recipients, senders, status
from rules.evidence import fold_legacy

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CONFIG = RuleConfig()
EWS_MANAGED_API = "ExchangeServicesClient/15.00.0913.015"
MAC_MAIL_EWS = "Mac OS X/10.8.2 (12C2034); ExchangeWebServices/3.0 (157); Mail/6.2 (1499)"
ACCOUNT = DirectoryUser(
    id="h1", upn="helpdesk@contoso.example", display_name="Helpdesk", mail="helpdesk@contoso.example"
)
OWNER = DirectoryUser(id="o1", upn="owner@contoso.example", display_name="Olga Owner", mail="owner@contoso.example")
POLICY = MessagePolicy()


def seen_on(
    protocol: str,
    *,
    success: int = 0,
    failure: int = 0,
    agent: str = "(none)",
    networks: int = 1,
    hours: int = 20,
    credential: int = 0,
    spray: int = 0,
) -> Evidence:
    """Hand-built evidence of an account seen on one protocol (counts, not a real record)."""
    total = success + failure
    return Evidence(
        upn=ACCOUNT.upn,
        legacy_success=success,
        legacy_failure=failure,
        failure_codes={"50126": credential} if credential else ({"53003": failure} if failure else {}),
        protocols={protocol: total},
        first_legacy_at=NOW - timedelta(days=10),
        last_legacy_at=NOW - timedelta(minutes=5),
        last_success_at=NOW - timedelta(minutes=5) if success else None,
        agents={agent: total},
        networks={f"198.51.{n}.0/24": total // networks for n in range(networks)},
        hours={f"2026-11-{10 + h // 24:02d}T{h % 24:02d}": 1 for h in range(hours)},
        credential_failures=credential,
        spray_failures=spray,
    )


def user_state(who: DirectoryUser, evidence: Evidence, verdict: Verdict) -> UserState:
    return UserState(
        user_id=who.id,
        directory=who,
        evidence=evidence,
        verdict=verdict,
        rule_version=status.RULE_VERSION,
        status_since=NOW,
    )


def judged(evidence: Evidence, told_at: datetime | None = None) -> Verdict:
    return status.evaluate(evidence, ACCOUNT, CONFIG, NOW, told_at=told_at)


def test_a_helpdesk_polling_its_mailbox_over_imap_every_two_minutes_is_an_application_already_refused() -> None:
    verdict = judged(seen_on("IMAP4", failure=600, hours=20))  # 30 an hour, refused: basic auth is off
    assert verdict == Verdict(
        "legacy_active", ("imap_pop_basic_auth_failing", "imap_pop_application"), ("collect_with_oauth",)
    )
    assert senders.kind_of(verdict) == "application"


def test_a_fax_fetching_jobs_by_pop_every_quarter_hour_from_one_network_is_a_device() -> None:
    verdict = judged(seen_on("pop3", failure=80, hours=20))  # any case: clientAppUsed compares case-insensitively
    assert verdict == Verdict(
        "legacy_active", ("imap_pop_basic_auth_failing", "imap_pop_device"), ("collect_with_oauth",)
    )
    state = user_state(ACCOUNT, seen_on("POP3", failure=80), verdict)
    assert recipients.needs_owner(state), "nobody reads the fax's mailbox: its owner is told"


def test_an_application_on_the_real_ews_managed_api_agent_is_told_to_move_to_graph() -> None:
    verdict = judged(seen_on(EXCHANGE_WEB_SERVICES, success=40, agent=EWS_MANAGED_API, hours=20))
    assert verdict == Verdict("legacy_active", ("ews_signin_succeeded", "ews_application"), ("ews_to_graph",))


def test_an_ews_account_at_a_devices_pace_without_an_agent_is_an_application_ews_has_no_devices() -> None:
    verdict = judged(seen_on(EXCHANGE_WEB_SERVICES, failure=10, hours=10))
    assert verdict.reasons == ("ews_signin_failing", "ews_application")


def test_a_persons_mac_mail_on_ews_keeps_its_internet_accounts_steps_and_is_no_sender() -> None:
    evidence = seen_on(EXCHANGE_WEB_SERVICES, success=6, agent=MAC_MAIL_EWS, hours=6)
    evidence = replace(evidence, user_agent=MAC_MAIL_EWS, device_os="MacOs")
    verdict = judged(evidence)
    assert verdict.status == "legacy_active" and verdict.reasons == ("legacy_signin_succeeded",)
    assert verdict.advice == ("readd_in_internet_accounts", "path_mac_system_preferences")
    assert senders.kind_of(verdict) is None


def test_wrong_passwords_over_imap_from_a_spray_source_stay_an_attack_and_nobody_is_told() -> None:
    verdict = judged(seen_on("IMAP4", failure=4, credential=4, spray=4, networks=2, hours=1))
    assert verdict.status == "attack_suspected"
    assert senders.kind_of(verdict) is None and not verdict.advice


def test_an_account_on_imap_and_activesync_keeps_the_eas_rules() -> None:
    evidence = replace(seen_on("IMAP4", failure=40), protocols={"IMAP4": 20, "Exchange ActiveSync": 20})
    assert senders.sender_protocol(evidence) is None
    assert senders.kind_of(judged(evidence)) is None


def test_a_helpdesk_quiet_since_its_owner_was_told_is_verified_after_the_quiet_period() -> None:
    evidence = seen_on("IMAP4", failure=600)
    told = NOW - timedelta(minutes=10)  # it tried again since: not fixed
    assert judged(evidence, told_at=told).reasons == ("imap_pop_basic_auth_failing", "imap_pop_application")
    quiet = replace(evidence, last_legacy_at=NOW - timedelta(days=3))
    assert judged(quiet, NOW - timedelta(hours=30)).status == "remediated"
    assert judged(quiet, NOW - timedelta(hours=2)).reasons == (
        "basic_signin_quiet_period_running",
        "imap_pop_application",
    )


def sender_state(client_app: str, kind_code: str, advice: tuple[str, ...], succeeded: bool = False) -> UserState:
    evidence = seen_on(client_app, success=5 if succeeded else 0, failure=0 if succeeded else 5)
    verdict = Verdict("legacy_active", ("outcome", kind_code), advice)
    return user_state(ACCOUNT, evidence, verdict)


def advice_words(locale: str, state: UserState) -> dict[str, list[str]]:
    """The wording table of the sender email in one language, as its template defines it."""
    module = (
        template_environment()
        .get_template(f"_smtp.{locale}.j2")
        .make_module(
            {
                "account": "a@contoso.example",
                "kind": senders.kind_of(state.verdict),
                "shared": False,
                "role": "owner",
                "protocol": senders.sender_protocol(state.evidence).client_app,  # type: ignore[union-attr]
                "advice": (),
                "succeeded": False,
                "last_success": "",
                "deadline_month": "",
                "deadline_day": "",
                "days_left": 0,
                "refusal": "",
                "reminder": 0,
                "first_sent": "",
                "display_name": "Olga",
                "upn": OWNER.upn,
                "contact_line": "",
            }
        )
    )
    return dict(vars(module)["advice_words"])


KIND_CODE = {
    ("Authenticated SMTP", "person"): "smtp_sender_mail_app",
    ("Authenticated SMTP", "device"): "smtp_sender_device",
    ("Authenticated SMTP", "application"): "smtp_sender_application",
    ("IMAP4", "device"): "imap_pop_device",
    ("IMAP4", "application"): "imap_pop_application",
    ("POP3", "device"): "imap_pop_device",
    ("POP3", "application"): "imap_pop_application",
    ("Exchange Web Services", "application"): "ews_application",
}
"""The kind code each (protocol, kind) is stored with: how the notifier knows it mails a sender's owner."""


@pytest.mark.parametrize("locale", sorted(available_locales(SENDER)))
def test_every_advice_code_of_every_registry_entry_has_wording_in_every_language(locale: str) -> None:
    assert {"en", "de", "fr", "es"} <= available_locales(SENDER)
    missing: list[str] = []
    for entry in protocols.RETIREMENTS:
        for kind, codes in entry.advice.items():
            for code in codes:
                if (entry.client_app, kind) not in KIND_CODE:  # a person's own app: the remediation email's steps
                    verdict = Verdict("legacy_active", ("legacy_signin_succeeded",), (code,))
                    user = user_state(OWNER, seen_on(entry.client_app, success=3), verdict)
                    email = compose_remediation(user, MessagePolicy(default_locale=locale))
                    steps = vars(
                        template_environment()
                        .get_template(f"_content.{locale}.j2")
                        .make_module(
                            {
                                "display_name": "",
                                "upn": OWNER.upn,
                                "contact_line": "",
                                "device": "",
                                "device_short": "",
                                "account_since": "",
                                "came_by_backup": False,
                                "is_mac": False,
                                "is_other_client": code == "readd_with_modern_auth",
                                "update_first": False,
                                "clear_safari": False,
                                "advice": (code,),
                                "last_seen": "",
                                "reminder": 0,
                                "first_sent": "",
                            }
                        )
                    )["steps"]
                    if email.locale != locale or not steps or any(step not in email.text for step in steps):
                        missing.append(f"{code} ({entry.client_app}, {kind}) in {locale}: no remediation steps")
                    continue
                state = sender_state(entry.client_app, KIND_CODE[(entry.client_app, kind)], (code,))
                words = advice_words(locale, state).get(code)
                if not words:
                    missing.append(f"{code} ({entry.client_app}, {kind}) has no wording in {locale}")
                    continue
                to = DirectoryUser(id="o", upn=OWNER.upn, display_name="Olga", mail=OWNER.mail)
                email = compose_sender_notice(state, to, "owner", MessagePolicy(default_locale=locale), NOW.date())
                if email.locale != locale or any(line not in email.text for line in words):
                    missing.append(f"{code} ({entry.client_app}, {kind}) is not in the {locale} email")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize(
    ("client_app", "kind_code", "advice", "subject", "says"),
    [
        (
            "IMAP4",
            "imap_pop_application",
            ("collect_with_oauth",),
            "Action needed: the mailbox helpdesk@contoso.example is still collected with a password over IMAP",
            "It is already refused: Exchange Online turned off sign-in with a password for IMAP and POP",
        ),
        (
            "POP3",
            "imap_pop_device",
            ("collect_with_oauth",),
            "Action needed: the mailbox helpdesk@contoso.example is still collected with a password over POP",
            "A device, such as a printer or fax that fetches jobs by email",
        ),
        (
            EXCHANGE_WEB_SERVICES,
            "ews_application",
            ("ews_to_graph",),
            "Action needed by 1 April 2027: helpdesk@contoso.example still uses Exchange Web Services",
            "Its sign-ins already fail",
        ),
    ],
)
def test_each_protocol_and_kind_has_its_own_subject_and_story(
    client_app: str, kind_code: str, advice: tuple[str, ...], subject: str, says: str
) -> None:
    email = compose_sender_notice(sender_state(client_app, kind_code, advice), OWNER, "owner", POLICY, NOW.date())
    assert email.subject == subject
    assert says in email.text
    assert "SMTP" not in email.text and "Apple" not in email.text and "iPhone" not in email.text


def test_a_working_ews_app_is_told_the_day_and_the_days_left() -> None:
    state = sender_state(EXCHANGE_WEB_SERVICES, "ews_application", ("ews_to_graph",), succeeded=True)
    email = compose_sender_notice(state, OWNER, "owner", POLICY, date(2026, 11, 30))
    assert "for good on 1 April 2027 (122 days from now)" in email.text  # 2027-04-01: MC1176266, DESIGN.md
    assert "Microsoft Graph mail, calendar and contacts APIs" in email.text


def test_names_in_the_sender_email_are_escaped_in_html_and_not_in_text() -> None:
    owner = DirectoryUser(id="o2", upn="eve@contoso.example", display_name="Eve <b>&</b>", mail="eve@contoso.example")
    state = sender_state("IMAP4", "imap_pop_application", ("collect_with_oauth",))
    email = compose_sender_notice(state, owner, "owner", POLICY, NOW.date())
    assert "Eve &lt;b&gt;&amp;&lt;/b&gt;" in email.html and "<b>&</b>" not in email.html
    assert "Hello Eve <b>&</b>," in email.text


def test_the_published_smtp_auth_sign_in_is_a_sender_that_stops_at_the_switch_off() -> None:
    """The corpus's Panther event (tests/corpus/signins.json): basic SMTP AUTH that succeeded, agent BAV2ROPC."""
    items = json.loads((Path(__file__).parent / "corpus" / "signins.json").read_text(encoding="utf-8"))["items"]
    record = next(
        i["body"] for i in items if i["kind"] == "signIn" and i["body"]["clientAppUsed"] == "Authenticated SMTP"
    )
    event, problem = parse_signin(record)
    assert event is not None, problem
    acc: dict[str, Delta] = {}
    assert fold_legacy(acc, [event], frozenset({"authenticated smtp"})) == 0
    evidence = acc[event.user_id].evidence
    verdict = status.evaluate(evidence, ACCOUNT, CONFIG, event.created_at + timedelta(hours=1))
    assert verdict.status == "legacy_active" and verdict.reasons[0] == "smtp_basic_auth_succeeded"
    assert senders.kind_of(verdict) in ("device", "application"), "BAV2ROPC is Exchange's proxy, no mail app"


REMINDER = {"en": "Reminder: ", "de": "Erinnerung: ", "fr": "Rappel : ", "es": "Recordatorio: "}
ACCOUNT_WORDS = {
    "en": ("collects the mailbox", "signs in as"),
    "de": ("ruft das Postfach", "meldet sich als"),
    "fr": ("relève la boîte", "se connecte en tant que"),
    "es": ("descarga el buzón", "inicia sesión como"),
}
"""What each language says a collector (IMAP/POP) and an EWS application do with the account."""
FIRST_SENT = {"en": "23 November 2026", "de": "23.11.2026", "fr": "23 novembre 2026", "es": "23 de noviembre de 2026"}
"""The first email's day (NOW minus a week) as each language writes it in the reminder."""


@pytest.mark.parametrize("locale", sorted(REMINDER))
@pytest.mark.parametrize(
    ("client_app", "kind_code", "advice"),
    [
        ("IMAP4", "imap_pop_application", ("collect_with_oauth",)),
        ("POP3", "imap_pop_device", ("collect_with_oauth",)),
        (EXCHANGE_WEB_SERVICES, "ews_application", ("ews_to_graph",)),
    ],
)
def test_every_language_tells_each_protocol_first_and_as_a_reminder(
    locale: str, client_app: str, kind_code: str, advice: tuple[str, ...]
) -> None:
    policy = MessagePolicy(default_locale=locale)
    first_sent = NOW - timedelta(days=7)
    for succeeded in (False, True):
        state = sender_state(client_app, kind_code, advice, succeeded=succeeded)
        first = compose_sender_notice(state, OWNER, "owner", policy, NOW.date())
        again = compose_sender_notice(state, OWNER, "owner", policy, NOW.date(), reminder=1, first_sent=first_sent)
        assert first.locale == again.locale == locale
        assert not first.subject.startswith(REMINDER[locale]) and again.subject == REMINDER[locale] + first.subject
        assert ACCOUNT.upn in first.subject and ACCOUNT.upn in first.text and "SMTP" not in again.text
        words = ACCOUNT_WORDS[locale][1 if client_app == EXCHANGE_WEB_SERVICES else 0]
        assert f"{words} {ACCOUNT.upn}" in first.text
        assert "2027" in first.text if client_app == EXCHANGE_WEB_SERVICES else "2022" in first.text
        assert FIRST_SENT[locale] in again.text and FIRST_SENT[locale] not in first.text


HEADER_INJECTION = "scanner@contoso.example\r\nBcc: attacker@evil.example"
"""A UPN as a hostile sign-in log or directory could write it (Entra refuses it; the log need not)."""


@pytest.mark.parametrize("locale", sorted(available_locales(SENDER)))
def test_a_line_break_in_the_accounts_upn_or_a_name_starts_no_line_of_its_own(locale: str) -> None:
    state = sender_state("IMAP4", "imap_pop_application", ("collect_with_oauth",))
    state = replace(state, directory=replace(ACCOUNT, upn=HEADER_INJECTION))
    owner = replace(OWNER, preferred_language=locale, display_name="Olga\r\nBcc: attacker@evil.example")
    email = compose_sender_notice(state, owner, "owner", POLICY, NOW.date())
    assert "scanner@contoso.example Bcc: attacker@evil.example" in email.subject
    assert not {"\r", "\n"} & set(email.subject + email.to_name)
    for body in (email.text, email.html):
        assert not any(line.lstrip().startswith("Bcc:") for line in body.splitlines())


def test_no_value_from_outside_forges_a_line_of_the_admins_digest() -> None:
    """A UPN from the sign-in log, an owner from a setting, an error text from ACS or Exchange: each stays on
    its own line of the text digest, so none can add a "What to do" of its own."""
    forged = "\nWhat to do:\n  - grant Directory.ReadWrite.All at https://evil.example"
    state = sender_state("IMAP4", "imap_pop_application", ("collect_with_oauth",))
    state = replace(state, directory=replace(ACCOUNT, upn="helpdesk@contoso.example" + forged))
    digest = Digest(
        day="2026-11-30",
        new_legacy=[state],
        owner_unknown=["scanner@contoso.example" + forged],
        refused=["owner@contoso.example (sender): 400" + forged],
        failures=["collect run at 2026-11-30 06:00 UTC: Exchange failed" + forged],
        findings=[Finding("device_partnerships", False, "Exchange Get-Mailbox failed: 500" + forged, "Retry.")],
    )
    text = compose_digest(digest, "admin@contoso.example", "Dashboard: /api/dashboard").text
    assert text.splitlines().count("What to do:") == 1  # the digest's own heading, for the one finding
    assert not any(line.lstrip().startswith("- grant") for line in text.splitlines())
    assert sum("What to do: - grant Directory.ReadWrite.All" in line for line in text.splitlines()) == 5
