"""Shared and resource mailboxes, the Exchange switches and the progress since the first run: the pure parts.

What the switch values mean is Microsoft's cmdlet reference (MicrosoftDocs/office-docs-powershell,
exchange/exchange-ps/exchange/Set-CASMailbox.md: SmtpClientAuthenticationDisabled $true disabled, $false
enabled, blank ($null) "controlled by the corresponding SmtpClientAuthenticationDisabled parameter on the
Set-TransportConfig cmdlet"; Set-OrganizationConfig.md: EwsEnabled $true, $false, $null "isn't configured").
The RecipientTypeDetails names are those Get-Mailbox documents (Get-Mailbox.md, -RecipientTypeDetails).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collectors.devices import mailbox_type
from collectors.switches import MailboxSwitches
from core.config import RuleConfig
from core.findings import ExchangeSwitches, Finding, RetirementBaseline
from core.records import DirectoryUser, Evidence, UserState, Verdict
from rules import recipients, senders, status
from rules.retirements import affected_accounts, baseline_of, retirement_findings
from rules.switches import switch_findings

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CONFIG = RuleConfig()
SMTP = ("Authenticated SMTP",)
SCANS = DirectoryUser(id="s1", upn="scans@contoso.example", display_name="Scans", mail="scans@contoso.example")


def scanner(agent: str = "") -> Evidence:
    """Twelve successful submissions, one an hour, from one office network."""
    return Evidence(
        upn=SCANS.upn,
        legacy_success=12,
        protocols={"Authenticated SMTP": 12},
        first_legacy_at=NOW - timedelta(hours=12),
        last_legacy_at=NOW - timedelta(hours=1),
        last_success_at=NOW - timedelta(hours=1),
        agents={agent or "(none)": 12},
        networks={"198.51.100.0/24": 12},
        hours={f"2026-11-20T{h:02d}": 1 for h in range(12)},
    )


def state(evidence: Evidence, verdict: Verdict, user_id: str = "s1", told: int = 0) -> UserState:
    return UserState(user_id, evidence, verdict, "v", NOW, SCANS, notified_count=told)


def test_a_shared_mailbox_is_its_own_kind_and_keeps_what_sends_with_it() -> None:
    verdict = status.evaluate(scanner(), SCANS, CONFIG, NOW, mailbox_type="SharedMailbox")
    assert verdict == Verdict(
        "legacy_active",
        ("smtp_basic_auth_succeeded", "smtp_sender_shared_mailbox", "smtp_sender_device"),
        ("smtp_device_ways_out", "smtp_app_ways_out"),
    )
    assert (senders.kind_of(verdict), senders.wording_kind(verdict)) == ("shared", "device")
    plain = status.evaluate(scanner(), SCANS, CONFIG, NOW)
    assert plain.reasons == ("smtp_basic_auth_succeeded", "smtp_sender_device"), "a user's own mailbox: unchanged"
    room = status.evaluate(scanner(), SCANS, CONFIG, NOW, mailbox_type="RoomMailbox")
    assert senders.kind_of(room) == "shared"
    assert senders.kind_of(status.evaluate(scanner(), SCANS, CONFIG, NOW, mailbox_type="UserMailbox")) == "device"


def test_a_shared_mailbox_used_by_a_mail_app_is_never_its_own_recipient() -> None:
    """A mail app's agent makes a person, who is told about their own app; on a shared mailbox nobody reads
    the account's mail, so without an owner or a manager nobody is mailed and the digest lists it."""
    agent = "Android/4.4.2-EAS-1.3"  # tests/corpus/user_agents.csv (horde ActiveSync DeviceTest.php)
    as_user = status.evaluate(scanner(agent), SCANS, CONFIG, NOW)
    assert recipients.recipient_for(state(scanner(agent), as_user), {}).role == "user"
    shared = status.evaluate(scanner(agent), SCANS, CONFIG, NOW, mailbox_type="SharedMailbox")
    assert shared.reasons[1:] == ("smtp_sender_shared_mailbox", "smtp_sender_mail_app")
    assert senders.wording_kind(shared) == "application", "no 'a mail app of yours' to someone else"
    assert recipients.recipient_for(state(scanner(agent), shared), {}).role == "unknown"
    owner = recipients.recipient_for(state(scanner(agent), shared), {"scans@contoso.example": "it@contoso.example"})
    assert (owner.role, owner.who and owner.who.mail) == ("owner", "it@contoso.example")


def test_a_spray_on_a_shared_mailbox_stays_an_attack() -> None:
    sprayed = Evidence(
        upn=SCANS.upn,
        legacy_failure=4,
        protocols={"Authenticated SMTP": 4},
        last_legacy_at=NOW - timedelta(hours=1),
        credential_failures=4,
        spray_failures=4,
        networks={"192.0.2.0/24": 4},
    )
    verdict = status.evaluate(sprayed, SCANS, CONFIG, NOW, mailbox_type="SharedMailbox")
    assert (verdict.status, verdict.reasons) == ("attack_suspected", ("smtp_password_spray",))


def test_a_get_mailbox_object_is_trusted_only_with_an_object_id_and_a_type_name() -> None:
    good = {
        "ExternalDirectoryObjectId": "2a1faf15-c06d-42d9-b442-7755d3d2f5cf",
        "RecipientTypeDetails": "SharedMailbox",
    }
    assert mailbox_type(good) == ("SharedMailbox", "")
    assert mailbox_type({**good, "ExternalDirectoryObjectId": ""}) == ("", "mailbox_without_object_id")
    assert mailbox_type({**good, "ExternalDirectoryObjectId": "x' or 1 eq 1"}) == ("", "mailbox_without_object_id")
    assert mailbox_type({**good, "RecipientTypeDetails": 4}) == ("", "mailbox_type_unreadable")
    assert mailbox_type({**good, "RecipientTypeDetails": "Shared" * 20}) == ("", "mailbox_type_unreadable")
    assert mailbox_type({**good, "RecipientTypeDetails": "<script>"}) == ("", "mailbox_type_unreadable")


def findings_by_name(
    switches: ExchangeSwitches | None, on: bool = True, watched: tuple[str, ...] = SMTP
) -> dict[str, Finding]:
    return {f.name: f for f in switch_findings(switches, on, watched)}


def test_the_switches_are_not_guessed_when_the_exchange_collector_is_off() -> None:
    off = findings_by_name(None, on=False)
    assert list(off) == ["exchange_switches"]
    assert off["exchange_switches"].summary == "Switches not read: Exchange collector off (LAM_COLLECT_DEVICES)."
    assert not off["exchange_switches"].ok
    refused = findings_by_name(ExchangeSwitches(readable=False, problem="Exchange refused Get-TransportConfig (403)"))
    assert refused["exchange_switches"].summary == "Switches not read: Exchange refused Get-TransportConfig (403)"
    assert findings_by_name(None, watched=("Exchange ActiveSync",)) == {}, "no switch for a protocol not watched"


def test_the_org_switch_and_the_mailboxes_that_override_it() -> None:
    found = findings_by_name(
        ExchangeSwitches(
            readable=True,
            org_smtp_auth_disabled=False,
            senders_checked=4,
            smtp_enabled=("scanner@contoso.example",),
            smtp_enabled_count=1,
            smtp_disabled_count=1,
            skipped=1,
        )
    )
    org, exempt = found["smtp_auth_org_switch"], found["smtp_auth_mailbox_exemptions"]
    assert (org.ok, org.severity) == (False, "medium")
    assert org.summary.startswith("SMTP AUTH is still enabled org-wide (Get-TransportConfig")
    assert "Set-TransportConfig -SmtpClientAuthenticationDisabled $true" in org.action
    assert not exempt.ok
    assert exempt.summary.startswith(
        "1 of the 4 sender mailbox(es) checked have SMTP AUTH explicitly enabled (Set-CASMailbox "
        "-SmtpClientAuthenticationDisabled $false: scanner@contoso.example); 1 could not be read."
    )
    assert "it has not said whether basic SMTP AUTH keeps working" in exempt.summary
    closed = findings_by_name(ExchangeSwitches(readable=True, org_smtp_auth_disabled=True, senders_checked=2))
    assert closed["smtp_auth_org_switch"].ok and closed["smtp_auth_mailbox_exemptions"].ok
    assert closed["smtp_auth_mailbox_exemptions"].summary == (
        "None of the 2 sender mailbox(es) checked has SMTP AUTH explicitly enabled."
    )


def test_the_ews_switch_follows_the_organization_setting() -> None:
    watched = ("Exchange Web Services",)
    blank = findings_by_name(ExchangeSwitches(readable=True), watched=watched)["ews_org_switch"]
    assert not blank.ok and "EwsEnabled blank" in blank.summary and "2026-10-01" in blank.summary
    kept = findings_by_name(ExchangeSwitches(readable=True, org_ews_enabled=True), watched=watched)["ews_org_switch"]
    assert not kept.ok and "EwsEnabled $true" in kept.summary
    off = findings_by_name(ExchangeSwitches(readable=True, org_ews_enabled=False), watched=watched)["ews_org_switch"]
    assert off.ok
    counted = ExchangeSwitches(readable=True, ews_checked=2, ews_disabled_count=1)
    assert findings_by_name(counted, watched=watched)["ews_org_switch"].summary.endswith(
        "Of the 2 account(s) that signed in over EWS in the last 30 days, 1 have EWS turned off on their mailbox "
        "(Set-CASMailbox -EwsEnabled $false)."
    )


def sender(user_id: str, last_success: datetime | None, status_: str = "legacy_active") -> UserState:
    evidence = Evidence(
        upn=f"{user_id}@contoso.example",
        legacy_success=3,
        protocols={"Authenticated SMTP": 3},
        last_legacy_at=last_success,
        last_success_at=last_success,
        networks={"198.51.100.0/24": 3},
    )
    verdict = Verdict(status_, ("smtp_basic_auth_succeeded", "smtp_sender_device"))  # type: ignore[arg-type]
    return UserState(user_id, evidence, verdict, "v", NOW)


def test_the_retirement_finding_counts_progress_since_the_first_run() -> None:
    first = [sender("a", NOW - timedelta(hours=1)), sender("b", NOW - timedelta(hours=2))]
    baseline = baseline_of(affected_accounts(first, NOW, SMTP), NOW)
    assert baseline.accounts == {"retirement_authenticated_smtp": 2}
    later = NOW + timedelta(days=5)
    now_states = [sender("a", later - timedelta(hours=1)), sender("b", NOW, "remediated"), sender("c", later)]
    (finding,) = retirement_findings(now_states, later, SMTP, baseline)
    assert finding.summary.endswith("Since the first run on 2026-11-20: 2 account(s) then, 2 now, 1 fixed.")
    (before_any,) = retirement_findings(now_states, later, SMTP, None)
    assert "Since the first run" not in before_any.summary
    capped = RetirementBaseline(NOW, {"retirement_authenticated_smtp": 900}, {"retirement_authenticated_smtp": ("b",)})
    (partial,) = retirement_findings(now_states, later, SMTP, capped)
    assert partial.summary.endswith("900 account(s) then, 2 now, at least 1 fixed.")


def test_a_sender_told_and_quiet_is_not_fixed_until_its_quiet_period_has_passed() -> None:
    """Told, and no basic submission since: pending_verification still breaks at the switch-off if the owner
    did nothing and the device just sends rarely; only remediated counts as fixed."""
    first = [sender("a", NOW - timedelta(hours=1)), sender("b", NOW - timedelta(hours=2))]
    baseline = baseline_of(affected_accounts(first, NOW, SMTP), NOW)
    later = NOW + timedelta(hours=6)
    waiting = [sender("a", NOW - timedelta(hours=1), "pending_verification"), sender("b", NOW, "remediated")]
    (finding,) = retirement_findings(waiting, later, SMTP, baseline)
    assert "1 sender(s) in 1 account(s)" in finding.summary and not finding.ok
    assert finding.summary.endswith("2 account(s) then, 1 now, 1 fixed.")


def test_the_exchange_corpus_reads_as_its_sources_state() -> None:
    """tests/corpus/exchange.json: each Get-CASMailbox answer tallies as its source says; each Get-Mailbox
    object yields the type its source states."""
    corpus = json.loads((Path(__file__).parent / "corpus" / "exchange.json").read_text())
    words = {None: "blank", False: "enabled", True: "disabled"}
    for item in corpus["items"]:
        assert item["source"] and item["kind"] in ("captured", "documented"), item
        body, expect = item["body"], item["expect"]
        if item["cmdlet"] == "Get-CASMailbox":
            tally = MailboxSwitches()
            tally.add(body["PrimarySmtpAddress"], body, smtp=True, ews=True)
            smtp = "enabled" if tally.smtp_enabled else "disabled" if tally.smtp_disabled else "blank"
            ews = "disabled" if tally.ews_disabled else "not disabled"
            assert (smtp, ews, tally.skipped) == (expect["smtp"], expect["ews"], 0), item["source"]
            assert words[body.get("SmtpClientAuthenticationDisabled")] == expect["smtp"], item["source"]
        else:
            assert mailbox_type(body) == (expect["type"], ""), item["source"]
    assert [i["kind"] for i in corpus["items"]].count("captured") >= 1


def test_a_mailbox_answer_with_an_odd_switch_is_skipped_not_guessed() -> None:
    tally = MailboxSwitches()
    tally.add("a@contoso.example", {"SmtpClientAuthenticationDisabled": "False"}, smtp=True, ews=False)
    tally.add("b@contoso.example", {"EwsEnabled": 0}, smtp=False, ews=True)
    tally.add("c@contoso.example", {"SmtpClientAuthenticationDisabled": False}, smtp=True, ews=False)
    assert (tally.skipped, tally.smtp_checked, tally.smtp_enabled, tally.ews_checked) == (
        2,
        1,
        ["c@contoso.example"],
        0,
    )
