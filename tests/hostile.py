"""A hostile Graph on loopback: a proxy in front of the tenant simulator that can change any answer.

Each sign-in request goes through ``fault(number, path)``, which may return an ``Answer`` to send
instead of the simulator's, or a function that rewrites the simulator's page (a dict, into a dict or
raw bytes); everything
else (directory, Apple app, mail) passes through untouched. Real HTTP on 127.0.0.1 only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    trickle_seconds: float = 0.0
    """Send the body one byte at a time, this long apart (a server beating a per-read timeout)."""
    chunks: Iterator[bytes] | None = None
    """Stream these chunks instead of ``body`` (a gzip bomb that is never held whole)."""


Rewrite = Callable[[dict[str, Any]], dict[str, Any] | bytes]
Fault = Callable[[int, str], Answer | Rewrite | None]


class Server:
    """A ThreadingHTTPServer on a free loopback port, with one handler function."""

    def __init__(self, handle: Callable[[BaseHTTPRequestHandler], None]) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                handle(self)

            def do_POST(self) -> None:
                outer.requests.append(self.path)
                handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def send(handler: BaseHTTPRequestHandler, answer: Answer) -> None:
    handler.send_response(answer.status)
    for name, value in answer.headers.items():
        handler.send_header(name, value)
    if answer.chunks is not None:
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        try:
            for chunk in answer.chunks:
                handler.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            handler.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        return
    handler.send_header("Content-Length", str(len(answer.body)))
    handler.end_headers()
    try:
        if answer.trickle_seconds:
            for i in range(len(answer.body)):
                handler.wfile.write(answer.body[i : i + 1])
                handler.wfile.flush()
                time.sleep(answer.trickle_seconds)
        else:
            handler.wfile.write(answer.body)
    except (BrokenPipeError, ConnectionResetError):
        pass


class HostileGraph(Server):
    """The proxy: sign-in requests numbered from 1 and offered to ``fault`` before the simulator answers."""

    def __init__(self, upstream: str, fault: Fault) -> None:
        self.signin_requests = 0
        self._lock = threading.Lock()
        self._client = httpx.Client(base_url=upstream, timeout=30)
        super().__init__(self._handle)
        self._fault = fault

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        change: Answer | Rewrite | None = None
        if "/auditLogs/signIns" in handler.path:
            with self._lock:
                self.signin_requests += 1
                number = self.signin_requests
            change = self._fault(number, handler.path)
        if isinstance(change, Answer):
            send(handler, change)
            return
        length = int(handler.headers.get("Content-Length") or 0)
        upstream = self._client.request(
            handler.command,
            handler.path,
            content=handler.rfile.read(length) if length else None,
            headers={k: v for k, v in handler.headers.items() if k.lower() not in ("host", "accept-encoding")}
            | {"Host": self.url.removeprefix("http://")},
        )
        body = upstream.content
        if change is not None and upstream.status_code == 200:
            changed = change(orjson.loads(body))
            body = changed if isinstance(changed, bytes) else orjson.dumps(changed)
        headers = {k: v for k, v in upstream.headers.items() if k.lower() in ("content-type", "retry-after")}
        send(handler, Answer(upstream.status_code, body, headers))

    def __exit__(self, *_: object) -> None:
        super().__exit__()
        self._client.close()


def graph_error(status: int, code: str, message: str) -> Answer:
    """Graph's error shape (see the samples cited where each is used)."""
    body = {"error": {"code": code, "message": message, "innerError": {"date": "2026-11-20T12:00:00"}}}
    return Answer(status, orjson.dumps(body), {"Content-Type": "application/json"})
