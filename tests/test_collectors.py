"""Collectors against the simulator over real HTTP, through msgraph-sdk's request adapter."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from collectors.apple_app import check_apple_app
from collectors.directory import fetch_users
from collectors.graph import GraphClient, GraphError
from collectors.signins import apple_app_filter, legacy_filter, signin_pages
from core.records import AppleAppStatus, DirectoryUser
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.wiring import graph_client
from sim.graph_shapes import sign_in
from sim.scenario import Scenario
from tests.conftest import NOW, sim_settings
from tests.scenarios import add_user, apple_signins, legacy_signins, tenant

StartSim = Callable[[Scenario], SimServer]


def graph_for(sim: SimServer, azurite: Azurite, **overrides: str) -> GraphClient:
    return graph_client(sim_settings(sim, azurite, **overrides))


async def collect(graph: GraphClient, version: str, odata: str) -> tuple[list[str], int, int]:
    ids: list[str] = []
    pages = skipped = 0
    try:
        async for page in signin_pages(graph, version, odata):
            pages += 1
            skipped += sum(page.skipped.values())
            ids.extend(e.id for e in page.events)
    finally:
        await graph.close()
    return ids, pages, skipped


def test_legacy_signins_are_filtered_and_paged(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = tenant(tenant_id)
    alice, bob = add_user(scenario, "alice"), add_user(scenario, "bob")
    legacy = legacy_signins(scenario, alice, NOW - timedelta(hours=1), 1500)  # 1500 × 6 h spans far back
    apple_signins(scenario, bob, NOW - timedelta(days=1))
    scenario.sign_ins.append(sign_in("browser-1", NOW - timedelta(hours=2), bob, client_app="Browser"))
    scenario.sort()
    sim = start_sim(scenario)
    start = NOW - timedelta(days=30)
    ids, pages, skipped = asyncio.run(
        collect(graph_for(sim, azurite), "beta", legacy_filter(start, NOW, ["Exchange ActiveSync"]))
    )
    in_window = [e["id"] for e in legacy if e["createdDateTime"] >= "2026-10-21T12:00:00Z"]
    assert sorted(ids) == sorted(in_window)
    assert len(in_window) == 120 and pages == 1
    assert skipped == 0


def test_more_than_one_page_follows_next_links(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = tenant(tenant_id)
    alice = add_user(scenario, "alice")
    for i in range(2300):
        scenario.sign_ins.append(sign_in(f"s{i}", NOW - timedelta(minutes=i), alice, client_app="Exchange ActiveSync"))
    scenario.sort()
    sim = start_sim(scenario)
    ids, pages, _ = asyncio.run(
        collect(
            graph_for(sim, azurite),
            "beta",
            legacy_filter(NOW - timedelta(days=3), NOW + timedelta(minutes=1), ["Exchange ActiveSync"]),
        )
    )
    assert pages == 3
    assert len(ids) == len(set(ids)) == 2300
    assert sim.state.requests["signIns"] == 3


def test_v1_has_no_user_agent(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = tenant(tenant_id)
    legacy_signins(scenario, add_user(scenario, "alice"), NOW - timedelta(hours=1), 1)
    sim = start_sim(scenario)

    async def agents(version: str) -> list[str]:
        graph = graph_for(sim, azurite)
        try:
            return [
                e.user_agent async for p in signin_pages(graph, version, apple_app_filter(NOW, NOW)) for e in p.events
            ] + [
                e.user_agent
                async for p in signin_pages(
                    graph, version, legacy_filter(NOW - timedelta(days=1), NOW, ["Exchange ActiveSync"])
                )
                for e in p.events
            ]
        finally:
            await graph.close()

    assert asyncio.run(agents("beta")) == ["Apple-iPhone14C2/2004.47"]
    assert asyncio.run(agents("v1.0")) == [""]


def test_graph_errors_are_typed_and_carry_graphs_code(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = tenant(tenant_id)
    scenario.faults["signIns"] = {
        "status": 403,
        "code": "Authorization_RequestDenied",
        "message": "Insufficient privileges",
    }
    sim = start_sim(scenario)
    with pytest.raises(GraphError) as info:
        asyncio.run(collect(graph_for(sim, azurite), "beta", legacy_filter(NOW, NOW, ["Exchange ActiveSync"])))
    assert (info.value.status, info.value.code) == (403, "Authorization_RequestDenied")
    assert "Insufficient privileges" in str(info.value)


@pytest.mark.parametrize(
    ("present", "consented", "ready"), [(True, True, True), (True, False, False), (False, False, False)]
)
def test_apple_app_presence_and_consent(
    tenant_id: str, start_sim: StartSim, azurite: Azurite, present: bool, consented: bool, ready: bool
) -> None:
    sim = start_sim(tenant(tenant_id, apple_present=present, consented=consented))

    async def check() -> AppleAppStatus:
        graph = graph_for(sim, azurite)
        try:
            return await check_apple_app(graph)
        finally:
            await graph.close()

    status = asyncio.run(check())
    assert status.present is present
    assert status.ready is ready
    if present:
        assert status.display_name == "Apple Internet Accounts"


def test_consent_without_the_eas_scope_is_not_ready(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = tenant(tenant_id)
    scenario.grants[0]["scope"] = "EWS.AccessAsUser.All"
    sim = start_sim(scenario)

    async def check() -> bool:
        graph = graph_for(sim, azurite)
        try:
            return (await check_apple_app(graph)).admin_consent
        finally:
            await graph.close()

    assert asyncio.run(check()) is False


def test_directory_users_and_their_mail_address(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = tenant(tenant_id)
    alice = add_user(scenario, "alice")
    proxy = add_user(
        scenario, "proxy", mail=None, proxy_addresses=["smtp:old@contoso.example", "SMTP:proxy.primary@contoso.example"]
    )
    nomail = add_user(scenario, "nomail", mail=None, proxy_addresses=[])
    add_user(scenario, "unwanted")
    sim = start_sim(scenario)

    async def fetch() -> dict[str, DirectoryUser]:
        graph = graph_for(sim, azurite)
        try:
            users, _ = await fetch_users(graph, {alice["id"], proxy["id"], nomail["id"]})
            return dict(users)
        finally:
            await graph.close()

    users = asyncio.run(fetch())
    assert set(users) == {alice["id"], proxy["id"], nomail["id"]}
    assert users[alice["id"]].mail == "alice@contoso.example"
    assert users[proxy["id"]].mail == "proxy.primary@contoso.example"
    assert users[nomail["id"]].mail is None


async def one_page(graph: GraphClient) -> int:
    try:
        ids = [
            e.id
            async for p in signin_pages(graph, "beta", apple_app_filter(NOW - timedelta(days=2), NOW))
            for e in p.events
        ]
    finally:
        await graph.close()
    return len(ids)


def test_transient_failures_are_retried_by_us_alone(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = tenant(tenant_id)
    apple_signins(scenario, add_user(scenario, "alice"), NOW - timedelta(days=1), 3)
    scenario.faults["signIns"] = {"status": 503, "code": "ServiceUnavailable", "retry_after": 0, "times": 2}
    sim = start_sim(scenario)
    graph = graph_for(sim, azurite)
    assert asyncio.run(one_page(graph)) == 3
    assert sim.state.requests["signIns"] == 3, "two failures and the answer: no hidden retries of the SDK on top"
    assert (graph.stats.requests, graph.stats.retries) == (3, 2)


def test_a_request_graph_does_not_answer_in_time_is_retried(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    apple_signins(scenario, add_user(scenario, "alice"), NOW - timedelta(days=1), 2)
    scenario.faults["signIns"] = {"hang_seconds": 3, "times": 1}
    sim = start_sim(scenario)
    graph = graph_for(sim, azurite, LAM_GRAPH_TIMEOUT_SECONDS="0.5")
    assert asyncio.run(one_page(graph)) == 2
    assert graph.stats.retries == 1


def test_an_error_graph_will_not_change_is_not_retried(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = tenant(tenant_id)
    scenario.faults["signIns"] = {"status": 403, "code": "Authorization_RequestDenied", "message": "Insufficient"}
    sim = start_sim(scenario)
    with pytest.raises(GraphError, match="403 Authorization_RequestDenied"):
        asyncio.run(one_page(graph_for(sim, azurite)))
    assert sim.state.requests["signIns"] == 1


def test_directory_lookups_ask_for_fifteen_users_at_a_time(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    people = [add_user(scenario, f"user{n}") for n in range(40)]
    sim = start_sim(scenario)

    async def fetch() -> set[str]:
        graph = graph_for(sim, azurite)
        try:
            found, skipped = await fetch_users(graph, {p["id"] for p in people[:31]} | {"not-a-guid"})
            assert skipped == {"user_id_not_a_guid": 1}
            return set(found)
        finally:
            await graph.close()

    assert asyncio.run(fetch()) == {p["id"] for p in people[:31]}
    assert sim.state.requests["users"] == 3
