"""In the Functions worker every function of an instance shares one event loop: a step that blocks it
stalls the admin API too. Here a notify run waits for its send budget while an admin asks for the
summary on the same loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

import httpx

from core.clock import utcnow
from core.ledger import LedgerEntry
from core.runs import RunRecord
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.admin import admin_app
from pipeline.cycle import check_apple_app_step, collect_and_evaluate_step, notify_step, run_with_settings
from pipeline.settings import Settings
from pipeline.wiring import StateTables
from sim.scenario import Scenario
from tests.conftest import sim_settings
from tests.scenarios import add_user, legacy_signins, tenant

StartSim = Callable[[Scenario], SimServer]
BUDGET_WAIT_SECONDS = 4.0


async def notify_while_an_admin_asks(settings: Settings) -> tuple[httpx.Response, float, bool, list[RunRecord]]:
    notify = asyncio.create_task(run_with_settings(settings, [notify_step]))
    await asyncio.sleep(0.5)  # the run has settled the ledger and now waits for a send slot
    transport = httpx.ASGITransport(app=admin_app(lambda: settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        started = time.monotonic()
        response = await client.get("/api/summary")
        answered = time.monotonic() - started
    still_waiting = not notify.done()
    return response, answered, still_waiting, await notify


def test_the_admin_api_answers_while_notify_waits_for_its_send_budget(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    now = utcnow()
    scenario = tenant(tenant_id)
    alice = add_user(scenario, "alice")
    legacy_signins(scenario, alice, now - timedelta(hours=1), 3)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_SEND_PER_MINUTE="1", LAM_NOTIFY_MAX_SECONDS="120")
    asyncio.run(run_with_settings(settings, [check_apple_app_step, collect_and_evaluate_step]))
    # One mail went out a little under a minute ago: the next slot opens BUDGET_WAIT_SECONDS from now.
    sent_at = utcnow() - timedelta(seconds=60 - BUDGET_WAIT_SECONDS)
    StateTables.open(settings).ledger.begin(
        LedgerEntry("someone", "remediation-1", "op-1", "sent", "remediation", "en", "x@contoso.example", sent_at)
    )

    response, answered, still_waiting, (run,) = asyncio.run(notify_while_an_admin_asks(settings))

    assert response.status_code == 200 and response.json()["by_status"]["legacy_active"] == 1
    assert answered < 1.0, f"the admin API took {answered:.1f} s while notify waited for its budget"
    assert still_waiting, "the admin request only got the loop after notify had finished: notify blocked it"
    assert (run.outcome, run.emails) == ("succeeded", 1)
    assert (run.ended_at - run.started_at).total_seconds() >= BUDGET_WAIT_SECONDS - 1.5
    assert [m["to"] for m in sim.state.sent] == ["alice@contoso.example"]
