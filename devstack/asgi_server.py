"""Serve an ASGI app on a free loopback port in a background thread: the simulator, the admin views."""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.types import ASGIApp


class AsgiServer:
    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0, name: str = "asgi") -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)
        self.host = host

    @property
    def port(self) -> int:
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> AsgiServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self._thread.name} did not start")
            time.sleep(0.02)
        return self

    def stop(self, grace: float = 2.0) -> None:
        """Stop serving. Open requests get ``grace`` seconds to finish, then are dropped: a request held
        open on purpose (the simulator's hang fault) must not hold the stop for ever."""
        self._server.should_exit = True
        self._thread.join(timeout=grace)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=5)
        if self._thread.is_alive():
            raise RuntimeError(f"{self._thread.name} did not stop")
