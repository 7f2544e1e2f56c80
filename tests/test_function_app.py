"""The Functions app indexed as the host would, and each handler run against Azurite and the simulator."""

from __future__ import annotations

import ast
import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

import azure.functions as func
import pytest
from azure.data.tables import TableServiceClient
from azure.functions.timer import TimerRequest

from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.settings import SCHEDULE_SETTINGS
from report.app import KEYED_PREFIX
from sim.scenario import Scenario
from tests.conftest import outbox_messages, sim_env
from tests.scenarios import add_user, legacy_signins, tenant

StartSim = Callable[[Scenario], SimServer]


@cache
def functions() -> dict[str, func.decorators.function_app.Function]:
    """Index once, as the host does: get_functions() validates names against what it indexed before."""
    from function_app import app

    return {f.get_function_name() or "": f for f in app.get_functions()}


def test_the_entry_module_only_registers_blueprints() -> None:
    """function_app.py is a module, which import-linter's contracts cannot name: checked here instead."""
    tree = ast.parse((Path(__file__).resolve().parent.parent / "function_app.py").read_text())
    imported = {
        alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported == {"azure.functions", "blueprints.admin_api", "blueprints.timers"}


def test_the_host_finds_three_timers_and_the_users_api() -> None:
    found = functions()
    assert set(found) == {
        "collect_and_evaluate",
        "check_apple_app",
        "notify_users",
        "send_digest",
        "admin_views",
        "admin_keyed",
    }
    # The binding JSON the host reads from the worker at indexing time.
    schedules = {name: json.loads(fn.get_raw_bindings()[0]) for name, fn in found.items()}
    assert schedules["collect_and_evaluate"]["type"] == "timerTrigger"
    assert schedules["collect_and_evaluate"]["schedule"] == "%LAM_COLLECT_SCHEDULE%"
    assert schedules["check_apple_app"]["schedule"] == "%LAM_APPLE_CHECK_SCHEDULE%"
    assert schedules["notify_users"]["schedule"] == "%LAM_NOTIFY_SCHEDULE%"
    assert {s.strip("%") for s in (b["schedule"] for b in schedules.values() if "schedule" in b)} == set(
        SCHEDULE_SETTINGS
    )
    # changed by issue 16: people sign in with Entra ID (no key, the app refuses anyone App Service
    # authentication did not sign in); scripts keep the function key on /api/keyed/…, the path infra/
    # leaves out of the sign-in (tests/infra_rules.py checks the two agree)
    people, scripts = schedules["admin_views"], schedules["admin_keyed"]
    assert (people["type"], people["route"], people["authLevel"], people["methods"]) == (
        "httpTrigger",
        "{*path}",
        "ANONYMOUS",
        ["GET"],
    )
    assert (scripts["type"], scripts["route"], scripts["authLevel"], scripts["methods"]) == (
        "httpTrigger",
        KEYED_PREFIX.removeprefix("/api/") + "/{*path}",
        "FUNCTION",
        ["GET"],
    )
    assert sorted(found)[0] == "admin_keyed", "the key door sorts first (the host's route order goes by name)"


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


def call_admin(
    path: str, function: str = "admin_keyed", headers: dict[str, str] | None = None, **params: str
) -> func.HttpResponse:
    """Through the Functions entry point, as the host calls it (after checking the key of ``admin_keyed``):
    the ASGI middleware and the admin app."""
    handler = functions()[function].get_user_function()
    prefix = "/api/keyed" if function == "admin_keyed" else "/api"
    url = f"http://localhost{prefix}/{path}" + (f"?{urlencode(params)}" if params else "")
    request = func.HttpRequest(method="GET", url=url, headers=headers or {}, params=params, body=b"")
    response: func.HttpResponse = asyncio.run(handler(request, None))
    return response


def test_admin_views_through_the_function(deployed: SimServer) -> None:
    run_timer("collect_and_evaluate")
    response = call_admin("users")
    assert response.status_code == 200
    rows = json.loads(response.get_body())["users"]
    assert sorted(r["upn"] for r in rows) == ["alice@contoso.example", "bob@contoso.example"]
    csv = call_admin("users", format="csv", status="legacy_active")
    assert (csv.status_code, csv.mimetype) == (200, "text/csv; charset=utf-8"), csv.get_body()
    body = csv.get_body().decode("utf-8")
    assert body.startswith("\ufeffuser_id,upn,display_name,status,reasons")
    assert len(body.splitlines()) == 3
    dashboard = call_admin("dashboard")
    assert dashboard.status_code == 200
    assert "default-src 'none'" in dashboard.headers["Content-Security-Policy"]
    bad = call_admin("users", status="legacy_active' or PartitionKey ne '")
    assert bad.status_code == 400
    assert "status:" in json.loads(bad.get_body())["error"]


def test_the_people_door_through_the_function_needs_app_service_sign_in(
    deployed: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    principal = {"X-MS-CLIENT-PRINCIPAL-ID": "00000000-0000-0000-0000-000000000000"}
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED", raising=False)
    assert call_admin("summary", "admin_views", principal).status_code == 403, "a forged header alone opens nothing"
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    assert call_admin("summary", "admin_views").status_code == 401
    assert call_admin("keyed/summary", "admin_views").status_code == 401, "the key door's path is no way round"
    signed_in = call_admin("summary", "admin_views", principal)
    assert signed_in.status_code == 200 and json.loads(signed_in.get_body())["tracked"] == 0


@pytest.mark.parametrize(
    "path", ["keyed/../users", "KEYED/users", "/keyed/users", "keyed%2Fusers", "keyed/users.", "Keyed/dashboard"]
)
def test_no_spelling_of_the_key_doors_path_opens_the_peoples_door_without_sign_in(
    deployed: SimServer, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """Whatever path the host hands the anonymous function, it answers only a signed-in person."""
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    refused = call_admin(path, "admin_views", code="a-function-key")
    assert refused.status_code == 401, path
    assert b"a-function-key" not in refused.get_body()
