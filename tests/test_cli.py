"""The command line as a user runs it: a real process, real exit codes, real output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from devstack.azurite import Azurite
from devstack.simulator import SimServer
from sim.scenario import Scenario
from tests.conftest import outbox_messages, sim_env
from tests.scenarios import add_user, apple_signins, legacy_signins, tenant

StartSim = Callable[[Scenario], SimServer]
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.integration  # every test runs `python -m cli` in a process of its own


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LAM_")}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_once_then_report(tenant_id: str, start_sim: StartSim, azurite: Azurite, tmp_path: Path) -> None:
    from core.clock import utcnow

    now = utcnow()  # the CLI reads the real clock
    scenario = tenant(tenant_id)
    alice, bob = add_user(scenario, "alice"), add_user(scenario, "bob")
    legacy_signins(scenario, alice, now - timedelta(hours=1), 3)
    legacy_signins(scenario, bob, now - timedelta(days=3), 3)
    apple_signins(scenario, bob, now - timedelta(days=2))
    sim = start_sim(scenario)
    env = sim_env(sim, azurite)

    run = cli("run", "--once", env=env)
    assert run.returncode == 0, run.stderr
    assert "collect" in run.stdout and "events=7" in run.stdout
    assert [m["To"] for m in outbox_messages(sim.state.outbox)] == ["Alice <alice@contoso.example>"]

    report = cli("report", "--format", "json", env=env)
    assert report.returncode == 0, report.stderr
    rows = {r["upn"]: r for r in json.loads(report.stdout)}
    assert set(rows) == {"alice@contoso.example", "bob@contoso.example"}
    assert rows["alice@contoso.example"]["status"] == "legacy_active"
    assert rows["alice@contoso.example"]["reasons"] == ["legacy_signin_succeeded"]
    assert rows["alice@contoso.example"]["notified_count"] == 1
    assert rows["alice@contoso.example"]["last_legacy_at"].startswith(str(now.date()))
    assert rows["bob@contoso.example"]["status"] == "remediated"
    assert {"user_id", "upn", "status", "reasons", "last_legacy_at", "notified_count"} <= set(
        rows["bob@contoso.example"]
    )

    only = cli("report", "--format", "csv", "--status", "remediated", env=env)
    assert only.stdout.splitlines()[1].split(",")[1] == "bob@contoso.example"
    assert len(only.stdout.splitlines()) == 2

    table = cli("report", env=env)
    assert "alice@contoso.example" in table.stdout and "legacy_active" in table.stdout

    # --summary honours --format (issue 18: it used to print JSON whatever was asked)
    summary = json.loads(cli("report", "--summary", "--format", "json", "--since", str(now.date()), env=env).stdout)
    assert summary["by_status"]["legacy_active"] == 1 and summary["tracked"] == 1
    kept = cli("report", "--summary", "--format", "csv", env=env).stdout.splitlines()
    assert kept[0] == "measure,key,count" and "by_status,legacy_active,1" in kept and "by_status,remediated,1" in kept
    assert "tracked  " in cli("report", "--summary", env=env).stdout.replace("│", " ")
    findings_csv = cli("findings", "--format", "csv", env=env).stdout.splitlines()
    assert findings_csv[0] == "name,ok,severity,summary,action,link"
    assert any(line.startswith("apple_app,yes,") for line in findings_csv)
    out = tmp_path / "users.csv"
    written = cli("report", "--format", "csv", "--platform", "ios", "--out", str(out), env=env)
    assert "2 users written to" in written.stdout
    assert out.read_bytes().startswith(b"\xef\xbb\xbfuser_id,upn")
    bad = cli("report", "--platform", "nokia", env=env)
    assert bad.returncode == 2 and "platform: 'nokia' is not one of" in bad.stderr

    found = {f["name"]: f for f in json.loads(cli("findings", "--format", "json", env=env).stdout)}
    assert found["apple_app"]["ok"] is True
    assert "enabling one today would cut off 1 user(s)" in found["ca_legacy_block"]["summary"]


def test_missing_settings_exit_2_and_name_them() -> None:
    result = cli("run", "--once")
    assert result.returncode == 2
    assert "LAM_TENANT_ID: required but not set" in result.stderr


def test_a_bad_status_filter_is_refused() -> None:
    result = cli("report", "--status", "everyone")
    assert result.returncode == 2
    assert "status: 'everyone' is not one of legacy_active" in result.stderr


def test_a_failed_step_exits_non_zero_with_the_reason(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = tenant(tenant_id)
    scenario.faults["servicePrincipals"] = {
        "status": 403,
        "code": "Authorization_RequestDenied",
        "message": "no Application.Read.All",
    }
    sim = start_sim(scenario)
    result = cli("run", "--once", env=sim_env(sim, azurite))
    assert result.returncode == 1
    assert "step 'apple-app' failed" in result.stderr
    assert "Authorization_RequestDenied" in result.stderr


def test_demo_runs_end_to_end_and_a_second_run_sends_nothing(tmp_path: Path) -> None:
    first = cli("demo", "--state-dir", str(tmp_path))
    assert first.returncode == 0, first.stdout + first.stderr
    # six older and other devices (iOS 9 iPhones, Android, Samsung, macOS Mail, no user agent) join the 47;
    # issue 17 adds six SMTP AUTH senders (five mailed: owners, managers, a person; one owner unknown) and
    # an SMTP AUTH spray on six accounts: 53 → 58 emails, 92 → 104 tracked, 12 → 18 attacked, 54 → 60 active;
    # then a POP3 fax, an IMAP4 helpdesk and an EWS app, their owners mailed: 61 emails, 107 tracked, 63 active
    assert "Emails sent through the ACS endpoint this run: 61" in first.stdout
    assert "all 107 tracked users match the tenant's ground truth" in first.stdout
    assert re.search(r"attack_suspected\s*│\s*18\s*│", first.stdout)
    assert re.search(r"legacy_active\s*│\s*63\s*│", first.stdout)
    assert "Exchange device partnerships: 109 read" in first.stdout
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 61
    second = cli("demo", "--state-dir", str(tmp_path))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Emails sent through the ACS endpoint this run: 0" in second.stdout
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 61


def test_the_unconsented_demo_holds_every_email_but_the_smtp_senders(tmp_path: Path) -> None:
    """Without Apple's consent no EAS user is mailed; an SMTP AUTH sender's fix needs no Apple consent, so
    its five recipients are (issue 17: before it, the outbox stayed empty), and so are the owners of the POP3
    fax, the IMAP4 helpdesk and the EWS app (none of their fixes goes through Apple's app)."""
    result = cli("demo", "--unconsented", "--state-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "user emails are held" in result.stdout
    assert "Emails sent through the ACS endpoint this run: 8" in result.stdout
    sent = list((tmp_path / "outbox").glob("*.eml"))
    subjects = [str(outbox_messages(tmp_path / "outbox")[i]["Subject"]) for i in range(len(sent))]
    assert len(sent) == 8 and not any("Apple" in s for s in subjects), subjects
    assert sum("2026" in s for s in subjects) == 5, "the SMTP AUTH senders: by the end of December 2026"
    assert sum("2027" in s for s in subjects) == 1, "the EWS app: by 1 April 2027"
    assert sum("IMAP" in s or "POP" in s for s in subjects) == 2, subjects
