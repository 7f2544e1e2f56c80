"""Directory users: who a user id is, whether they can be mailed, and in which language."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import Any

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from collectors.graph import GraphClient
from core.records import DirectoryUser

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
    """Page through the directory and keep the wanted user ids; returns the users and skip counts."""
    found: dict[str, DirectoryUser] = {}
    skipped: Counter[str] = Counter()
    if not wanted:
        return found, skipped
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(select=USER_FIELDS, top=999)
    first = UsersRequestBuilder(graph.adapter("v1.0"), {}).to_get_request_information(
        RequestConfiguration(query_parameters=query)
    )
    async for page in graph.pages("v1.0", first):
        for item in page.get("value") or []:
            user = parse_user(item)
            if user is None:
                skipped["user_without_id"] += 1
            elif user.id in wanted:
                found[user.id] = user
    return found, skipped


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
