"""`make demo`: Azurite + the simulated tenant on loopback, one full monitoring cycle, a checked summary.

State is kept in .demo/ so a second run within a few hours continues the same tenant: it finds no new
legacy users and sends no second email. After DEMO_TTL the tenant is rebuilt from scratch.
"""

from __future__ import annotations

import asyncio
import email
import shutil
from collections import Counter
from datetime import datetime, timedelta
from email.utils import parseaddr
from pathlib import Path

from rich.console import Console
from rich.table import Table

from core.clock import parse_graph_time, utcnow
from core.constants import AUTHENTICATED_SMTP, EXCHANGE_ACTIVESYNC
from core.records import UserState
from devstack.azurite import ROOT, Azurite
from devstack.simulator import SimServer
from pipeline.cycle import FULL_CYCLE, StepFailedError, run_with_settings
from pipeline.settings import load_settings
from pipeline.wiring import StateTables
from report.users import status_counts, user_rows
from rules import senders
from sim.demo_tenant import DOMAIN, EXCHANGE_WEB_SERVICES, IMAP4, POP3, build_demo_tenant
from sim.scenario import Scenario

DEMO_DIR = ROOT / ".demo"
DEMO_TTL = timedelta(hours=6)
SENDER = f"DoNotReply@{DOMAIN}"


def run_demo(console: Console, fresh: bool = False, demo_dir: Path = DEMO_DIR, consented: bool = True) -> int:
    now = utcnow()
    epoch = _demo_epoch(demo_dir, now, fresh)
    scenario = build_demo_tenant(epoch, consented=consented)
    outbox = demo_dir / "outbox"
    console.rule("[bold]Legacy Auth Monitor: demo cycle")
    console.print(
        f"Simulated tenant [bold]{DOMAIN}[/]: {len(scenario.users)} users, {len(scenario.sign_ins)} sign-ins "
        f"(built {epoch:%Y-%m-%d %H:%M} UTC). State kept in {demo_dir}."
    )
    with Azurite(location=demo_dir / "azurite") as azurite, SimServer(scenario, outbox) as sim:
        console.print(f"Azurite tables on 127.0.0.1:{azurite.port}, tenant simulator on {sim.url}")
        settings = load_settings(
            {
                "LAM_TENANT_ID": scenario.tenant_id,
                "LAM_GRAPH_BASE_URL": sim.url,
                "LAM_GRAPH_AUTH": "none",
                "LAM_TABLES_CONNECTION_STRING": azurite.connection_string,
                "LAM_ACS_ENDPOINT": sim.url,
                "LAM_ACS_KEY": scenario.acs_key,
                "LAM_SENDER_ADDRESS": SENDER,
                "LAM_NOTIFY_MODE": "live",
                "LAM_OUTBOX_DIR": str(outbox),
                "LAM_COLLECT_DEVICES": "true",
                # Mac Mail and a line-of-business app speak Exchange Web Services, a fax and a helpdesk collect
                # mail over POP3 and IMAP4: watch them all beside ActiveSync and SMTP AUTH.
                "LAM_LEGACY_PROTOCOLS": ",".join(
                    (EXCHANGE_ACTIVESYNC, EXCHANGE_WEB_SERVICES, AUTHENTICATED_SMTP, IMAP4, POP3)
                ),
                # What the admin keeps: the owners of the scanners' accounts (the rest go to managers).
                "LAM_SENDER_OWNERS": ",".join(f"{upn}={owner}" for upn, owner in scenario.owners.items()),
                # The simulator is not ACS: no quota to respect, so the demo mails everyone in one run.
                "LAM_SEND_PER_MINUTE": "1000",
                "LAM_SEND_PER_HOUR": "100000",
                "LAM_EXO_BASE_URL": sim.url,
                "LAM_EXO_ORGANIZATION": "contoso.onmicrosoft.com",
            }
        )
        try:
            runs = asyncio.run(run_with_settings(settings, FULL_CYCLE, now))
        except StepFailedError as exc:
            console.print(f"[red]{exc}[/]")
            return 1
        tables = StateTables.open(settings)
        states = tables.users.load_all()
        findings = tables.findings(list(states.values()))
        sent_now = len(sim.state.sent)

    steps = Table(title="This cycle")
    for column in ("step", "outcome", "pages", "events", "state writes", "emails", "note"):
        steps.add_column(column)
    for run in runs:
        steps.add_row(
            run.step, run.outcome, str(run.pages), str(run.events), str(run.writes), str(run.emails), run.message
        )
    console.print(steps)

    counts = Table(title="Users by status")
    counts.add_column("status")
    counts.add_column("users", justify="right")
    for status, count in status_counts(states.values()).items():
        counts.add_row(status, str(count))
    console.print(counts)
    legacy = [r for r in user_rows(states.values()) if r["status"] == "legacy_active"]
    sample = Table(title=f"First {min(8, len(legacy))} of the {len(legacy)} users to fix")
    for column in ("upn", "device", "last legacy sign-in", "emails"):
        sample.add_column(column)
    for row in legacy[:8]:
        sample.add_row(row["upn"], row["device"], (row["last_legacy_at"] or "")[:16], str(row["notified_count"]))
    console.print(sample)

    notes = Table(title="Tenant findings for the admin")
    notes.add_column("")
    notes.add_column("finding")
    notes.add_column("next action")
    for finding in findings:
        notes.add_row("[green]ok[/]" if finding.ok else "[yellow]![/]", finding.summary, finding.action)
    console.print(notes)

    problems = check_against_truth(scenario, states, outbox, now)
    mailed = _recipients(outbox)
    console.print(
        f"Emails sent through the ACS endpoint this run: [bold]{sent_now}[/]; "
        f"in the outbox: {sum(mailed.values())} .eml files in [bold]{outbox}[/]"
    )
    if problems:
        for problem in problems:
            console.print(f"[red]✗ {problem}[/]")
        return 1
    console.print(
        f"[green]✓ all {len(scenario.expected)} tracked users match the tenant's ground truth; "
        f"exactly the {len(scenario.mailed)} users who must fix a device were mailed, nobody twice; "
        "attacked, modern, remediated and excluded users were not.[/]"
    )
    return 0


def check_against_truth(
    scenario: Scenario, states: dict[str, UserState], outbox: Path, run_started: datetime | None = None
) -> list[str]:
    """What a careful admin would check by hand: right statuses, right recipients, no duplicates.

    An SMTP AUTH sender whose owner was told in an earlier run has sent nothing since (the demo's senders
    stop when the tenant is built): it is then pending verification, not legacy_active."""
    problems = []
    told_before = {
        user_id
        for user_id in scenario.mail_to
        if user_id in states
        and run_started is not None
        and (told := states[user_id].first_notified_at) is not None
        and told < run_started
    }
    for user_id, expected in scenario.expected.items():
        expected = "pending_verification" if user_id in told_before else expected
        got = states[user_id].verdict.status if user_id in states else "untracked"
        if got != expected:
            problems.append(f"user {user_id}: status {got}, expected {expected}")
    for user_id in states.keys() - scenario.expected.keys():
        problems.append(f"user {user_id} is tracked but has no legacy activity in the tenant")
    for user_id, kind in scenario.sender_kinds.items():
        got_kind = senders.kind_of(states[user_id].verdict) if user_id in states else None
        if got_kind != kind:
            problems.append(f"user {user_id}: sender kind {got_kind}, expected {kind}")
    for user_id, code in scenario.advice.items():
        if user_id in told_before:
            continue  # nothing left to advise until it sends with a password again
        advice = states[user_id].verdict.advice if user_id in states else ()
        if code not in advice:
            problems.append(f"user {user_id}: advice {list(advice)}, expected it to include {code}")
    should_mail = {
        _address(u) for u in scenario.users if u["id"] in scenario.mailed and u["id"] not in scenario.mail_to
    }
    should_mail |= {address.lower() for address in scenario.mail_to.values() if address}
    mailed = _recipients(outbox)
    for address, count in mailed.items():
        if address not in should_mail:
            problems.append(f"{address} was mailed but should not have been")
        if count > 1:
            problems.append(f"{address} received {count} copies")
    for address in should_mail - mailed.keys():
        problems.append(f"{address} uses legacy authentication but was not mailed")
    return problems


def _address(user: dict[str, object]) -> str:
    from collectors.directory import recipient_address

    return (recipient_address(user) or "").lower()


def _recipients(outbox: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        counts[parseaddr(message["To"] or "")[1].lower()] += 1
    return counts


def _demo_epoch(demo_dir: Path, now: datetime, fresh: bool) -> datetime:
    """The moment the demo tenant was built; a stale or --fresh demo starts over."""
    marker = demo_dir / "epoch"
    epoch = parse_graph_time(marker.read_text().strip()) if marker.exists() else None
    if fresh or epoch is None or now - epoch > DEMO_TTL or epoch > now:
        shutil.rmtree(demo_dir, ignore_errors=True)
        demo_dir.mkdir(parents=True)
        marker.write_text(now.isoformat())
        return now
    return epoch
