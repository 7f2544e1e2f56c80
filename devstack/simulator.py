"""Run the simulator on a free loopback port in a background thread (tests, demo) or in the foreground."""

from __future__ import annotations

from pathlib import Path

from devstack.asgi_server import AsgiServer
from sim.app import SimState, build_app
from sim.scenario import Scenario


class SimServer(AsgiServer):
    def __init__(self, scenario: Scenario, outbox: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = SimState(scenario=scenario, outbox=outbox)
        super().__init__(build_app(self.state), host=host, port=port, name="tenant-sim")

    def start(self, timeout: float = 10.0) -> SimServer:
        super().start(timeout)
        return self

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
