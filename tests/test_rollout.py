"""Emails through a real rollout: a pilot that spends nothing, failures that heal, every held mail counted.

ACS answers used below are the service's own, as found in the field:
- 401 "Denied" / "Denied by the resource provider." for a wrong access key: the simulator verifies the
  HMAC signature as ACS does and answers Denied (issue hafael/azure-mailer-driver#12 shows the same code
  and message from the real service).
- "EmailDroppedAllRecipientsSuppressed": "Email was dropped because all recipients were suppressed. ..."
  (Azure/azure-sdk-for-js#25353, the error ACS returns for a suppressed recipient).
- 503 "ServiceUnavailable" after the SDK's own retries: a transient failure.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from core.findings import DeviceFinding, SenderSetup, TenantSnapshot
from core.ledger import LedgerEntry
from core.records import AppleAppStatus, ConsentPolicy
from core.runs import RunRecord
from devstack.asgi_server import AsgiServer
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from notify.senders import classify_refusal
from pipeline.admin import admin_app
from pipeline.cycle import FULL_CYCLE, StepFailedError, notify_step, run_with_settings
from pipeline.settings import Settings
from pipeline.wiring import StateTables
from rules.readiness import sender_finding, tenant_findings
from sim.scenario import Scenario
from tests.conftest import NOW, notify_figures, outbox_messages, sim_env, sim_settings
from tests.scenarios import add_user, legacy_signins, new_id, tenant

StartSim = Callable[[Scenario], SimServer]
ROOT = Path(__file__).resolve().parent.parent
SUPPRESSED = {
    "status": 400,
    "code": "EmailDroppedAllRecipientsSuppressed",
    "message": "Email was dropped because all recipients were suppressed. You will get a dropped event for "
    "each suppresssed recipient through event grid or Azure monitoring.",
}


def three_users(tenant_id: str, now: datetime = NOW) -> Scenario:
    scenario = tenant(tenant_id)
    for name in ("alice", "bob", "carol"):
        legacy_signins(scenario, add_user(scenario, name), now - timedelta(hours=1), 3)
    return scenario


UNAVAILABLE = {"status": 503, "code": "ServiceUnavailable", "message": "down", "retry_after": 0}


def alice_and_a_send_fault(
    tenant_id: str, start_sim: StartSim, azurite: Azurite, fault: dict[str, object], **env: str
) -> tuple[Scenario, SimServer, Settings]:
    """Alice on legacy EAS, and ACS answering every send (or the first ``times``) with ``fault``."""
    scenario = tenant(tenant_id)
    legacy_signins(scenario, add_user(scenario, "alice"), NOW - timedelta(hours=1), 3)
    scenario.faults["emails:send"] = dict(fault)
    sim = start_sim(scenario)
    return scenario, sim, sim_settings(sim, azurite, **env)


def run(settings: Settings, when: datetime, steps: list | None = None) -> list[RunRecord]:  # type: ignore[type-arg]
    return asyncio.run(run_with_settings(settings, steps or [notify_step], when))


def failing(settings: Settings, when: datetime, steps: list | None = None) -> tuple[str, RunRecord]:  # type: ignore[type-arg]
    with pytest.raises(StepFailedError) as info:
        run(settings, when, steps)
    return str(info.value), StateTables.open(settings).runs.recent(1, "notify")[0]


def sent_to(sim: SimServer) -> Counter[str]:
    return Counter(s["to"] for s in sim.state.sent)


def dashboard_html(settings: Settings) -> str:
    server = AsgiServer(admin_app(lambda: settings), name="dashboard").start()
    try:
        response = httpx.get(f"{server.url}/api/dashboard", timeout=30)
    finally:
        server.stop()
    assert response.status_code == 200
    return response.text


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LAM_")}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_pilot_then_going_live_sends_every_user_their_first_email(
    tenant_id: str, start_sim: StartSim, azurite: Azurite, tmp_path: Path
) -> None:
    sim = start_sim(three_users(tenant_id))
    pilot = sim_settings(sim, azurite, LAM_NOTIFY_MODE="dry-run", LAM_OUTBOX_DIR=str(tmp_path / "pilot"))
    live = sim_settings(sim, azurite)
    first = run(pilot, NOW, FULL_CYCLE)[-1]
    second = run(pilot, NOW + timedelta(days=4))[-1]  # past the first reminder's day: still no reminder
    assert notify_figures(first).rendered == 3 and first.emails == 0
    assert first.message.startswith("dry-run: would send 3, sent 0 (remediation 3)")
    assert notify_figures(second).rendered == 0, "a pilot renders each message once"
    assert [m["Subject"].startswith("Reminder") for m in outbox_messages(tmp_path / "pilot")] == [False] * 3
    tables = StateTables.open(live)
    (sender,) = [f for f in tables.findings() if f.name == "sender_domain"]
    assert sender.ok and sender.summary == "User emails come from your own domain contoso.example."
    assert [s.notified_count for s in tables.users.load_all().values()] == [0, 0, 0], "cadence untouched"

    going_live = run(live, NOW + timedelta(days=5))[-1]
    assert going_live.emails == 3 and going_live.message == "sent 3 (remediation 3)"
    received = outbox_messages(sim.state.outbox)
    assert sorted(m["To"] for m in received) == [
        "Alice <alice@contoso.example>",
        "Bob <bob@contoso.example>",
        "Carol <carol@contoso.example>",
    ]
    assert not any(m["Subject"].startswith("Reminder") for m in received), "the first real email is the first"
    # Each user's timestamp is the moment their own mail went out, as the ledger has it.
    states = tables.users.load_all()
    rows = {e.user_id: e for e in tables.ledger.all()}
    for user_id, state in states.items():
        assert state.notified_count == 1 and state.last_notified_at == rows[user_id].created_at
        completed = rows[user_id].completed_at
        assert completed is not None and completed >= rows[user_id].created_at
    assert len({s.last_notified_at for s in states.values()}) == 3

    # Back to the pilot, then live again: the reminder is rendered once, then sent once, as a reminder.
    run(pilot, NOW + timedelta(days=9))
    assert sum(sent_to(sim).values()) == 3
    run(live, NOW + timedelta(days=9, hours=1))
    assert sent_to(sim) == Counter({f"{n}@contoso.example": 2 for n in ("alice", "bob", "carol")})
    assert [m["Subject"].startswith("Reminder: ") for m in outbox_messages(sim.state.outbox)][3:] == [True] * 3


def test_going_live_on_a_pilot_of_the_earlier_version_starts_at_the_first_email(
    tenant_id: str, start_sim: StartSim, azurite: Azurite, tmp_path: Path
) -> None:
    """The earlier version counted a dry-run as the user's first message (notified_count 1, ledger "dry-run")."""
    sim = start_sim(three_users(tenant_id))
    pilot = sim_settings(sim, azurite, LAM_NOTIFY_MODE="dry-run", LAM_OUTBOX_DIR=str(tmp_path / "pilot"))
    run(pilot, NOW, FULL_CYCLE)
    users = StateTables.open(pilot).users
    before = users.load_all()
    as_left = [replace(s, notified_count=1, first_notified_at=NOW, last_notified_at=NOW) for s in before.values()]
    users.save_changed(as_left, before)
    run(sim_settings(sim, azurite), NOW + timedelta(days=4))  # past the first reminder's day
    assert sent_to(sim) == Counter({f"{n}@contoso.example": 1 for n in ("alice", "bob", "carol")})
    assert not any(m["Subject"].startswith("Reminder") for m in outbox_messages(sim.state.outbox))
    assert {s.notified_count for s in users.load_all().values()} == {1}


def test_a_rejected_key_then_a_fixed_key_mails_everyone_exactly_once(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = three_users(tenant_id)
    sim = start_sim(scenario)
    wrong = sim_settings(sim, azurite, LAM_ACS_KEY="d3Jvbmcta2V5")
    with pytest.raises(StepFailedError, match=r"ACS refuses our sender DoNotReply@contoso\.example: ACS answered 401"):
        run(wrong, NOW, FULL_CYCLE)
    (refused,) = StateTables.open(wrong).ledger.all()  # one refusal, not one per user
    assert refused.state == "refused" and "Denied" in refused.error
    record = StateTables.open(wrong).runs.recent(1, "notify")[0]
    assert record.outcome == "failed"
    assert "held 2 (sender refused)" in record.message and "held 1 (permanent failure)" in record.message

    fixed = sim_settings(sim, azurite)
    healed = run(fixed, NOW + timedelta(minutes=30))[-1]
    assert healed.emails == 2 and f"held 1 (permanent failure): {refused.recipient}" in healed.message
    dashboard = dashboard_html(fixed)
    assert "User emails come from your own domain contoso.example." in dashboard  # the sender finding
    assert "1 refused: fix the cause, then python -m cli notify --retry-failed</summary>" in dashboard
    assert f"{refused.recipient}: remediation (en): ACS refuses our sender" in dashboard
    assert "held 1 (permanent failure)" in dashboard.split('id="last-notify"')[1].split("</p>")[0]
    listing = cli("notify", env=sim_env(sim, azurite))
    assert listing.returncode == 0, listing.stderr
    assert "1 refused: fix the cause" in listing.stdout and f"{refused.recipient} remediation (en)" in listing.stdout
    requeued = cli("notify", "--retry-failed", env=sim_env(sim, azurite))
    assert requeued.stdout.startswith("1 email(s) requeued"), requeued.stderr
    run(fixed, NOW + timedelta(hours=1))
    run(fixed, NOW + timedelta(hours=2))
    assert sent_to(sim) == Counter({f"{n}@contoso.example": 1 for n in ("alice", "bob", "carol")})
    assert {s.notified_count for s in StateTables.open(fixed).users.load_all().values()} == {1}


def test_a_permanent_recipient_rejection_is_shown_and_never_retried_blindly(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    _, sim, settings = alice_and_a_send_fault(
        tenant_id, start_sim, azurite, {**SUPPRESSED, "times": 1}, LAM_DIGEST_RECIPIENTS="it-admin@contoso.example"
    )
    message, record = failing(settings, NOW, FULL_CYCLE)
    assert "ACS refused the recipient alice@contoso.example: ACS answered 400 EmailDroppedAllRecipientsSuppressed" in (
        message
    )
    assert notify_figures(record).refused == 1
    for hours in (1, 24, 72):  # the service would take it now: still never sent without the admin
        later = run(settings, NOW + timedelta(hours=hours))[-1]
        assert later.outcome == "succeeded" and "held 1 (permanent failure): alice@contoso.example" in later.message
    assert sim.state.sent == []
    from pipeline.cycle import digest_step

    run(settings, NOW + timedelta(hours=2), [digest_step])
    (digest,) = [m for m in outbox_messages(sim.state.outbox) if m["To"] == "it-admin@contoso.example"]
    body = digest.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Emails refused, waiting for you (fix the cause, then `python -m cli notify --retry-failed`):" in text
    assert "  - alice@contoso.example (remediation): ACS refused the recipient" in text
    assert "Held: 1 permanent failure" in text


def test_a_transient_503_beyond_the_sdks_retries_is_retried_later_with_backoff(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario, sim, settings = alice_and_a_send_fault(
        tenant_id, start_sim, azurite, UNAVAILABLE, LAM_GRAPH_MAX_RETRIES="1"
    )
    message, _ = failing(settings, NOW, FULL_CYCLE)
    assert "ACS failed the send to alice@contoso.example: ACS answered 503 ServiceUnavailable" in message
    (entry,) = StateTables.open(settings).ledger.all()
    assert entry.completed_at is not None
    assert (entry.state, entry.attempts, entry.retry_at) == ("failed", 1, entry.completed_at + timedelta(minutes=30))
    del scenario.faults["emails:send"]
    early = run(settings, NOW + timedelta(minutes=10))[-1]
    assert sim.state.sent == [] and "held 1 (failed, retried later)" in early.message
    run(settings, NOW + timedelta(minutes=45))
    assert sent_to(sim) == Counter({"alice@contoso.example": 1})


def test_a_failure_that_never_heals_becomes_refused_after_the_bound(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    _, sim, settings = alice_and_a_send_fault(tenant_id, start_sim, azurite, UNAVAILABLE, LAM_GRAPH_MAX_RETRIES="0")
    for day in range(5):
        failing(settings, NOW + timedelta(days=day), FULL_CYCLE if day == 0 else None)
    (entry,) = StateTables.open(settings).ledger.all()
    assert entry.state == "refused" and entry.error.startswith("gave up after 5 attempts: ACS failed the send")
    later = run(settings, NOW + timedelta(days=6))[-1]
    assert later.outcome == "succeeded" and sim.state.requests["emails:send"] == 5


def test_two_overlapping_runs_after_throttling_mail_each_user_once(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    """A manual run during the timer: both read the throttled rows; the ETag lets one take each up."""
    scenario = tenant(tenant_id)
    people = [add_user(scenario, f"user{i}") for i in range(12)]
    for person in people:
        legacy_signins(scenario, person, NOW - timedelta(hours=1), 3)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    run(settings, NOW, FULL_CYCLE[:-1])  # everything but the notify step
    ledger = StateTables.open(settings).ledger
    for person in people:
        ledger.begin(LedgerEntry(person["id"], "remediation-1", new_id(), "throttled", "remediation", "en", "x", NOW))

    async def overlapping() -> None:
        await asyncio.gather(*(run_with_settings(settings, [notify_step], NOW + timedelta(hours=1)) for _ in range(2)))

    asyncio.run(overlapping())
    assert sent_to(sim) == Counter({f"user{i}@contoso.example": 1 for i in range(12)})
    assert {e.state for e in ledger.all()} == {"sent"}


def test_one_bad_recipient_in_a_dry_run_is_skipped_and_the_rest_go(
    tenant_id: str, start_sim: StartSim, azurite: Azurite, tmp_path: Path
) -> None:
    scenario = tenant(tenant_id)
    legacy_signins(scenario, add_user(scenario, "alice"), NOW - timedelta(hours=1), 3)
    eve = add_user(scenario, "eve")
    eve["displayName"] = "Eve\r\nBcc: attacker@evil.example"
    legacy_signins(scenario, eve, NOW - timedelta(hours=2), 3)
    jurgen = add_user(scenario, "juergen", mail="jürgen.müller@contoso.example")
    legacy_signins(scenario, jurgen, NOW - timedelta(hours=3), 3)
    sim = start_sim(scenario)
    pilot = sim_settings(sim, azurite, LAM_NOTIFY_MODE="dry-run", LAM_OUTBOX_DIR=str(tmp_path / "pilot"))
    record = run(pilot, NOW, FULL_CYCLE)[-1]
    assert record.outcome == "succeeded" and notify_figures(record).rendered == 3
    import email
    from email import policy

    received = [
        email.message_from_string(p.read_text("utf-8"), policy=policy.default)
        for p in sorted((tmp_path / "pilot").glob("*.eml"))
    ]
    assert sorted(str(m["To"]) for m in received) == [
        '"Eve Bcc: attacker@evil.example" <eve@contoso.example>',
        "Alice <alice@contoso.example>",
        "Juergen <jürgen.müller@contoso.example>",
    ]
    assert all(m["Bcc"] is None for m in received)


def test_budget_carry_over_is_in_the_run_output(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    from core.clock import utcnow

    sim = start_sim(three_users(tenant_id, utcnow()))
    result = cli("run", "--once", env={**sim_env(sim, azurite), "LAM_SEND_PER_HOUR": "2"})
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("notify"))
    (waiting,) = {"alice@contoso.example", "bob@contoso.example", "carol@contoso.example"} - set(sent_to(sim))
    assert f"emails=2 sent 2 (remediation 2); held 1 (hourly send budget): {waiting}; " in line
    assert line.endswith("1 carried over to the next run")


def test_requeue_is_conditional_too(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    sim = start_sim(tenant(tenant_id))
    ledger = StateTables.open(sim_settings(sim, azurite)).ledger
    started = ledger.begin(LedgerEntry("u1", "remediation-1", new_id(), "sending", "remediation", "en", "x", NOW))
    ledger.complete(replace(started, state="refused", error="Denied"))
    assert [e.state for e in ledger.requeue_failed()] == ["not_sent"]
    assert ledger.requeue_failed() == []


@pytest.mark.parametrize(
    ("status", "code", "message", "kind"),
    [
        # hafael/azure-mailer-driver#12: a wrong resource or key, "(Denied): Denied by the resource provider."
        (401, "Denied", "Denied by the resource provider.", "sender"),
        # MicrosoftDocs/azure-docs#123379: a MailFrom domain not connected to the resource answers
        # "The specified sender domain has not been linked." (over SMTP, 5.1.7); public write-ups quote the
        # REST form as "DomainNotLinked: The specified sender domain has not been linked." (the search
        # index did not name their repository, so only the message is cited as field truth here)
        (None, "DomainNotLinked", "The specified sender domain has not been linked.", "sender"),
        # Azure/azure-sdk-for-js#25353: error.code EmailDroppedAllRecipientsSuppressed for a suppressed address
        (
            None,
            "EmailDroppedAllRecipientsSuppressed",
            "Email was dropped because all recipients were suppressed.",
            "recipient",
        ),
        (400, "BadRequest", "invalid message: recipients.to", "recipient"),
        (429, "TooManyRequests", "quota", "throttled"),
        (503, "ServiceUnavailable", "down", "transient"),
        (500, "", "", "transient"),
        (None, "", "no status: the connection was reset", "transient"),
        (500, "", "a recipient-looking word in a 5xx message is still transient: recipient", "transient"),
    ],
)
def test_acs_refusals_are_told_apart(status: int | None, code: str, message: str, kind: str) -> None:
    assert classify_refusal(status, code) == kind, message


def test_an_azure_managed_sender_is_a_finding_with_the_time_it_takes() -> None:
    managed = SenderSetup("DoNotReply@0f3c2b1a-1111-4222-8333-944455556666.azurecomm.net", 100, 3)
    found = sender_finding(managed, 500)
    assert (found.name, found.ok, found.severity) == ("sender_domain", False, "medium")
    assert "users may take a message from an unknown address telling them to delete their mail account" in (
        found.summary
    )
    assert found.summary.endswith(
        "at 10 an hour your 500 user(s) still on legacy authentication take 150 hour(s) to get 3 email(s) each."
    )  # changed with issue 17: every watched protocol is counted, not only EAS
    assert "docs/deploy.md" in found.action
    own = sender_finding(SenderSetup("it-helpdesk@contoso.example", 100, 3), 500)
    assert own.ok and own.summary == "User emails come from your own domain contoso.example."


def test_without_apple_consent_the_findings_never_say_users_are_emailed() -> None:
    snapshot = TenantSnapshot(
        apple_app=AppleAppStatus(present=False),
        user_consent=ConsentPolicy(False),
        devices=DeviceFinding(readable=True, devices=5, legacy=1, requests=2),
    )
    (device,) = [f for f in tenant_findings(snapshot, []) if f.name == "device_partnerships"]
    assert "(their emails are held until Apple's app has consent)" in device.action
    assert "(they are emailed)" not in device.action
