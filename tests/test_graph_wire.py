"""Bounds on every wait and every byte Graph sends: a real GraphClient against hostile servers on loopback.

The throttling answer is Graph's own shape (HTTP 429, ``Retry-After``, ``{"error": {"code":
"TooManyRequests", …}}``: https://learn.microsoft.com/en-us/answers/questions/1138873).
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation

from collectors.graph import (
    MAX_BODY_BYTES,
    GraphClient,
    GraphDeadlineError,
    GraphResponseError,
    GraphRetriesExhaustedError,
    build_graph_client,
)
from core.retry import RetryPolicy
from tests.hostile import Answer, Server, graph_error, send

pytestmark = pytest.mark.integration  # starts servers of its own

GIB = 1024**3


def gzip_bomb(inflated: int = GIB) -> Iterator[bytes]:
    """``inflated`` zero bytes, gzipped as they are made (about 1 MB on the wire for 1 GiB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    for _ in range(inflated // len(block)):
        if out := packer.compress(block):
            yield out
    yield packer.flush()


def request(url: str) -> RequestInformation:
    info = RequestInformation(Method.GET)
    info.url = url
    return info


def client(url: str, *, timeout: float = 10.0, retries: int = 0, max_retry_after: float = 300.0) -> GraphClient:
    policy = RetryPolicy(max_retries=retries, base_seconds=0.01, max_retry_after=max_retry_after)
    return build_graph_client(url, None, timeout_seconds=timeout, retry=policy)


async def fetch(graph: GraphClient, url: str, deadline: float | None = None) -> bytes:
    try:
        return await graph.get_bytes("beta", request(url), None, deadline)
    finally:
        await graph.close()


def test_a_gzip_bomb_is_refused_with_memory_flat() -> None:
    """Before: 1 MB inflating to 1 GiB took the process to 2.1 GB."""
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    with Server(lambda h: send(h, Answer(200, headers=headers, chunks=gzip_bomb()))) as server:
        graph = client(server.url)
        tracemalloc.start()
        try:
            with pytest.raises(GraphResponseError, match=r"responseTooLarge: answer refused: inflates past"):
                asyncio.run(fetch(graph, server.url + "/beta/auditLogs/signIns"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 3 * MAX_BODY_BYTES, f"peak {peak / 2**20:.0f} MiB while refusing a 1 GiB bomb"


def test_a_server_trickling_bytes_is_cut_off_at_the_request_timeout() -> None:
    slow = Answer(200, b'{"value": []}' * 4, trickle_seconds=0.2)  # 52 bytes over ten seconds
    with Server(lambda h: send(h, slow)) as server:
        started = time.monotonic()
        with pytest.raises(GraphRetriesExhaustedError, match="no whole answer within 1 s"):
            asyncio.run(fetch(client(server.url, timeout=1.0), server.url + "/beta/auditLogs/signIns"))
        assert time.monotonic() - started < 4


def test_retry_after_is_capped_by_the_setting_and_by_the_deadline() -> None:
    throttled = graph_error(429, "TooManyRequests", "Too many requests. Please try again later.")
    throttled.headers["Retry-After"] = "999999"
    answers = iter([throttled, Answer(200, b'{"value": []}')])
    with Server(lambda h: send(h, next(answers))) as server:
        started = time.monotonic()
        body = asyncio.run(fetch(client(server.url, retries=1, max_retry_after=0.5), server.url + "/beta/x"))
        assert body == b'{"value": []}' and time.monotonic() - started < 5
    with Server(lambda h: send(h, throttled)) as server:
        started = time.monotonic()
        with pytest.raises(GraphDeadlineError, match="would pass this run's deadline"):
            asyncio.run(fetch(client(server.url, retries=3), server.url + "/beta/x", time.monotonic() + 2))
        assert time.monotonic() - started < 2


def test_a_link_to_the_same_host_on_another_port_gets_no_request() -> None:
    with Server(lambda h: send(h, Answer(200, b"{}"))) as ours, Server(lambda h: send(h, Answer(200, b"{}"))) as other:
        graph = client(ours.url)
        for link in (
            other.url + "/beta/x",
            "/beta/x",
            "beta/x",
            "::garbage::",
            ours.url.replace("http://", "http://user@") + "/beta/x",
            "http://[::1/beta",
        ):
            with pytest.raises(GraphResponseError, match="foreignNextLink"):
                graph.next_request(link)
        assert graph.owns(ours.url + "/beta/auditLogs/signIns?$skiptoken=1!4!MA--%2f1")
        assert other.requests == []
