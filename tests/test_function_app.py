"""The Functions app indexed as the host would, and each handler run against Azurite and the simulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from functools import cache

import azure.functions as func
import pytest
from azure.data.tables import TableServiceClient
from azure.functions.timer import TimerRequest

from core.settings import SCHEDULE_SETTINGS
from devstack.azurite import Azurite
from sim.scenario import Scenario
from sim.server import SimServer
from tests.conftest import outbox_messages, sim_env
from tests.scenarios import add_user, legacy_signins, tenant

StartSim = Callable[[Scenario], SimServer]


@cache
def functions() -> dict[str, func.decorators.function_app.Function]:
    """Index once, as the host does: get_functions() validates names against what it indexed before."""
    from function_app import app

    return {f.get_function_name() or "": f for f in app.get_functions()}


def test_the_host_finds_three_timers_and_the_users_api() -> None:
    found = functions()
    assert set(found) == {"collect_and_evaluate", "check_apple_app", "notify_users", "list_users"}
    # The binding JSON the host reads from the worker at indexing time.
    schedules = {name: json.loads(fn.get_raw_bindings()[0]) for name, fn in found.items()}
    assert schedules["collect_and_evaluate"]["type"] == "timerTrigger"
    assert schedules["collect_and_evaluate"]["schedule"] == "%LAM_COLLECT_SCHEDULE%"
    assert schedules["check_apple_app"]["schedule"] == "%LAM_APPLE_CHECK_SCHEDULE%"
    assert schedules["notify_users"]["schedule"] == "%LAM_NOTIFY_SCHEDULE%"
    assert {s.strip("%") for s in (b["schedule"] for b in schedules.values() if "schedule" in b)} == set(
        SCHEDULE_SETTINGS
    )
    http = schedules["list_users"]
    assert (http["type"], http["route"], http["authLevel"], http["methods"]) == (
        "httpTrigger",
        "users",
        "FUNCTION",
        ["GET"],
    )


@pytest.fixture
def deployed(tenant_id: str, start_sim: StartSim, azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> SimServer:
    """App settings as the host would provide them, pointing at the local stack."""
    from tests.conftest import NOW

    scenario = tenant(tenant_id)
    legacy_signins(scenario, add_user(scenario, "alice"), NOW - timedelta(hours=1), 3)
    legacy_signins(scenario, add_user(scenario, "bob"), NOW - timedelta(hours=2), 2, error_code=53003)
    sim = start_sim(scenario)
    for name, value in sim_env(sim, azurite).items():
        monkeypatch.setenv(name, value)
    return sim


def run_timer(name: str) -> None:
    handler = functions()[name].get_user_function()
    asyncio.run(handler(TimerRequest(past_due=False)))


def test_the_timers_run_the_cycle(deployed: SimServer, azurite: Azurite) -> None:
    run_timer("check_apple_app")
    run_timer("collect_and_evaluate")
    run_timer("notify_users")
    assert sorted(m["To"] for m in outbox_messages(deployed.state.outbox)) == [
        "Alice <alice@contoso.example>",
        "Bob <bob@contoso.example>",
    ]
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    runs = service.get_table_client("runs").query_entities(
        "PartitionKey eq @pk", parameters={"pk": deployed.state.scenario.tenant_id}
    )
    assert sorted(r["Step"] for r in runs) == ["apple-app", "collect", "notify"]


def call_users_api(**params: str) -> func.HttpResponse:
    handler = functions()["list_users"].get_user_function()
    request = func.HttpRequest(method="GET", url="/api/users", params=params, body=b"")
    response: func.HttpResponse = handler(request)
    return response


def test_users_api_json_and_csv(deployed: SimServer) -> None:
    run_timer("collect_and_evaluate")
    response = call_users_api()
    assert response.status_code == 200
    rows = json.loads(response.get_body())
    assert sorted(r["upn"] for r in rows) == ["alice@contoso.example", "bob@contoso.example"]
    assert {r["status"] for r in rows} == {"legacy_active"}
    csv = call_users_api(format="csv", status="legacy_active")
    assert csv.mimetype == "text/csv"
    lines = csv.get_body().decode().splitlines()
    assert lines[0].startswith("user_id,upn,display_name,status,reasons")
    assert len(lines) == 3
    assert json.loads(call_users_api(status="remediated").get_body()) == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"status": "legacy_active' or PartitionKey ne '"},
            "status: \"legacy_active' or PartitionKey ne '\" is not one of",
        ),
        ({"format": "xml"}, "format: 'xml' is not one of json, csv"),
        ({"$filter": "true"}, "unknown query parameter(s): $filter"),
    ],
)
def test_users_api_rejects_bad_input_with_a_clear_message(
    deployed: SimServer, params: dict[str, str], message: str
) -> None:
    response = call_users_api(**params)
    assert response.status_code == 400
    assert message in json.loads(response.get_body())["error"]
