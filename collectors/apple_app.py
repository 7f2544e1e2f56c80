"""Is Apple's "Apple Internet Accounts" app in the tenant, and has an admin consented to its EAS scope?"""

from __future__ import annotations

import re
from typing import Any

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.oauth2_permission_grants.oauth2_permission_grants_request_builder import (
    Oauth2PermissionGrantsRequestBuilder,
)
from msgraph.generated.service_principals_with_app_id.service_principals_with_app_id_request_builder import (
    ServicePrincipalsWithAppIdRequestBuilder,
)

from collectors.graph import GraphClient, GraphError, GraphResponseError
from collectors.signins import odata_string
from core.constants import APPLE_APP_ID, EAS_SCOPE, EXCHANGE_ONLINE_APP_ID
from core.records import AppleAppStatus

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


async def check_apple_app(graph: GraphClient) -> AppleAppStatus:
    apple = await _service_principal(graph, APPLE_APP_ID)
    if apple is None:
        return AppleAppStatus(present=False)
    apple_id = _object_id(apple)
    name = apple.get("displayName") if isinstance(apple.get("displayName"), str) else None
    exchange = await _service_principal(graph, EXCHANGE_ONLINE_APP_ID)
    scopes: tuple[str, ...] = ()
    if exchange is not None:
        scopes = await _admin_scopes(graph, client_id=apple_id, resource_id=_object_id(exchange))
    return AppleAppStatus(
        present=True,
        service_principal_id=apple_id,
        display_name=name,
        admin_consent=EAS_SCOPE.casefold() in {s.casefold() for s in scopes},
        scopes=scopes,
    )


async def _service_principal(graph: GraphClient, app_id: str) -> dict[str, Any] | None:
    request = ServicePrincipalsWithAppIdRequestBuilder(graph.adapter("v1.0"), {}, app_id)
    try:
        return await graph.get_object("v1.0", request.to_get_request_information())
    except GraphError as exc:
        if exc.status == 404:
            return None
        raise


async def _admin_scopes(graph: GraphClient, client_id: str, resource_id: str) -> tuple[str, ...]:
    """Scopes granted tenant-wide (consentType AllPrincipals) by the Apple app on Exchange Online."""
    query = Oauth2PermissionGrantsRequestBuilder.Oauth2PermissionGrantsRequestBuilderGetQueryParameters(
        filter=f"clientId eq {odata_string(client_id)} and consentType eq 'AllPrincipals'"
    )
    first = Oauth2PermissionGrantsRequestBuilder(graph.adapter("v1.0"), {}).to_get_request_information(
        RequestConfiguration(query_parameters=query)
    )
    scopes: list[str] = []
    async for page in graph.pages("v1.0", first):
        for grant in page.get("value") or []:
            if not isinstance(grant, dict) or grant.get("resourceId") != resource_id:
                continue
            scope = grant.get("scope")
            if isinstance(scope, str):
                scopes.extend(s for s in scope.split() if s not in scopes)
    return tuple(scopes)


def _object_id(principal: dict[str, Any]) -> str:
    """The object id goes into a $filter, so it must be exactly a GUID, never anything else."""
    value = principal.get("id")
    if not isinstance(value, str) or not _GUID.match(value.lower()):
        raise GraphResponseError(
            200, "invalidId", f"service principal id is not a GUID: {value!r}", "servicePrincipals"
        )
    return value.lower()
