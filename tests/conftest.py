"""Shared fixtures: one Azurite per session, a fresh tenant partition and simulator per test.

Tests that start a server (Azurite, the tenant simulator), a process (`python -m cli`, checkov) or a browser
are marked ``integration``: `pytest -m "not integration"` runs the pure tests alone, in seconds.
"""

from __future__ import annotations

import email
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from core.runs import CollectFigures, NotifyFigures, RunRecord
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.settings import Settings, load_settings
from sim.scenario import Scenario

NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
SENDER = "DoNotReply@contoso.example"

SERVER_FIXTURES = frozenset({"azurite", "start_sim"})
"""Fixtures that start a server. A test using one, itself or through another fixture, is ``integration``;
a test that starts a process or a browser on its own is marked by hand in its module."""


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with Azurite() as server:
        yield server


@pytest.fixture
def tenant_id() -> str:
    """Each test gets its own tenant id, so its rows live in their own partition."""
    return str(uuid.uuid4())


@pytest.fixture
def start_sim(tmp_path: Path) -> Iterator[Callable[[Scenario], SimServer]]:
    servers: list[SimServer] = []

    def start(scenario: Scenario) -> SimServer:
        server = SimServer(scenario, tmp_path / f"sim-outbox-{len(servers)}").start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(grace=0)  # the test is over: a request a hang fault holds open is dropped


def sim_env(sim: SimServer, azurite: Azurite, **overrides: str) -> dict[str, str]:
    limit, _ = sim.state.scenario.throttle
    env = {
        "LAM_TENANT_ID": sim.state.scenario.tenant_id,
        "LAM_GRAPH_BASE_URL": sim.url,
        "LAM_GRAPH_AUTH": "none",
        "LAM_TABLES_CONNECTION_STRING": azurite.connection_string,
        "LAM_ACS_ENDPOINT": sim.url,
        "LAM_ACS_KEY": sim.state.scenario.acs_key,
        "LAM_SENDER_ADDRESS": SENDER,
        "LAM_NOTIFY_MODE": "live",
        "LAM_OUTBOX_DIR": str(sim.state.outbox),
        "LAM_SEND_PER_MINUTE": "1000",
        "LAM_SEND_PER_HOUR": "100000",
        "LAM_SIGNINS_RATE_LIMIT": f"{limit}/{sim.state.throttle_window:g}s",  # the simulator's own throttle
    }
    env.update(overrides)
    return env


def sim_settings(sim: SimServer, azurite: Azurite, **overrides: str) -> Settings:
    return load_settings(sim_env(sim, azurite, **overrides))


def figures(run: RunRecord) -> CollectFigures:
    """A collect run's typed figures (what the dashboard and the benchmark read)."""
    assert isinstance(run.figures, CollectFigures), f"{run.step} run has no collect figures"
    return run.figures


def notify_figures(run: RunRecord) -> NotifyFigures:
    assert isinstance(run.figures, NotifyFigures), f"{run.step} run has no notify figures"
    return run.figures


def outbox_messages(folder: Path) -> list[EmailMessage]:
    """The mail a user would receive, read back from the .eml files."""
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(folder.glob("*.eml"))]


def plain_text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None, "the message has no plain-text part"
    return str(body.get_content())
