"""Errors an admin meets, as the admin meets them: the CLI in a real process, the admin API over real HTTP.

One line naming the setting or argument and what to do, exit 2, no traceback unless --debug; the API
answers JSON (a fast 503 naming the setting when the state tables are down).
"""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.asgi_server import AsgiServer
from devstack.azurite import Azurite
from pipeline.admin import admin_app
from pipeline.settings import load_settings
from tests.test_cli import cli

TENANT = "5b1d7a0e-3c39-4f0e-9a8e-4d2c6f1b7a90"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""Azurite's documented well-known development key (Microsoft Learn, "Use Azurite for local development")."""


def closed_port() -> int:
    """A loopback port nobody listens on: the state store is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def storage_down_env() -> dict[str, str]:
    endpoint = f"http://127.0.0.1:{closed_port()}/devstoreaccount1"
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};TableEndpoint={endpoint};"
    )
    return {"LAM_TENANT_ID": TENANT, "LAM_NOTIFY_MODE": "off", "LAM_TABLES_CONNECTION_STRING": connection}


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.integration
@pytest.mark.parametrize("args", [("report",), ("report", "--summary"), ("findings",), ("notify",), ("run", "--once")])
def test_storage_down_is_one_line_naming_the_setting(args: tuple[str, ...]) -> None:
    env = storage_down_env()
    started = time.monotonic()
    result = cli(*args, env=env)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "state tables unreachable at http://127.0.0.1:" in line and "(LAM_TABLES_CONNECTION_STRING)" in line
    assert "Start Azurite" in line and "Traceback" not in result.stderr
    assert ACCOUNT_KEY not in result.stderr and ACCOUNT_KEY[:20] not in result.stdout
    assert time.monotonic() - started < 30


@pytest.mark.integration
def test_debug_shows_the_traceback() -> None:
    result = cli("--debug", "findings", env=storage_down_env())
    assert result.returncode != 0 and "ServiceRequestError" in result.stderr
    assert len(result.stderr.splitlines()) > 5


@pytest.mark.integration
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("report", "--format", "csv", "--out", "/missing/dir/x.csv"), "--out: folder /missing/dir does not exist"),
        (("report", "--out", "x.txt"), "--out: needs --format json or csv"),
        (("report", "--format", "nope"), "Invalid value for '--format'"),
        (("findings", "--format", "yaml"), "Invalid value for '--format'"),
        (("report", "--bogus"), "No such option: --bogus"),
    ],
)
def test_bad_arguments_and_paths_are_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    result = cli(*args, env=storage_down_env())  # refused before the (down) store is asked
    assert result.returncode == 2
    assert message in one_line(result.stderr)
    assert "Traceback" not in result.stderr


@pytest.fixture
def down_api() -> Iterator[str]:
    settings = load_settings(storage_down_env())
    server = AsgiServer(admin_app(lambda: settings), name="admin-down").start()
    yield server.url
    server.stop()


@pytest.mark.parametrize("path", ["/api/summary", "/api/dashboard", "/api/users?limit=5", "/api/runs"])
def test_the_api_answers_503_with_the_reason_when_storage_is_down(down_api: str, path: str) -> None:
    started = time.monotonic()
    response = httpx.get(down_api + path, timeout=30)
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "the state tables are unavailable"
    assert "(LAM_TABLES_CONNECTION_STRING)" in body["reason"] and ACCOUNT_KEY not in body["reason"]
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_unknown_paths_and_methods_answer_json(down_api: str) -> None:
    missing = httpx.get(down_api + "/api/nope", timeout=10)
    assert missing.status_code == 404 and missing.json() == {"error": "no such view: GET /api/nope"}
    wrong = httpx.post(down_api + "/api/summary", timeout=10)
    assert wrong.status_code == 405 and wrong.json()["error"] == "no such view: POST /api/summary"


@pytest.fixture
def empty_api(azurite: Azurite, tenant_id: str) -> Iterator[str]:
    settings = load_settings(
        {
            "LAM_TENANT_ID": tenant_id,
            "LAM_NOTIFY_MODE": "off",
            "LAM_TABLES_CONNECTION_STRING": azurite.connection_string,
        }
    )
    from pipeline.wiring import StateTables

    StateTables.open(settings, create=True)
    server = AsgiServer(admin_app(lambda: settings), name="admin-empty").start()
    yield server.url
    server.stop()


def token(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=legacy_active&status=remediated", "status: given more than once"),
        ("limit=5&limit=500", "limit: given more than once"),
        ("continuation=" + token({}), "continuation: not a token this API issued"),
        ("continuation=" + token({"PartitionKey": "0", "RowKey": "0"}), "continuation: not a token this API issued"),
        (
            "continuation="
            + token({"PartitionKey": "00000000-0000-4000-8000-000000000000", "RowKey": TENANT}),  # another tenant
            "continuation: not a token this API issued",
        ),
    ],
)
def test_repeated_and_forged_parameters_are_refused(empty_api: str, query: str, message: str) -> None:
    for view in ("users", "dashboard"):
        response = httpx.get(f"{empty_api}/api/{view}?{query}", timeout=30)
        assert response.status_code == 400, response.text
        assert response.json()["error"].startswith(message)


def test_no_file_is_left_behind_by_a_refused_out(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "x.csv"
    result = cli("report", "--format", "csv", "--out", str(target), env=storage_down_env())
    assert result.returncode == 2 and not target.parent.exists()


def test_a_continuation_token_with_a_trailing_line_break_is_refused(empty_api: str) -> None:
    """A regular expression's ``$`` also matches before a final newline: the id in a token is checked whole."""
    guid = "00000000-0000-4000-8000-000000000000"
    page = httpx.get(f"{empty_api}/api/users", params={"continuation": token({"after": guid + "\n"})}, timeout=30)
    assert page.status_code == 400 and page.json()["error"].startswith("continuation: not a token this API issued")
