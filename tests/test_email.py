"""The remediation email as the user reads it: escaped HTML, a plain-text part that stands alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.config import MessagePolicy
from core.records import DirectoryUser, Evidence, UserState, Verdict
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
    assert email.subject == "Action needed: reconnect your work email on iPhone 13 Pro (iOS 16.3, build 20D47)"
    assert "last seen 2026-11-19" in email.text
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
    for locale, language in (("en", "en-US"), ("de", "de-DE")):
        state = legacy_user("Zoë", "Apple-iPhone4C1/1306.69")  # iPhone 4s on iOS 9.3.2: it stops at 9.3.6
        assert state.directory is not None
        state = replace(state, directory=replace(state.directory, preferred_language=language))
        email = compose_remediation(state, SETTINGS)
        assert email.locale == locale and "iPhone 4s (iOS 9.3.2, build 13F69)" in email.subject
        assert "https://outlook.office.com" in email.text and "https://outlook.office.com" in email.html
        assert ("Settings > Mail, Contacts, Calendars" if locale == "en" else "Mail, Kontakte, Kalender") in email.text
        assert "Software Update" not in email.text and "Softwareupdate" not in email.text


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


@pytest.mark.integration  # a real browser
def test_the_html_email_on_a_phone_and_a_desktop(tmp_path: Path) -> None:
    """The same verdict in English (desktop) and German (phone); LAM_SCREENSHOT_DIR=docs refreshes docs/."""
    docs = screenshot_dir(tmp_path)
    for locale, language, size in (("en", "en-US", "1024,1100"), ("de", "de-DE", "390,1500")):
        state = legacy_user("Zoë Schmidt", "Apple-iPhone12C1/1907.71")
        user = state.directory
        assert user is not None
        state = replace(
            state,
            directory=replace(user, preferred_language=language),
            verdict=Verdict("legacy_active", (), ("migration_blocked", "remove_and_readd", "clear_safari_data")),
        )
        email = compose_remediation(state, SETTINGS)
        assert email.locale == locale
        page = docs / f"email-{locale}.html"
        page.write_text(email.html, encoding="utf-8")
        target = docs / f"email-{locale}.png"
        chromium(f"--screenshot={target}", f"--window-size={size}", page.as_uri())
        page.unlink()
        assert target.stat().st_size > 10_000
