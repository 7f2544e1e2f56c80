"""Directory users: who a user id is, whether they can be mailed, and in which language."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Collection
from typing import Any

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from collectors.graph import GraphClient
from collectors.signins import odata_string
from core.records import DirectoryUser

IN_LIMIT = 15
"""Graph accepts at most 15 values in one `in` clause."""
LOOKUP_CONCURRENCY = 4
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

USER_FIELDS = [
    "id",
    "userPrincipalName",
    "displayName",
    "mail",
    "proxyAddresses",
    "preferredLanguage",
    "usageLocation",
    "accountEnabled",
    "userType",
]


async def fetch_users(graph: GraphClient, wanted: Collection[str]) -> tuple[dict[str, DirectoryUser], Counter[str]]:
    """Look up just the wanted users, 15 ids a request (Graph's limit for `in`), a few requests at a time.

    Returns the users found (a user missing from the answer is gone from the directory) and skip counts.
    """
    found: dict[str, DirectoryUser] = {}
    skipped: Counter[str] = Counter()
    ids = sorted({i for i in wanted if _GUID.match(i)})
    skipped["user_id_not_a_guid"] += len(set(wanted)) - len(ids)
    gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

    async def lookup(chunk: list[str]) -> None:
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            select=USER_FIELDS, filter=f"id in ({','.join(odata_string(i) for i in chunk)})", top=999
        )
        first = UsersRequestBuilder(graph.adapter("v1.0"), {}).to_get_request_information(
            RequestConfiguration(query_parameters=query)
        )
        async with gate:
            async for page in graph.pages("v1.0", first):
                for item in page.get("value") or []:
                    user = parse_user(item)
                    if user is None:
                        skipped["user_without_id"] += 1
                    elif user.id in chunk:
                        found[user.id] = user

    await asyncio.gather(*(lookup(ids[i : i + IN_LIMIT]) for i in range(0, len(ids), IN_LIMIT)))
    return found, +skipped


def parse_user(item: Any) -> DirectoryUser | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
        return None
    return DirectoryUser(
        id=item["id"].lower(),
        upn=_text(item.get("userPrincipalName")),
        display_name=_text(item.get("displayName")),
        mail=recipient_address(item),
        preferred_language=_text(item.get("preferredLanguage")) or None,
        usage_location=_text(item.get("usageLocation")) or None,
        account_enabled=item.get("accountEnabled") is not False,
        user_type=_text(item.get("userType")) or "Member",
    )


def recipient_address(item: dict[str, Any]) -> str | None:
    """The mailbox address: ``mail``, else the primary SMTP proxy address. Never guessed from the UPN."""
    mail = _text(item.get("mail"))
    if mail:
        return mail
    for proxy in item.get("proxyAddresses") or []:
        if isinstance(proxy, str) and proxy.startswith("SMTP:"):
            return proxy[5:]
    return None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
