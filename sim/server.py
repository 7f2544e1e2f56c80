"""Run the simulator on a free loopback port in a background thread (tests, demo) or in the foreground."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import uvicorn

from sim.app import SimState, build_app
from sim.scenario import Scenario


class SimServer:
    def __init__(self, scenario: Scenario, outbox: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = SimState(scenario=scenario, outbox=outbox)
        config = uvicorn.Config(build_app(self.state), host=host, port=port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="tenant-sim", daemon=True)
        self.host = host

    @property
    def port(self) -> int:
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> SimServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the tenant simulator did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
