"""Kill the process at each point of a send: no user gets two copies, and no message is lost.

`python -m cli run --once` runs in its own process against the simulator, which holds the ACS call
open (before or after accepting the message) until the test kills the process with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from azure.data.tables import TableServiceClient

from core.clock import utcnow
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.cycle import notify_step, run_with_settings
from sim.scenario import Scenario
from store.notifications import NotificationLedger
from store.users import UserRepository
from tests.conftest import outbox_messages, sim_env, sim_settings
from tests.scenarios import add_user, legacy_signins, tenant

StartSim = Callable[[Scenario], SimServer]
ROOT = Path(__file__).resolve().parent.parent


def kill_during_send(sim: SimServer, azurite: Azurite, ready: Callable[[], bool]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAM_")}
    env.update(sim_env(sim, azurite))
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", "--once"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not ready():
        assert process.poll() is None, "the run ended before the send was interrupted"
        assert time.monotonic() < deadline, "the send never started"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def one_user(tenant_id: str, start_sim: StartSim, when: str) -> tuple[Scenario, SimServer, str]:
    scenario = tenant(tenant_id)
    alice = add_user(scenario, "alice")
    legacy_signins(scenario, alice, utcnow() - timedelta(hours=1), 3)
    scenario.faults["emails:hang"] = {"when": when, "seconds": 20}
    return scenario, start_sim(scenario), alice["id"]


def test_killed_before_acs_accepted_the_mail_it_is_sent_once_later(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario, sim, alice = one_user(tenant_id, start_sim, "before")
    kill_during_send(sim, azurite, lambda: sim.state.requests.get("emails:send", 0) >= 1)
    settings = sim_settings(sim, azurite)
    service = TableServiceClient.from_connection_string(settings.tables_connection_string or "")
    ledger = NotificationLedger(service.get_table_client("notifications"), tenant_id)
    assert [e.state for e in ledger.all()] == ["sending"] and sim.state.sent == []
    del scenario.faults["emails:hang"]
    asyncio.run(run_with_settings(settings, [notify_step], utcnow() + timedelta(minutes=10)))
    assert [m["To"] for m in outbox_messages(sim.state.outbox)] == ["Alice <alice@contoso.example>"]
    assert [e.state for e in ledger.all()] == ["sent"]
    assert UserRepository(service.get_table_client("users"), tenant_id).load_all()[alice].notified_count == 1


def test_killed_after_acs_accepted_the_mail_it_is_not_sent_again(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario, sim, alice = one_user(tenant_id, start_sim, "after")
    kill_during_send(sim, azurite, lambda: len(sim.state.sent) >= 1)
    settings = sim_settings(sim, azurite)
    service = TableServiceClient.from_connection_string(settings.tables_connection_string or "")
    ledger = NotificationLedger(service.get_table_client("notifications"), tenant_id)
    assert [e.state for e in ledger.all()] == ["sending"]
    del scenario.faults["emails:hang"]
    asyncio.run(run_with_settings(settings, [notify_step], utcnow() + timedelta(minutes=1)))
    assert [e.state for e in ledger.all()] == ["sending"], "too young to settle: never guessed"
    for minutes in (10, 20):
        asyncio.run(run_with_settings(settings, [notify_step], utcnow() + timedelta(minutes=minutes)))
    assert len(outbox_messages(sim.state.outbox)) == 1
    assert sim.state.requests.get("emails:status", 0) == 1  # one status check, not one per send
    assert [e.state for e in ledger.all()] == ["sent"]
    assert UserRepository(service.get_table_client("users"), tenant_id).load_all()[alice].notified_count == 1
