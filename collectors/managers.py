"""Each sender account's manager in Entra ID (GET users/{id}/manager): who is told when no owner is mapped.

Graph answers 404 Request_ResourceNotFound when a user has no manager (microsoftgraph/entra-powershell
issue 237): that is an answer, not an error. Any other failure of one lookup is counted and skipped, so one
account never stops the run; a manager that is not a user (a contact, a group) is skipped too.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Collection

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.users.item.manager.manager_request_builder import ManagerRequestBuilder

from collectors.directory import USER_FIELDS, parse_user
from collectors.graph import GraphClient, GraphError
from core.records import DirectoryUser

MAX_LOOKUPS = 500
"""At most this many manager lookups a run (one request each); the rest wait for the next run."""
CONCURRENCY = 4
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


async def fetch_managers(
    graph: GraphClient, user_ids: Collection[str]
) -> tuple[dict[str, DirectoryUser], Counter[str]]:
    """user id → their manager (only those that have one), and what was skipped, by reason."""
    found: dict[str, DirectoryUser] = {}
    skipped: Counter[str] = Counter()
    ids = sorted({i.lower() for i in user_ids if _GUID.match(i.lower())})
    skipped["user_id_not_a_guid"] += len(set(user_ids)) - len(ids)
    if len(ids) > MAX_LOOKUPS:
        skipped["manager_lookup_deferred"] += len(ids) - MAX_LOOKUPS
        ids = ids[:MAX_LOOKUPS]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def lookup(user_id: str) -> None:
        query = ManagerRequestBuilder.ManagerRequestBuilderGetQueryParameters(select=USER_FIELDS)
        builder = ManagerRequestBuilder(graph.adapter("v1.0"), {"user%2Did": user_id})
        request = builder.to_get_request_information(RequestConfiguration(query_parameters=query))
        async with gate:
            try:
                item = await graph.get_object("v1.0", request)
            except GraphError as exc:
                skipped["no_manager" if exc.status == 404 else "manager_lookup_failed"] += 1
                return
        kind = item.get("@odata.type")
        manager = parse_user(item) if kind in (None, "#microsoft.graph.user") else None
        if manager is None or not manager.mail or not manager.account_enabled:
            skipped["manager_not_mailable"] += 1
            return
        found[user_id] = manager

    await asyncio.gather(*(lookup(user_id) for user_id in ids))
    return found, +skipped
