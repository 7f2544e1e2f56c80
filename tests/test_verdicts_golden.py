"""Golden verdicts: one tenant with every status and every tricky case, run end to end.

Each user is checked the way an admin would: the status and reason codes in
`python -m cli report --format json`, and whether an email landed in the outbox.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.cycle import FULL_CYCLE, run_with_settings
from sim.graph_shapes import sign_in
from sim.scenario import Scenario
from tests.conftest import NOW, outbox_messages, sim_env, sim_settings
from tests.scenarios import add_user, apple_signins, legacy_signins, new_id, tenant

StartSim = Callable[[Scenario], SimServer]
ROOT = Path(__file__).resolve().parent.parent
SPRAY_IPS = ["192.0.2.66", "192.0.2.67"]

# user → (status, reason codes in order, mailed?)
GOLDEN: dict[str, tuple[str, list[str], bool]] = {
    "iphone_success": ("legacy_active", ["legacy_signin_succeeded"], True),
    "iphone_failing": ("legacy_active", ["legacy_signin_failed", "stable_device_signature"], True),
    "sprayed": (
        "attack_suspected",
        ["spray_source", "credential_failures", "many_countries", "no_stable_device"],
        False,
    ),
    "sprayed_with_iphone": (
        "legacy_active",
        ["legacy_signin_succeeded", "legacy_signin_failed", "also_targeted_by_spray"],
        True,
    ),
    "brute_forced": ("attack_suspected", ["credential_failures", "many_source_networks", "no_stable_device"], False),
    "readded_but_old_ipad": ("legacy_active", ["legacy_signin_succeeded", "legacy_after_apple_app_signin"], True),
    "single_failed_attempt": ("legacy_active", ["legacy_signin_failed", "single_failed_attempt"], False),
    "pending": ("pending_verification", ["apple_app_signin_after_legacy", "quiet_period_running"], False),
    "remediated": ("remediated", ["apple_app_signin_after_legacy", "no_legacy_signin_in_quiet_period"], False),
    "edge_remediated": ("remediated", ["apple_app_signin_after_legacy", "no_legacy_signin_in_quiet_period"], False),
    "out_of_order_dupes": ("legacy_active", ["legacy_signin_succeeded"], True),
    "disabled": ("excluded", ["account_disabled"], False),
    "guest": ("excluded", ["guest_account"], False),
    "no_mailbox": ("excluded", ["no_mailbox"], False),
    "listed": ("excluded", ["excluded_by_setting"], False),
}


def spray(scenario: Scenario, person: dict[str, Any], minute: int) -> None:
    for ip, country in zip(SPRAY_IPS, ("NL", "RU"), strict=True):
        scenario.sign_ins.append(
            sign_in(
                new_id(),
                NOW - timedelta(days=1, minutes=minute),
                person,
                client_app="Exchange ActiveSync",
                error_code=50126,
                ip=ip,
                country=country,
                user_agent="BAV2ROPC",
                operating_system="",
            )
        )


@pytest.fixture
def golden_tenant(tenant_id: str) -> tuple[Scenario, dict[str, dict[str, Any]]]:
    s = tenant(tenant_id)
    p = {name: add_user(s, name) for name in GOLDEN}
    p["disabled"]["accountEnabled"] = False
    p["guest"]["userType"] = "Guest"
    p["no_mailbox"].update(mail=None, proxyAddresses=[])
    legacy_signins(s, p["iphone_success"], NOW - timedelta(hours=1), 8)
    legacy_signins(s, p["iphone_failing"], NOW - timedelta(hours=2), 8, error_code=53003)
    for i, name in enumerate(["sprayed", "sprayed_with_iphone", *[f"victim{n}" for n in range(4)]]):
        person = p.get(name) or add_user(s, name)
        spray(s, person, minute=i * 5)
    legacy_signins(s, p["sprayed_with_iphone"], NOW - timedelta(hours=3), 6)
    for n in range(6):  # one account, many networks, wrong passwords: brute force
        s.sign_ins.append(
            sign_in(
                new_id(),
                NOW - timedelta(hours=n * 5),
                p["brute_forced"],
                client_app="Exchange ActiveSync",
                error_code=50126,
                ip=f"198.51.{n}.9",
                user_agent="Apple-iPhone9C1/1602.92",
            )
        )
    legacy_signins(s, p["readded_but_old_ipad"], NOW - timedelta(days=6), 4, ua="Apple-iPhone14C2/2004.47")
    apple_signins(s, p["readded_but_old_ipad"], NOW - timedelta(days=6) + timedelta(minutes=10), 2)
    legacy_signins(s, p["readded_but_old_ipad"], NOW - timedelta(hours=4), 5, ua="Apple-iPad7C3/1702.112")
    legacy_signins(s, p["single_failed_attempt"], NOW - timedelta(days=2), 1, error_code=53003)
    legacy_signins(s, p["pending"], NOW - timedelta(hours=23, minutes=59), 4)
    apple_signins(s, p["pending"], NOW - timedelta(hours=23))
    legacy_signins(s, p["remediated"], NOW - timedelta(days=9), 4)
    apple_signins(s, p["remediated"], NOW - timedelta(days=9) + timedelta(minutes=30), 3)
    legacy_signins(s, p["edge_remediated"], NOW - timedelta(hours=24), 4)  # exactly at the quiet-period edge
    apple_signins(s, p["edge_remediated"], NOW - timedelta(hours=23, minutes=30))
    events = legacy_signins(s, p["out_of_order_dupes"], NOW - timedelta(hours=5), 3)
    s.sign_ins.extend([dict(events[0]), dict(events[2])])  # Graph repeats records; order is not guaranteed
    s.sign_ins.reverse()
    for name in ("disabled", "guest", "no_mailbox", "listed"):
        legacy_signins(s, p[name], NOW - timedelta(hours=1), 3)
    return s, p


def test_every_status_and_tricky_case(
    golden_tenant: tuple[Scenario, dict[str, dict[str, Any]]], start_sim: StartSim, azurite: Azurite
) -> None:
    scenario, _ = golden_tenant
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_EXCLUDED_UPNS="listed@contoso.example")
    asyncio.run(run_with_settings(settings, FULL_CYCLE, NOW))

    env = {k: v for k, v in os.environ.items() if not k.startswith("LAM_")}
    env.update(sim_env(sim, azurite))
    report = subprocess.run(
        [sys.executable, "-m", "cli", "report", "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    rows = {row["upn"].split("@")[0]: row for row in json.loads(report.stdout)}
    mailed = {m["To"].split("<")[1].split("@")[0] for m in outbox_messages(sim.state.outbox)}
    for name, (status, reasons, gets_mail) in GOLDEN.items():
        assert (name, rows[name]["status"], rows[name]["reasons"]) == (name, status, reasons)
        assert (name, name in mailed) == (name, gets_mail)
    assert {f"victim{n}" for n in range(4)} <= {n for n, r in rows.items() if r["status"] == "attack_suspected"}
    assert rows["out_of_order_dupes"]["legacy_success"] == 3
    assert rows["readded_but_old_ipad"]["device"] == "iPad Pro (10.5-inch) (iPadOS 13.2, build 17B112)"
    assert rows["iphone_success"]["advice"] == [
        "migration_blocked",
        "remove_and_readd",
        "clear_safari_data",
        "path_mail_accounts",
    ]
    assert rows["readded_but_old_ipad"]["advice"] == ["remove_and_readd", "path_passwords_and_accounts"]
    assert rows["sprayed"]["advice"] == []
