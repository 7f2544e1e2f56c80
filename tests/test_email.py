"""The remediation email as the user reads it: escaped HTML, a plain-text part that stands alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.config import MessagePolicy
from core.records import DeviceRecord, DirectoryUser, Evidence, UserState, Verdict
from notify.compose import compose_remediation
from notify.eml import build_eml
from rules.advice import advice_for
from rules.user_agent import parse_user_agent
from tests.browser import chromium, screenshot_dir

SETTINGS = MessagePolicy(contact_line="Questions? Call the helpdesk on 555-0100.")


def legacy_user(display_name: str, user_agent: str) -> UserState:
    return UserState(
        user_id="u1",
        evidence=Evidence(
            upn="zoe@contoso.example",
            legacy_success=4,
            last_legacy_at=datetime(2026, 11, 19, 7, 30, tzinfo=UTC),
            user_agent=user_agent,
        ),
        verdict=Verdict("legacy_active", ("legacy_signin_succeeded",), advice_for(parse_user_agent(user_agent))),
        rule_version="1",
        status_since=datetime(2026, 11, 19, tzinfo=UTC),
        directory=DirectoryUser(
            id="u1", upn="zoe@contoso.example", display_name=display_name, mail="zoe@contoso.example"
        ),
    )


def test_display_names_with_markup_are_escaped_in_html_and_kept_in_text() -> None:
    email = compose_remediation(
        legacy_user("Zoë <script>alert(1)</script> & O'Brien", "Apple-iPhone14C2/2004.47"), SETTINGS
    )
    assert "<script>" not in email.html
    assert "Zoë &lt;script&gt;alert(1)&lt;/script&gt; &amp; O&#39;Brien" in email.html
    assert "Hello Zoë <script>alert(1)</script> & O'Brien," in email.text


def test_the_message_names_the_device_the_date_and_the_steps() -> None:
    email = compose_remediation(legacy_user("Zoë", "Apple-iPhone14C2/2004.47"), SETTINGS)
    # The model by its marketing name (issue 14), no build number, the date as an English reader writes it
    # (issue 15).
    assert email.subject == "Action needed: reconnect your work email on your iPhone 13 Pro"
    assert "Your iPhone 13 Pro (iOS 16.3) still signs in" in email.text
    assert "(last seen 19 November 2026)" in email.text
    assert "1. Open Settings > Mail > Accounts." in email.text
    assert "Apple Internet Accounts" in email.text
    assert email.text.rstrip().endswith("Questions? Call the helpdesk on 555-0100.")
    assert "{{" not in email.text and "{%" not in email.html
    assert email.to_address == "zoe@contoso.example"


def test_advice_codes_add_the_update_and_safari_steps() -> None:
    old = replace(
        legacy_user("Zoë", "Apple-iPhone8C1/1502.1"),
        verdict=Verdict("legacy_active", (), ("update_ios_first", "remove_and_readd")),
    )
    text = compose_remediation(old, SETTINGS).text
    assert "First update the device: Settings > General > Software Update." in text
    assert "Clear History and Website Data" not in text
    blocked = replace(
        old, verdict=Verdict("legacy_active", (), ("migration_blocked", "remove_and_readd", "clear_safari_data"))
    )
    email = compose_remediation(blocked, SETTINGS)
    assert "Clear History and Website Data" in email.text and "Clear History and Website Data" in email.html
    assert "Software Update" not in email.text


@pytest.mark.parametrize(
    ("agent", "place"),
    [
        ("Apple-iPhone9C3/1604.57", "1. Open Settings > Passwords & Accounts."),  # iOS 12.1.4
        ("Apple-iPhone12C1/1907.71", "1. Open Settings > Mail > Accounts."),  # iOS 15.6
        ("Apple-iPhone16C1/2201.7", "1. Open Settings > Apps > Mail > Mail Accounts."),  # iOS 18
        ("Apple-iPhone7C2/1306.69", "1. Open Settings > Passwords & Accounts."),  # iPhone 6 on iOS 9: updates to 12
    ],
)
def test_the_steps_start_where_the_accounts_are_on_that_version(agent: str, place: str) -> None:
    assert place in compose_remediation(legacy_user("Zoë", agent), SETTINGS).text


def test_a_device_that_cannot_reach_ios_12_is_told_what_works_instead() -> None:
    place = {
        "en": "Settings > Mail, Contacts, Calendars",
        "de": "Mail, Kontakte, Kalender",
        "fr": "Réglages > Mail, Contacts, Calendrier",
        "es": "Ajustes > Correo, contactos, calendarios",
    }
    for locale, language in (("en", "en-US"), ("de", "de-DE"), ("fr", "fr-FR"), ("es", "es-ES")):
        state = legacy_user("Zoë", "Apple-iPhone4C1/1306.69")  # iPhone 4s on iOS 9.3.2: it stops at 9.3.6
        assert state.directory is not None
        state = replace(state, directory=replace(state.directory, preferred_language=language))
        email = compose_remediation(state, SETTINGS)
        assert email.locale == locale and "iPhone 4s" in email.subject and "13F69" not in email.subject
        assert "iPhone 4s (iOS 9.3.2)" in email.text
        assert "https://outlook.office.com" in email.text and "https://outlook.office.com" in email.html
        assert place[locale] in email.text
        assert "iOS 12" in email.text  # why it cannot be fixed on this device, in the reader's language
        for update in ("Software Update", "Softwareupdate", "Mise à jour logicielle", "Actualización de software"):
            assert update not in email.text


def test_mac_mail_gets_the_internet_accounts_steps() -> None:
    email = compose_remediation(legacy_user("Zoë", "Apple-MacBook/2206.1"), SETTINGS)
    assert "System Settings > Internet Accounts" in email.text
    assert "Settings > Mail > Accounts" not in email.text
    ews = "Mac OS X/10.8.2 (12C2034); ExchangeWebServices/3.0 (157); Mail/6.2 (1499)"  # before macOS 13
    assert "System Preferences > Internet Accounts" in compose_remediation(legacy_user("Zoë", ews), SETTINGS).text


def test_an_unknown_device_still_gets_a_readable_message() -> None:
    email = compose_remediation(legacy_user("Zoë", ""), SETTINGS)
    assert email.subject == "Action needed: reconnect your work email on your mail app"
    assert email.text.startswith("Hello Zoë,\n\nA mail app on one of your devices still signs in")


def test_the_eml_has_both_parts() -> None:
    email = compose_remediation(legacy_user("Zoë", "Apple-iPhone14C2/2004.47"), SETTINGS)
    message = build_eml(
        "DoNotReply@contoso.example", email.to_address, email.to_name, email.subject, email.text, email.html, "op-1"
    )
    assert [part.get_content_type() for part in message.walk()] == ["multipart/alternative", "text/plain", "text/html"]


def restored_iphone_x(language: str) -> UserState:
    """An iPhone X (on sale from 2017-11-03) whose Exchange profile was first synced on 2016-10-23."""
    state = legacy_user("Zoë Schmidt", "Apple-iPhone10C3/1907.71")
    user = state.directory
    assert user is not None
    phone = DeviceRecord(
        "u1",
        "ABCDEF0123456789",
        friendly_name="iPhone X",
        device_type="iPhone",
        client_type="EAS",
        first_sync=datetime(2016, 10, 23, 9, 0, tzinfo=UTC),
        last_sync=datetime(2026, 11, 19, 7, 30, tzinfo=UTC),
    )
    return replace(
        state,
        devices=(phone,),
        directory=replace(user, preferred_language=language),
        verdict=Verdict("legacy_active", ("pre_ios12_profile",), ("remove_and_readd", "clear_safari_data")),
    )


def test_an_account_older_than_its_device_is_explained_in_the_readers_language() -> None:
    english = compose_remediation(restored_iphone_x("en-US"), MessagePolicy())
    assert english.subject == "Action needed: reconnect your work email on your iPhone X"
    assert (
        "This mail account was first set up on 23 October 2016, before your iPhone X came out: it came over "
        "from an older device in a backup" in english.text
    )
    assert "first synced" not in english.text
    german = compose_remediation(restored_iphone_x("de-DE"), MessagePolicy())
    assert "Dieses Mailkonto wurde zuerst am 23.10.2016 eingerichtet, bevor es Ihr iPhone X gab" in german.text
    french = compose_remediation(restored_iphone_x("fr-FR"), MessagePolicy())
    assert french.subject == "Action requise : reconnectez votre messagerie professionnelle sur votre iPhone X"
    assert "configuré pour la première fois le 23 octobre 2016, avant la sortie de votre iPhone X" in french.text
    spanish = compose_remediation(restored_iphone_x("es-ES"), MessagePolicy())
    assert "se configuró por primera vez el 23 de octubre de 2016, antes de que saliera su iPhone X" in spanish.text


@pytest.mark.parametrize("language", ["de-DE", "fr-FR", "es-ES"])
def test_a_translation_has_no_english_line_left(language: str) -> None:
    """Every visible line differs from the English one: device label, dates and contact line included."""
    for state in (restored_iphone_x(language), legacy_user("Zoë", "Apple-iPhone14C2/2004.47")):
        user = state.directory
        assert user is not None
        local = compose_remediation(
            replace(state, directory=replace(user, preferred_language=language)), MessagePolicy()
        )
        english = compose_remediation(replace(state, directory=replace(user, preferred_language="en")), MessagePolicy())
        shared = {line for line in local.text.splitlines() if line.strip()} & set(english.text.splitlines())
        assert shared == set()
        assert local.html.count("<li") == english.html.count("<li")


@pytest.mark.integration  # a real browser
def test_the_html_email_on_a_phone_in_four_languages(tmp_path: Path) -> None:
    """English, German, French and Spanish on a phone; LAM_SCREENSHOT_DIR=docs refreshes docs/."""
    docs = screenshot_dir(tmp_path)
    for locale, language, size in (
        ("en", "en-US", "390,1380"),
        ("de", "de-DE", "390,1460"),
        ("fr", "fr-FR", "390,1500"),
        ("es", "es-ES", "390,1500"),
    ):
        email = compose_remediation(restored_iphone_x(language), MessagePolicy())  # the default, local contact line
        assert email.locale == locale
        page = docs / f"email-{locale}.html"
        page.write_text(email.html, encoding="utf-8")
        target = docs / f"email-{locale}.png"
        chromium(f"--screenshot={target.resolve()}", f"--window-size={size}", page.resolve().as_uri())
        page.unlink()
        assert target.stat().st_size > 10_000
