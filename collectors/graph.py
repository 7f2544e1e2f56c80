"""A Graph client on msgraph-sdk's request adapter: its auth and redirect middleware, our retries and parsing.

The SDK's request builders build each request; responses come back as raw bytes and are parsed with
orjson (msgspec for sign-in pages) into our slim records, because the SDK's model deserialisation costs
seconds per page. Retries
are ours, not the SDK's RetryHandler: every attempt must pass the request pacer (Graph's budget for
sign-in logs counts retries too), and a request that keeps failing ends in a typed error that says
what Graph answered and how long we tried.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from kiota_abstractions.authentication import AnonymousAuthenticationProvider, AuthenticationProvider
from kiota_abstractions.method import Method
from kiota_abstractions.native_response_handler import NativeResponseHandler
from kiota_abstractions.request_information import RequestInformation
from kiota_http.middleware.options import RedirectHandlerOption, ResponseHandlerOption, RetryHandlerOption
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph_core import GraphClientFactory

from collectors.capped_transport import CappedTransport, ResponseTooLargeError
from collectors.pacing import RequestPacer
from core.retry import RETRYABLE_STATUS, RetryPolicy, retry_after_seconds
from core.runs import GraphCost

MAX_WIRE_BYTES = 16 * 1024 * 1024
"""A page of 1,000 sign-ins is about 1 MB, a few MB uncompressed; nothing Graph sends us comes near."""
MAX_BODY_BYTES = 32 * 1024 * 1024


class GraphError(Exception):
    """A Graph call failed; ``code`` is Graph's error code (e.g. Authorization_RequestDenied)."""

    def __init__(self, status: int, code: str, message: str, url: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.url = url
        said = f"Graph answered {status} {code}" if status else f"Graph did not answer ({code})"
        super().__init__(f"{said}: {message} ({url})")


class GraphResponseError(GraphError):
    """Graph answered 2xx with a body that is not the JSON object we expect."""


class GraphDeadlineError(GraphError):
    """Waiting any longer for Graph (a Retry-After, the request budget) would pass the run's deadline."""


class GraphRetriesExhaustedError(GraphError):
    """Graph kept throttling or failing a request; ``attempts`` were made over ``seconds``."""

    def __init__(self, status: int, code: str, message: str, url: str, attempts: int, seconds: float) -> None:
        self.attempts = attempts
        self.seconds = seconds
        super().__init__(status, code, message, url)


@dataclass
class GraphStats:
    """What talking to Graph cost in one run: the figures the runs table and the benchmark show."""

    requests: int = 0
    throttled: int = 0
    retries: int = 0
    retry_wait_seconds: float = 0.0
    pacing_wait_seconds: float = 0.0

    def cost_since(self, before: GraphStats) -> GraphCost:
        """What was spent since ``before`` was copied: a step's share of a client its cycle shares."""
        return GraphCost(
            requests=self.requests - before.requests,
            throttled=self.throttled - before.throttled,
            retries=self.retries - before.retries,
            retry_wait_ms=round((self.retry_wait_seconds - before.retry_wait_seconds) * 1000),
            pacing_wait_ms=round((self.pacing_wait_seconds - before.pacing_wait_seconds) * 1000),
        )


class GraphClient:
    """Sends requests built by the SDK's request builders; returns raw bytes or parsed JSON objects."""

    def __init__(
        self,
        auth: AuthenticationProvider,
        base_url: str,
        *,
        timeout_seconds: float = 120.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._auth = auth
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout_seconds
        self._adapters: dict[str, GraphRequestAdapter] = {}
        self.retry = retry or RetryPolicy()
        self.stats = GraphStats()

    @property
    def base_url(self) -> str:
        return self._base_url

    def adapter(self, version: str) -> GraphRequestAdapter:
        """One adapter per API version (v1.0 or beta), created lazily inside the running loop."""
        adapter = self._adapters.get(version)
        if adapter is None:
            transport = CappedTransport(httpx.AsyncHTTPTransport(http2=True), MAX_WIRE_BYTES, MAX_BODY_BYTES)
            timeout = httpx.Timeout(self._timeout, connect=min(self._timeout, 10.0))
            http = httpx.AsyncClient(timeout=timeout, transport=transport)
            # no SDK retries (ours are paced), and no redirects: a 3xx could lead anywhere with our token
            options: dict[str, Any] = {
                RetryHandlerOption.get_key(): RetryHandlerOption(max_retries=0),
                RedirectHandlerOption.get_key(): RedirectHandlerOption(should_redirect=False),
            }
            client = GraphClientFactory.create_with_default_middleware(client=http, options=options)
            adapter = GraphRequestAdapter(self._auth, client=client)
            adapter.base_url = f"{self._base_url}/{version}"  # no trailing slash, or paths get "//"
            self._adapters[version] = adapter
        return adapter

    async def get_bytes(
        self,
        version: str,
        request: RequestInformation,
        pacer: RequestPacer | None = None,
        deadline: float | None = None,
    ) -> bytes:
        """The body of a successful answer, after as many paced retries as the policy allows; never waiting
        past ``deadline`` (time.monotonic()), and never longer than the policy's Retry-After cap."""
        adapter = self.adapter(version)
        request.add_request_options([ResponseHandlerOption(NativeResponseHandler())])
        url = _describe(request)
        started = time.monotonic()
        for attempt in range(self.retry.max_retries + 1):
            response, problem = await self._attempt(adapter, request, pacer, deadline)
            if response is not None and response.status_code < 300:
                content = response.content
                # httpx responses sit in reference cycles: collected young, or each page's body (a
                # megabyte for sign-ins) lingers until the next full collection and memory creeps up
                del response
                gc.collect(1)
                return content
            if response is not None and response.status_code < 400:
                raise GraphResponseError(*problem, url)  # a redirect: never followed, our token stays here
            if response is not None and response.status_code not in RETRYABLE_STATUS:
                raise GraphError(*problem, url)
            retry_after = retry_after_seconds(response.headers.get("Retry-After")) if response is not None else None
            if response is not None and response.status_code == 429:
                self.stats.throttled += 1
                if pacer is not None and retry_after is not None:
                    pacer.pause(self.retry.capped_retry_after(retry_after))
            if attempt == self.retry.max_retries:
                break
            delay = self.retry.delay(attempt, retry_after)
            _check_deadline(deadline, delay, problem, url)
            self.stats.retries += 1
            self.stats.retry_wait_seconds += delay
            await asyncio.sleep(delay)
        status, code, message = problem
        raise GraphRetriesExhaustedError(
            status,
            code,
            f"{message}; gave up after {self.retry.max_retries + 1} attempts over "
            f"{time.monotonic() - started:.0f} s (LAM_GRAPH_MAX_RETRIES={self.retry.max_retries})",
            url,
            attempts=self.retry.max_retries + 1,
            seconds=time.monotonic() - started,
        )

    async def _attempt(
        self,
        adapter: GraphRequestAdapter,
        request: RequestInformation,
        pacer: RequestPacer | None,
        deadline: float | None,
    ) -> tuple[httpx.Response | None, tuple[int, str, str]]:
        """One paced attempt: the response, or None and what went wrong on the wire. The whole answer,
        headers and body, must come within the timeout: a server trickling a byte at a time is cut off."""
        if pacer is not None:
            _check_deadline(
                deadline, pacer.wait_needed(), (0, "Paced", "the request budget is paused"), _describe(request)
            )
            waited = pacer.waited_seconds
            await pacer.acquire()
            self.stats.pacing_wait_seconds += pacer.waited_seconds - waited
        self.stats.requests += 1
        try:
            async with asyncio.timeout(self._timeout):
                response: httpx.Response = await adapter.send_primitive_async(request, "bytes", None)
        except (TimeoutError, httpx.TimeoutException) as exc:
            return None, (0, "Timeout", f"no whole answer within {self._timeout:g} s ({type(exc).__name__})")
        except ResponseTooLargeError as exc:
            raise GraphResponseError(200, "responseTooLarge", str(exc), _describe(request)) from exc
        except httpx.TransportError as exc:
            return None, (0, "ConnectionFailed", f"{type(exc).__name__}: {exc}")
        if response.status_code < 300:
            return response, (response.status_code, "", "")
        if response.status_code < 400:
            where = response.headers.get("Location", "")[:200]
            return response, (response.status_code, "redirectRefused", f"Graph redirected to {where!r}; not followed")
        code, message = _error_body(response)
        return response, (response.status_code, code, message)

    async def get_object(
        self, version: str, request: RequestInformation, pacer: RequestPacer | None = None
    ) -> dict[str, Any]:
        raw = await self.get_bytes(version, request, pacer)
        return parse_object(raw, _describe(request))

    async def pages(self, version: str, first: RequestInformation) -> AsyncIterator[dict[str, Any]]:
        """Yield each page of a collection, following @odata.nextLink while it stays on our Graph."""
        request: RequestInformation | None = first
        while request is not None:
            page = await self.get_object(version, request)
            next_link = page.get("@odata.nextLink")
            request = self.next_request(next_link) if isinstance(next_link, str) and next_link else None
            yield page

    def owns(self, url: str) -> bool:
        """Whether ``url`` is on the configured Graph: same scheme, host and port, under its path."""
        return same_origin(url, self._base_url)

    def next_request(self, url: str) -> RequestInformation:
        """The request for a nextLink (or a saved cursor) that stays on our Graph; else the page that
        named it is refused: a link elsewhere would carry our token there and bring back its data."""
        if not self.owns(url):
            raise GraphResponseError(
                200, "foreignNextLink", "a nextLink leaves LAM_GRAPH_BASE_URL (host, port or path)", url[:300]
            )
        return next_request(url)

    async def close(self) -> None:
        for adapter in self._adapters.values():
            await adapter._http_client.aclose()
        self._adapters.clear()


def parse_object(raw: bytes, url: str) -> dict[str, Any]:
    try:
        body = orjson.loads(raw or b"")
    except orjson.JSONDecodeError as exc:
        raise GraphResponseError(200, "invalidJson", f"response is not JSON: {exc}", url) from exc
    if not isinstance(body, dict):
        raise GraphResponseError(200, "invalidJson", "response is not a JSON object", url)
    return body


def _error_body(response: httpx.Response) -> tuple[str, str]:
    """Graph's error code and message, or the HTTP reason when the body is not Graph's error shape."""
    try:
        error = orjson.loads(response.content or b"{}").get("error") or {}
    except (orjson.JSONDecodeError, AttributeError):
        error = {}
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    reason = response.reason_phrase or "error"
    return str(code or reason.replace(" ", "")), str(message or f"HTTP {response.status_code} {reason}")


def next_request(url: str) -> RequestInformation:
    request = RequestInformation(Method.GET)
    request.url = url
    request.headers.try_add("Accept", "application/json")
    return request


def build_graph_client(
    base_url: str, credential: Any | None, *, timeout_seconds: float = 120.0, retry: RetryPolicy | None = None
) -> GraphClient:
    """No credential: no token (the loopback simulator). Else the async Azure credential, scoped to Graph."""
    if credential is None:
        return GraphClient(AnonymousAuthenticationProvider(), base_url, timeout_seconds=timeout_seconds, retry=retry)
    from msgraph_core.authentication import AzureIdentityAuthenticationProvider

    host = urlsplit(base_url).hostname or "graph.microsoft.com"
    auth = AzureIdentityAuthenticationProvider(credential, scopes=[f"{base_url}/.default"], allowed_hosts=[host])
    return GraphClient(auth, base_url, timeout_seconds=timeout_seconds, retry=retry)


def same_origin(url: str, base_url: str) -> bool:
    try:
        link, base = urlsplit(url), urlsplit(base_url)
        return (
            link.scheme == base.scheme
            and link.hostname is not None
            and link.hostname == base.hostname
            and (link.port or _DEFAULT_PORTS.get(link.scheme)) == (base.port or _DEFAULT_PORTS.get(base.scheme))
            and not link.username
            and link.path.startswith(base.path.rstrip("/") + "/")
        )
    except ValueError:  # a port that is not a number, an unclosed IPv6 bracket
        return False


_DEFAULT_PORTS = {"https": 443, "http": 80}


def _check_deadline(deadline: float | None, wait: float, problem: tuple[int, str, str], url: str) -> None:
    if deadline is not None and wait > 0 and time.monotonic() + wait > deadline:
        status, code, message = problem
        raise GraphDeadlineError(
            status, code, f"{message}; waiting {wait:.0f} s more would pass this run's deadline", url
        )


def _describe(request: RequestInformation) -> str:
    try:
        return str(request.url)
    except Exception:
        return "<unbuilt request>"
