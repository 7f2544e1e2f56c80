"""The monitor against a hostile Graph: poison records and pages, links elsewhere, faults on the wire.

A proxy on loopback (tests/hostile.py) stands in front of the tenant simulator and changes its answers;
the collect step runs for real against Azurite. What is checked is what the admin sees: the users'
counts, the run's row (outcome, noted reasons, a sample), and that nothing reached another server.

Real shapes these faults are modelled on:
- Throttling: HTTP 429 with ``Retry-After: 5`` and ``{"error": {"code": "TooManyRequests", "message":
  "Too many requests from Identifier:West Europe under category:throttle.aad.ags...", "innerError": …}}``
  (https://learn.microsoft.com/en-us/answers/questions/1138873, a response posted in full).
- A nextLink is an absolute URL on Graph's host with a ``$skiptoken``: ``"@odata.nextLink":
  "https://graph.microsoft.com/beta/security/auditLog/queries/*QueryID*/records?$skiptoken=1!4!MA--…"``
  (microsoftgraph/msgraph-sdk-powershell issue 2677).
- A skip token Graph no longer honours: ``{"error": {"code": "", "message": "Invalid Skip Token", …}}``
  (microsoftgraph/microsoft-graph-docs-contrib issue 5103); sign-in paging that stalls on "Invalid Skip
  Token, skip token is null" (microsoftgraph/msgraph-sdk-powershell issue 1388).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from core.bounds import CUT_MARKER
from core.constants import EXCHANGE_ACTIVESYNC
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.wiring import StepFailedError
from sim.graph_shapes import sign_in
from sim.scenario import Scenario
from tests.conftest import NOW, figures, sim_settings
from tests.hostile import Answer, HostileGraph, Rewrite, Server, graph_error, send
from tests.scenarios import add_user, new_id
from tests.test_ingest import busy_tenant, collect, counted, repos, runs_rows, truth

StartSim = Callable[[Scenario], SimServer]


def good_record(person: dict[str, Any], record_id: str, minutes_ago: int, **fields: Any) -> dict[str, Any]:
    record = sign_in(record_id, NOW - timedelta(minutes=minutes_ago), person, client_app=EXCHANGE_ACTIVESYNC)
    record.update(fields)
    return record


def with_records(extra: list[dict[str, Any]]) -> Rewrite:
    def rewrite(page: dict[str, Any]) -> dict[str, Any]:
        page["value"] = page["value"] + extra
        return page

    return rewrite


def test_poison_records_are_skipped_counted_and_sampled_and_the_rest_counted_exactly(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = busy_tenant(tenant_id, NOW, people=2, each=30, page_size=10)
    person = scenario.users[0]
    poison = [
        good_record(person, "p-date", 500, createdDateTime="0001-01-01T00:00:00+01:00"),
        good_record(person, "p-code", 500, status={"errorCode": "--5"}),
        good_record(person, "p-super", 500, status={"errorCode": "²"}),
        good_record(person, "p-userid", 500, userId="a/#?\u0000b"),
    ]

    def nested_deep(page: dict[str, Any]) -> bytes:
        """A record whose deviceDetail is nested 100,000 deep (RecursionError in every JSON decoder)."""
        page["value"].append(good_record(person, "p-deep", 500, deviceDetail="DEEP"))
        return orjson.dumps(page).replace(b'"DEEP"', b"[" * 100_000 + b"]" * 100_000)

    def deep_fault(number: int, path: str) -> Answer | Rewrite | None:
        return with_records(poison) if number == 1 else nested_deep if number == 2 else None

    sim = start_sim(scenario)
    with HostileGraph(sim.url, deep_fault) as graph:
        settings = sim_settings(sim, azurite, LAM_GRAPH_BASE_URL=graph.url)
        run = collect(settings)
    assert run.outcome == "succeeded", run.message
    noted = figures(run).noted
    assert noted["bad_created_date_time"] == 1
    assert noted["missing_status_error_code"] == 2
    assert noted["bad_user_id"] == 1
    assert noted["field_nested_too_deep"] == 1
    assert figures(run).samples["bad_user_id"] == "p-userid"
    assert figures(run).samples["bad_created_date_time"] == "p-date"
    expected = truth(scenario, NOW - timedelta(days=30), NOW)
    expected[person["id"]] += 1  # p-deep: its deviceDetail was cut, the sign-in itself counts
    assert counted(settings) == expected


def test_a_next_link_elsewhere_is_refused_never_followed_and_the_stream_read_again(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = busy_tenant(tenant_id, NOW, people=2, each=30, page_size=10)
    sim = start_sim(scenario)
    with Server(lambda h: send(h, Answer(200, b'{"value": []}'))) as decoy:
        links = iter([decoy.url + "/beta/auditLogs/signIns?$skiptoken=20", "beta/auditLogs/signIns?$skiptoken=20"])

        def fault(number: int, path: str) -> Answer | Rewrite | None:
            if number not in (2, 4):
                return None
            link = next(links)

            def rewrite(page: dict[str, Any]) -> dict[str, Any]:
                page["@odata.nextLink"] = link
                return page

            return rewrite

        with HostileGraph(sim.url, fault) as graph:
            settings = sim_settings(sim, azurite, LAM_GRAPH_BASE_URL=graph.url)
            first = collect(settings)
    assert decoy.requests == [], "nothing went to the other server (same host, other port)"
    assert first.outcome == "succeeded", first.message
    assert figures(first).noted["page_refused"] == 2  # another port, then a relative link
    assert figures(first).samples["page_refused"].startswith("foreignNextLink: http://127.0.0.1:")
    assert counted(settings) == truth(scenario, NOW - timedelta(days=30), NOW)


def test_a_redirect_is_not_followed(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = busy_tenant(tenant_id, NOW, people=2, each=30, page_size=10)
    sim = start_sim(scenario)
    with Server(lambda h: send(h, Answer(200, b'{"value": []}'))) as decoy:

        def fault(number: int, path: str) -> Answer | Rewrite | None:
            if number == 2:
                return Answer(302, b"", {"Location": decoy.url + path})
            return None

        with HostileGraph(sim.url, fault) as graph:
            settings = sim_settings(sim, azurite, LAM_GRAPH_BASE_URL=graph.url)
            run = collect(settings)
    assert decoy.requests == []
    assert run.outcome == "succeeded", run.message
    assert figures(run).samples["page_refused"].startswith("redirectRefused")
    assert counted(settings) == truth(scenario, NOW - timedelta(days=30), NOW)


def test_a_200_with_an_error_body_is_not_an_empty_last_page(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    """Before: the run "succeeded" with what it had, closed the window and never read that hour again."""
    scenario = busy_tenant(tenant_id, NOW, people=2, each=30, page_size=10)
    sim = start_sim(scenario)
    error = graph_error(200, "UnknownError", "").body  # Graph's error shape, with a 200 status
    broken = True

    def fault(number: int, path: str) -> Answer | Rewrite | None:
        once = number == 2
        return Answer(200, error, {"Content-Type": "application/json"}) if once or (broken and number > 2) else None

    with HostileGraph(sim.url, fault) as graph:
        settings = sim_settings(sim, azurite, LAM_GRAPH_BASE_URL=graph.url)
        with pytest.raises(StepFailedError) as caught:
            collect(settings)
        (failed,) = caught.value.failed
        watermark = repos(settings)[1].load("signins-legacy").watermark
        broken = False
        healed = collect(settings, NOW + timedelta(minutes=30))
    assert failed.outcome == "failed"
    assert "noValue" in failed.message, failed.message
    assert watermark is None, "the window was not closed on an error body"
    assert healed.outcome == "succeeded", healed.message
    assert counted(settings) == truth(scenario, NOW - timedelta(days=30), NOW + timedelta(minutes=30))


def test_retry_after_far_away_is_capped_and_never_past_the_run_deadline(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = busy_tenant(tenant_id, NOW, people=2, each=30, page_size=10)
    sim = start_sim(scenario)
    throttled = graph_error(429, "TooManyRequests", "Too many requests. Please try again later.")
    throttled.headers["Retry-After"] = "999999"

    def fault(number: int, path: str) -> Answer | Rewrite | None:
        return throttled if number == 2 else None

    with HostileGraph(sim.url, fault) as graph:
        settings = sim_settings(sim, azurite, LAM_GRAPH_BASE_URL=graph.url, LAM_COLLECT_MAX_SECONDS="3")
        started = time.monotonic()
        run = collect(settings)
        took = time.monotonic() - started
        started = time.monotonic()
        later = collect(settings, NOW + timedelta(minutes=30))  # the same worker: the pause is shared
        later_took = time.monotonic() - started
    assert took < 20 and later_took < 20, f"the runs waited {took:.0f} s and {later_took:.0f} s"
    assert run.outcome == "succeeded" and figures(run).window_open, run.message
    assert figures(run).noted["wait_past_deadline"] == 1
    assert later.outcome == "succeeded" and figures(later).window_open, later.message
    assert figures(run).window_pages == 1, "the page read before the 429 is kept"


def test_sixteen_huge_user_agents_on_one_account_leave_a_bounded_row(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    """Before: the Agents property passed Table Storage's limit (PropertyValueTooLarge) on every run."""
    scenario = busy_tenant(tenant_id, NOW, people=1, each=5, page_size=50)
    target = add_user(scenario, "target")
    for n in range(16):
        agent = f"{n:02d}" + "A" * 8190
        scenario.sign_ins.append(
            sign_in(
                new_id(),
                NOW - timedelta(minutes=n + 1),
                target,
                client_app=EXCHANGE_ACTIVESYNC,
                error_code=50126,
                user_agent=agent,
            )
        )
    scenario.sort()
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    run = collect(settings)
    assert run.outcome == "succeeded", run.message
    state = repos(settings)[0].get(target["id"])
    assert state is not None and state.evidence.legacy_total == 16
    assert state.evidence.user_agent.endswith(CUT_MARKER) and len(state.evidence.user_agent) == 512
    assert sum(state.evidence.agents.values()) == 16


def test_a_page_served_again_later_is_not_counted_twice(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    """Before: the first page served again as the sixth (past the last three pages' ids) counted again.
    Its nextLink differs only by a fragment, so the real sixth page follows and nothing loops."""
    scenario = busy_tenant(tenant_id, NOW, people=2, each=40, page_size=10)
    sim = start_sim(scenario)
    first: dict[str, Any] = {}
    proxy: list[str] = []

    def fault(number: int, path: str) -> Answer | Rewrite | None:
        def remember(page: dict[str, Any]) -> dict[str, Any]:
            first.update(page)
            return page

        if number == 6:
            again = {"value": first["value"], "@odata.nextLink": proxy[0] + path + "#again"}
            return Answer(200, orjson.dumps(again), {"Content-Type": "application/json"})
        return remember if number == 1 else None

    with HostileGraph(sim.url, fault) as graph:
        proxy.append(graph.url)
        settings = sim_settings(sim, azurite, LAM_GRAPH_BASE_URL=graph.url)
        run = collect(settings)
    assert run.outcome == "succeeded", run.message
    assert figures(run).noted["repeated_page"] == 10
    assert counted(settings) == truth(scenario, NOW - timedelta(days=30), NOW)


def test_a_failed_run_row_kept_while_storage_was_down_is_written_once_it_is_back(
    tenant_id: str, start_sim: StartSim, tmp_path: Path
) -> None:
    """Before: Azurite stopped mid-run gave a traceback and no failed-run row, ever."""
    scenario = busy_tenant(tenant_id, NOW, people=2, each=30, page_size=10)
    sim = start_sim(scenario)
    storage = Azurite(tmp_path / "tables").start()

    def stop_storage(number: int, path: str) -> None:
        if number == 2:
            storage.stop()

    try:
        with HostileGraph(sim.url, stop_storage) as graph:
            settings = sim_settings(sim, storage, LAM_GRAPH_BASE_URL=graph.url, LAM_CHECKPOINT_PAGES="1")
            with pytest.raises(StepFailedError) as caught:
                collect(settings)
            assert caught.value.storage_down and "\n" not in caught.value.failed[0].message
            storage.start(port=storage.port)  # storage is back
            healed = collect(settings, NOW + timedelta(minutes=30))
        rows = runs_rows(settings)
        users = counted(settings)
    finally:
        storage.stop()
    assert healed.outcome == "succeeded", healed.message
    failed = [str(row["Message"]) for row in rows if row["Outcome"] == "failed"]
    assert len(failed) == 1 and failed[0].startswith("ServiceRequestError: "), failed
    assert users == truth(scenario, NOW - timedelta(days=30), NOW + timedelta(minutes=30))
