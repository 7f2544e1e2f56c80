"""Ingest at Graph's pace: windows read over several runs, kills, throttling, failures and odd pages.

Everything runs against the simulator (Graph's throttle shape, 20 times faster) and Azurite; what is
checked is what an admin would see: per-user counts in the users table, the runs table, the CLI's exit.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from core.clock import utcnow
from core.constants import EXCHANGE_ACTIVESYNC
from core.runs import RunRecord
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.cycle import collect_and_evaluate_step, run_with_settings
from pipeline.settings import Settings
from sim.graph_shapes import sign_in
from sim.scenario import Scenario
from store.checkpoints import CheckpointRepository
from store.users import UserRepository
from tests.conftest import NOW, figures, sim_env, sim_settings
from tests.scenarios import IPHONE_UA, add_user, apple_signins, new_id, tenant

StartSim = Callable[[Scenario], SimServer]
ROOT = Path(__file__).resolve().parent.parent


def busy_tenant(tenant_id: str, now: datetime, people: int = 6, each: int = 80, page_size: int = 20) -> Scenario:
    """``people`` users whose phones retry legacy EAS every few minutes, served ``page_size`` a page."""
    scenario = tenant(tenant_id)
    scenario.page_size = page_size
    for n in range(people):
        person = add_user(scenario, f"user{n}")
        for i in range(each):
            when = now - timedelta(minutes=7 * i + n, seconds=1)
            code = 0 if n % 2 else 53003
            scenario.sign_ins.append(
                sign_in(new_id(), when, person, client_app=EXCHANGE_ACTIVESYNC, error_code=code, user_agent=IPHONE_UA)
            )
    scenario.sort()
    return scenario


def truth(scenario: Scenario, start: datetime, end: datetime) -> dict[str, int]:
    """Legacy sign-ins per user inside the window: what a correct monitor counts."""
    counts: dict[str, int] = {}
    for item in scenario.sign_ins:
        when = datetime.fromisoformat(item["createdDateTime"].replace("Z", "+00:00"))
        if item["clientAppUsed"].casefold() == "exchange activesync" and start <= when < end and item.get("userId"):
            counts[item["userId"]] = counts.get(item["userId"], 0) + 1
    return counts


def counted(settings: Settings) -> dict[str, int]:
    return {uid: s.evidence.legacy_total for uid, s in repos(settings)[0].load_all().items() if s.evidence.legacy_total}


def repos(settings: Settings) -> tuple[UserRepository, CheckpointRepository, TableServiceClient]:
    service = TableServiceClient.from_connection_string(settings.tables_connection_string or "")
    return (
        UserRepository(service.get_table_client("users"), settings.tenant_id),
        CheckpointRepository(service.get_table_client("checkpoints"), settings.tenant_id),
        service,
    )


def collect(settings: Settings, now: datetime = NOW) -> RunRecord:
    (run,) = asyncio.run(run_with_settings(settings, [collect_and_evaluate_step], now))
    return run


def runs_rows(settings: Settings) -> list[dict[str, Any]]:
    table = repos(settings)[2].get_table_client("runs")
    return list(table.query_entities("PartitionKey eq @pk", parameters={"pk": settings.tenant_id}))


def most_in_any_window(arrivals: list[float], window: float) -> int:
    return max((sum(1 for b in arrivals if a <= b < a + window) for a in arrivals), default=0)


def start_cli(sim: SimServer, azurite: Azurite, **overrides: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAM_")}
    env.update(sim_env(sim, azurite, LAM_NOTIFY_MODE="off", **overrides))
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "run", "--once"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def kill_when(process: subprocess.Popen[bytes], ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not ready():
        assert process.poll() is None, f"the run ended before the kill: {process.communicate()[1].decode()[-2000:]}"
        assert time.monotonic() < deadline, "the run never reached the point to kill it at"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def short_runs(sim: SimServer, azurite: Azurite, checkpoint_pages: int = 1) -> Settings:
    """Runs that stop reading after a second: a window then takes several of them."""
    return sim_settings(sim, azurite, LAM_COLLECT_MAX_SECONDS="1", LAM_CHECKPOINT_PAGES=str(checkpoint_pages))


def test_a_window_that_needs_more_time_continues_in_the_next_runs(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = busy_tenant(tenant_id, NOW)
    sim = start_sim(scenario)
    settings = short_runs(sim, azurite, checkpoint_pages=2)
    first = collect(settings)
    assert figures(first).window_open and "the next run continues it" in first.message
    assert counted(settings) == {}, "nothing is applied before the window is read in full"
    runs = [first]
    while figures(runs[-1]).window_open:
        assert len(runs) < 10, "the window never closed"
        runs.append(collect(settings, NOW + timedelta(minutes=30 * len(runs))))
    assert counted(settings) == truth(scenario, NOW - timedelta(days=30), NOW)
    assert sim.state.requests["signIns"] == sum(run.pages for run in runs), "each run resumes at its cursor"
    assert repos(settings)[1].load_window() is None


def test_a_run_killed_between_pages_resumes_with_exact_counts(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    now = utcnow()
    scenario = busy_tenant(tenant_id, now)
    sim = start_sim(scenario)
    process = start_cli(sim, azurite, LAM_CHECKPOINT_PAGES="2")
    kill_when(process, lambda: sim.state.requests.get("signIns", 0) >= 12)
    settings = sim_settings(sim, azurite)
    window = repos(settings)[1].load_window()
    assert window is not None and window.segments, "the killed run committed segments before it died"
    assert counted(settings) == {}
    read_before = sim.state.requests["signIns"]
    resumed = collect(settings, now + timedelta(minutes=1))
    assert counted(settings) == truth(scenario, window.starts["signins-legacy"], window.end)
    all_pages = 480 // 20 + 1  # the legacy pages and the Apple app's one
    assert resumed.pages == all_pages - window.pages, "the second run starts at the saved cursor"
    assert sim.state.requests["signIns"] - read_before == resumed.pages
    assert repos(settings)[1].load_window() is None


def test_a_run_killed_while_judging_users_applies_no_delta_twice(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    """600 users: the first 500 are written, then the directory lookup of the next chunk hangs."""
    now = utcnow()
    scenario = tenant(tenant_id)
    for n in range(600):
        person = add_user(scenario, f"p{n:03d}")
        for i in range(2):
            when = now - timedelta(hours=1 + i, seconds=n)
            scenario.sign_ins.append(
                sign_in(new_id(), when, person, client_app=EXCHANGE_ACTIVESYNC, user_agent=IPHONE_UA)
            )
    scenario.sort()
    scenario.faults["users"] = {"after": 34, "hang_seconds": 60}  # 500 users = 34 lookups of 15
    sim = start_sim(scenario)
    process = start_cli(sim, azurite)
    kill_when(process, lambda: sim.state.requests.get("users", 0) >= 35)
    settings = sim_settings(sim, azurite)
    half_done = counted(settings)
    assert len(half_done) == 500 and set(half_done.values()) == {2}
    del scenario.faults["users"]
    collect(settings, now + timedelta(minutes=1))
    assert counted(settings) == {p["id"]: 2 for p in scenario.users}


def test_throttling_storms_are_waited_out_without_exceeding_the_budget(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = busy_tenant(tenant_id, NOW)
    scenario.faults["signIns"] = {"status": 429, "code": "TooManyRequests", "retry_after": 1, "after": 3, "times": 4}
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    run = collect(settings)
    assert counted(settings) == truth(scenario, NOW - timedelta(days=30), NOW)
    assert (figures(run).graph.throttled, figures(run).graph.retries) == (4, 4)
    assert figures(run).graph.retry_wait_ms >= 4000
    arrivals = sim.state.arrivals["signIns"]
    assert len(arrivals) == figures(run).graph.requests - 0 > 20
    assert most_in_any_window(arrivals, sim.state.throttle_window) <= scenario.throttle[0]
    assert sim.state.throttled == 0, "the simulator's own throttle never had to refuse a request"


def test_graph_failing_past_the_retries_fails_the_run_and_the_next_one_resumes(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    now = utcnow()
    scenario = busy_tenant(tenant_id, now)
    scenario.faults["signIns"] = {"status": 503, "code": "ServiceUnavailable", "retry_after": 0, "after": 5}
    sim = start_sim(scenario)
    process = start_cli(sim, azurite, LAM_GRAPH_MAX_RETRIES="2", LAM_CHECKPOINT_PAGES="1")
    _, stderr = process.communicate(timeout=120)
    message = stderr.decode()
    assert process.returncode == 1
    assert "step 'collect' failed" in message and "503 ServiceUnavailable" in message
    assert "gave up after 3 attempts" in message and "LAM_GRAPH_MAX_RETRIES=2" in message
    assert "Page 5 of the window is saved; the next run resumes there" in message
    settings = sim_settings(sim, azurite)
    failed = [r for r in runs_rows(settings) if r["Step"] == "collect"]
    assert [r["Outcome"] for r in failed] == ["failed"]
    assert "gave up after 3 attempts" in str(failed[0]["Message"])
    assert json.loads(failed[0]["Figures"])["graph"]["requests"] == 8
    del scenario.faults["signIns"]
    collect(settings, now + timedelta(minutes=1))
    assert counted(settings) == truth(scenario, now - timedelta(days=30), now)


def test_a_cursor_graph_no_longer_accepts_falls_back_to_the_oldest_signin_read(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = busy_tenant(tenant_id, NOW)
    sim = start_sim(scenario)
    settings = short_runs(sim, azurite)
    assert figures(collect(settings)).window_open
    scenario.faults["signIns"] = {"status": 400, "code": "BadRequest", "message": "Invalid $skiptoken", "times": 1}
    runs = [collect(sim_settings(sim, azurite, LAM_CHECKPOINT_PAGES="1"), NOW + timedelta(minutes=30))]
    assert figures(runs[0]).noted["cursor_expired"] == 1
    assert counted(settings) == truth(scenario, NOW - timedelta(days=30), NOW)


def test_odd_pages_are_handled_and_counted(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = busy_tenant(tenant_id, NOW, people=2, each=30, page_size=10)
    person = scenario.users[0]
    good = sign_in("odd-good", NOW - timedelta(hours=2), person, client_app="exchange ACTIVESYNC")
    good["deviceDetail"], good["location"], good["userAgent"], good["ipAddress"] = None, None, None, None
    odd = [
        {**sign_in("odd-1", NOW - timedelta(hours=3), person, client_app=EXCHANGE_ACTIVESYNC), "status": None},
        {**sign_in("odd-2", NOW - timedelta(hours=4), person, client_app=EXCHANGE_ACTIVESYNC), "userId": None},
        {**sign_in("odd-3", NOW - timedelta(hours=5), person, client_app=EXCHANGE_ACTIVESYNC), "id": ""},
    ]
    scenario.sign_ins += [good, *odd]
    scenario.sort()
    scenario.quirks = {"empty_page_every": 3, "repeat_last_every": 4}
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    run = collect(settings)
    expected = truth(scenario, NOW - timedelta(days=30), NOW)
    expected[person["id"]] -= 2  # neither odd-1 (no status: success or failure?) nor odd-3 (no id) can count
    assert counted(settings) == expected
    assert figures(run).noted["missing_status_error_code"] == 1
    assert figures(run).noted["missing_user_id"] == 1
    assert figures(run).noted["missing_id"] == 1
    assert figures(run).noted["empty_page"] >= 1
    assert figures(run).noted["duplicate"] >= 1, "a page repeating the previous page's last record is de-duplicated"
    assert run.skipped == 3, "records skipped; empty pages and duplicates are reported apart"
    state = repos(settings)[0].get(person["id"])
    assert state is not None and state.evidence.protocols["exchange ACTIVESYNC"] == 1


def test_a_spray_split_across_runs_is_still_seen_as_one(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    """The tracker's state travels with the checkpoint: a burst read over two runs is still one burst."""
    scenario = busy_tenant(tenant_id, NOW, people=2, each=60, page_size=5)
    victims = [add_user(scenario, f"victim{n}") for n in range(6)]
    for n, person in enumerate(victims):
        when = NOW - timedelta(days=2, minutes=n * 5)
        scenario.sign_ins.append(
            sign_in(new_id(), when, person, client_app=EXCHANGE_ACTIVESYNC, error_code=50126, ip="192.0.2.66")
        )
    apple_signins(scenario, scenario.users[0], NOW - timedelta(days=3))
    scenario.sort()
    sim = start_sim(scenario)
    settings = short_runs(sim, azurite)
    for n in range(12):
        if not figures(collect(settings, NOW + timedelta(minutes=30 * n))).window_open:
            break
    assert n > 0, "the window took more than one run"
    states = repos(settings)[0].load_all()
    assert {states[p["id"]].verdict.status for p in victims} == {"attack_suspected"}
    assert {states[p["id"]].evidence.spray_failures for p in victims} == {1}


def test_two_runs_cannot_advance_the_same_window(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = busy_tenant(tenant_id, NOW)
    sim = start_sim(scenario)
    settings = short_runs(sim, azurite)
    collect(settings)
    checkpoints = repos(settings)[1]
    mine, theirs = checkpoints.load_window(), checkpoints.load_window()
    assert mine is not None and theirs is not None
    checkpoints.save_window(theirs)  # the other run commits a segment first
    with pytest.raises(RuntimeError, match="another collect run changed the sign-in checkpoint"):
        checkpoints.save_window(mine)
