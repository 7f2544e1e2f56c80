"""A poison page is asked for again, then read around and skipped with a finding; Graph down is never skipped.

A proxy on loopback (tests/hostile.py) stands in front of the tenant simulator; the collect step runs for
real against Azurite. The poison answer is Graph's own error shape with a 200 status (``{"error": {"code":
"UnknownError", "message": "", "innerError": {...}}}``, the shape cited in tests/test_hostile_graph.py), sent
for every page that would hold one sign-in, however the query is cut: a page that never heals. Graph down
is a 503 ``serviceNotAvailable`` (Graph's documented error code for 503:
https://learn.microsoft.com/en-us/graph/errors).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest

from core.ingest import UnreadSpan
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.settings import load_settings
from pipeline.wiring import StepFailedError
from sim.scenario import Scenario
from tests.conftest import NOW, figures, sim_env
from tests.hostile import Answer, HostileGraph, Rewrite, graph_error
from tests.test_cli import cli
from tests.test_ingest import busy_tenant, collect, counted, repos, truth

StartSim = Callable[[Scenario], SimServer]
ERROR_BODY = graph_error(200, "UnknownError", "").body


def poisoned_by(record_id: str) -> Callable[[int, str], Rewrite]:
    """Every page holding ``record_id`` comes back as a 200 error body (no ``value``)."""

    def rewrite(page: dict[str, Any]) -> dict[str, Any] | bytes:
        return ERROR_BODY if any(r.get("id") == record_id for r in page.get("value", ())) else page

    return lambda number, path: rewrite


def test_a_page_that_never_heals_is_read_around_skipped_to_the_second_and_reported(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    """Before: the run failed after three fresh queries, and every later run failed at the same page."""
    scenario = busy_tenant(tenant_id, NOW, people=2, each=30, page_size=10)
    poison = scenario.sign_ins[25]  # in the middle of the third page
    sim = start_sim(scenario)
    with HostileGraph(sim.url, poisoned_by(poison["id"])) as graph:
        env = sim_env(sim, azurite, LAM_GRAPH_BASE_URL=graph.url, LAM_NOTIFY_MODE="off")
        settings = load_settings(env)
        run = collect(settings)
        later = collect(settings, NOW + timedelta(minutes=30))
    assert run.outcome == "succeeded", run.message
    when = NOW.fromisoformat(poison["createdDateTime"].replace("Z", "+00:00"))
    second = when.replace(microsecond=0)
    assert figures(run).unread == (UnreadSpan("signins-legacy", second, second + timedelta(seconds=1), "noValue"),)
    assert figures(run).noted["poison_span_skipped"] == 1 and figures(run).noted["page_refused"] > 3
    assert "skipped 1 unreadable span(s) of the sign-in log" in run.message
    expected = truth(scenario, NOW - timedelta(days=30), NOW)
    expected[poison["userId"]] -= 1  # the one sign-in in the skipped second, and only it
    assert counted(settings) == expected
    assert later.outcome == "succeeded" and figures(later).unread == (), later.message
    assert repos(settings)[1].load_window() is None, "no window left stuck open"
    found = {f["name"]: f for f in _findings(env)}
    unread = found["unread_signins"]
    assert unread["ok"] is False and unread["severity"] == "high"
    assert f"legacy sign-ins {second:%Y-%m-%d %H:%M:%S} to" in unread["summary"] and "(noValue)" in unread["summary"]


def test_graph_down_is_never_skipped_the_run_fails_and_the_next_reads_everything(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = busy_tenant(tenant_id, NOW, people=2, each=30, page_size=10)
    sim = start_sim(scenario)
    down = True
    unavailable = graph_error(503, "serviceNotAvailable", "The service is temporarily unavailable.")

    def fault(number: int, path: str) -> Answer | Rewrite | None:
        return unavailable if down and number > 2 else None

    with HostileGraph(sim.url, fault) as graph:
        env = sim_env(sim, azurite, LAM_GRAPH_BASE_URL=graph.url, LAM_NOTIFY_MODE="off", LAM_GRAPH_MAX_RETRIES="1")
        settings = load_settings(env)
        with pytest.raises(StepFailedError) as caught:
            collect(settings)
        window = repos(settings)[1].load_window()
        down = False
        healed = collect(settings, NOW + timedelta(minutes=30))
    (failed,) = caught.value.failed
    assert "serviceNotAvailable" in failed.message and "Page 2 of the window is saved" in failed.message
    assert figures(failed).unread == () and "poison_span_skipped" not in figures(failed).noted
    assert window is not None and window.pages == 2 and window.cursor, "the cursor is kept at the last good page"
    assert healed.outcome == "succeeded", healed.message
    assert counted(settings) == truth(scenario, NOW - timedelta(days=30), NOW + timedelta(minutes=30))
    assert "unread_signins" not in {f["name"] for f in _findings(env)}


def test_a_skip_graph_never_confirmed_is_undone_when_graph_goes_down_and_nothing_is_lost(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    """Graph down right after the poison second was isolated: the skip is not kept (no usable answer came
    after it), the run fails, and once Graph is well again every sign-in is read, that second's too."""
    scenario = busy_tenant(tenant_id, NOW, people=2, each=30, page_size=10)
    poison = scenario.sign_ins[25]
    sim = start_sim(scenario)
    unavailable = graph_error(503, "serviceNotAvailable", "The service is temporarily unavailable.")
    state = {"down": False, "healed": False}
    spoil = poisoned_by(poison["id"])

    def fault(number: int, path: str) -> Answer | Rewrite | None:
        if state["healed"]:
            return None
        if state["down"]:
            return unavailable
        bounds = [
            datetime.fromisoformat(t) for t in re.findall(r"createdDateTime[ +]\w\w[ +]([0-9T:-]+)Z", unquote(path))
        ]
        if len(bounds) == 2 and bounds[1] - bounds[0] == timedelta(seconds=1):
            state["down"] = True  # the query of the one second left: Graph goes down from here
        return spoil(number, path)

    with HostileGraph(sim.url, fault) as graph:
        settings = load_settings(
            sim_env(sim, azurite, LAM_GRAPH_BASE_URL=graph.url, LAM_NOTIFY_MODE="off", LAM_GRAPH_MAX_RETRIES="1")
        )
        with pytest.raises(StepFailedError) as caught:
            collect(settings)
        state["healed"] = True
        healed = collect(settings, NOW + timedelta(minutes=30))
    (failed,) = caught.value.failed
    assert state["down"] and "serviceNotAvailable" in failed.message
    assert figures(failed).unread == ()
    window = repos(settings)[1].load_window()
    assert healed.outcome == "succeeded" and figures(healed).unread == (), healed.message
    assert window is None
    assert counted(settings) == truth(scenario, NOW - timedelta(days=30), NOW + timedelta(minutes=30))


def _findings(env: dict[str, str]) -> list[dict[str, Any]]:
    result = cli("findings", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings
