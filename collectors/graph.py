"""A Graph client on msgraph-sdk's request adapter: its auth, retry and redirect middleware, our parsing.

The SDK's request builders build each request; responses come back as raw bytes and are parsed with
orjson into our slim records, because the SDK's model deserialisation costs seconds per page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
from kiota_abstractions.api_client_builder import register_default_deserializer
from kiota_abstractions.authentication import AnonymousAuthenticationProvider, AuthenticationProvider
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.graph_request_adapter import GraphRequestAdapter

from core.settings import Settings

_ERROR_MAP: dict[str, Any] = {"XXX": ODataError}


class GraphError(Exception):
    """A Graph call failed; ``code`` is Graph's error code (e.g. Authorization_RequestDenied)."""

    def __init__(self, status: int, code: str, message: str, url: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.url = url
        super().__init__(f"Graph answered {status} {code}: {message} ({url})")


class GraphResponseError(GraphError):
    """Graph answered 2xx with a body that is not the JSON object we expect."""


class GraphClient:
    """Sends requests built by the SDK's request builders and returns parsed JSON objects."""

    def __init__(self, auth: AuthenticationProvider, base_url: str) -> None:
        self._auth = auth
        self._base_url = base_url.rstrip("/")
        self._adapters: dict[str, GraphRequestAdapter] = {}
        self.requests = 0

    def adapter(self, version: str) -> GraphRequestAdapter:
        """One adapter per API version (v1.0 or beta), created lazily inside the running loop."""
        adapter = self._adapters.get(version)
        if adapter is None:
            register_default_deserializer(JsonParseNodeFactory)  # to read Graph's error bodies
            adapter = GraphRequestAdapter(self._auth)
            adapter.base_url = f"{self._base_url}/{version}"  # no trailing slash, or paths get "//"
            self._adapters[version] = adapter
        return adapter

    async def get_object(self, version: str, request: RequestInformation) -> dict[str, Any]:
        adapter = self.adapter(version)
        self.requests += 1
        url = _describe(request)
        try:
            raw = await adapter.send_primitive_async(request, "bytes", _ERROR_MAP)
        except ODataError as exc:
            error = exc.error
            raise GraphError(
                exc.response_status_code or 0,
                (error.code if error else None) or "unknown",
                (error.message if error else None) or str(exc),
                url,
            ) from exc
        try:
            body = orjson.loads(raw or b"")
        except orjson.JSONDecodeError as exc:
            raise GraphResponseError(200, "invalidJson", f"response is not JSON: {exc}", url) from exc
        if not isinstance(body, dict):
            raise GraphResponseError(200, "invalidJson", "response is not a JSON object", url)
        return body

    async def pages(self, version: str, first: RequestInformation) -> AsyncIterator[dict[str, Any]]:
        """Yield each page of a collection, following @odata.nextLink verbatim."""
        request: RequestInformation | None = first
        while request is not None:
            page = await self.get_object(version, request)
            yield page
            next_link = page.get("@odata.nextLink")
            request = next_request(next_link) if isinstance(next_link, str) and next_link else None

    async def close(self) -> None:
        for adapter in self._adapters.values():
            await adapter._http_client.aclose()
        self._adapters.clear()


def next_request(url: str) -> RequestInformation:
    request = RequestInformation(Method.GET)
    request.url = url
    request.headers.try_add("Accept", "application/json")
    return request


def build_graph_client(settings: Settings, credential_factory: Callable[[], Any] | None = None) -> GraphClient:
    """Pick the authentication the settings ask for: none (loopback simulator) or an Azure credential."""
    if settings.graph_auth == "none":
        return GraphClient(AnonymousAuthenticationProvider(), settings.graph_base_url)
    from msgraph_core.authentication import AzureIdentityAuthenticationProvider

    credential = (credential_factory or (lambda: azure_credential(settings)))()
    host = urlsplit(settings.graph_base_url).hostname or "graph.microsoft.com"
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=[f"{settings.graph_base_url}/.default"], allowed_hosts=[host]
    )
    return GraphClient(auth, settings.graph_base_url)


def azure_credential(settings: Settings) -> Any:
    """The async credential for Graph: the user-assigned managed identity, or DefaultAzureCredential."""
    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

    if settings.graph_auth == "managed-identity":
        return ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
    return DefaultAzureCredential()


def _describe(request: RequestInformation) -> str:
    try:
        return str(request.url)
    except Exception:
        return "<unbuilt request>"
