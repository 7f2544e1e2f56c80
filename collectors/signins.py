"""Sign-in logs: build the window's $filter, page through it, parse each page into SignInEvents."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.audit_logs.sign_ins.sign_ins_request_builder import SignInsRequestBuilder

from collectors.graph import GraphClient
from core.clock import graph_time, parse_graph_time
from core.constants import APPLE_APP_ID
from core.records import SignInEvent

PAGE_SIZE = 1000


@dataclass
class SignInPage:
    events: list[SignInEvent]
    skipped: Counter[str] = field(default_factory=Counter)


def odata_string(value: str) -> str:
    """An OData string literal: quoted, with embedded quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def legacy_filter(start: datetime, end: datetime, protocols: Iterable[str]) -> str:
    names = [f"clientAppUsed eq {odata_string(p)}" for p in protocols]
    protocol_clause = names[0] if len(names) == 1 else "(" + " or ".join(names) + ")"
    return f"{_window(start, end)} and {protocol_clause}"


def apple_app_filter(start: datetime, end: datetime) -> str:
    return f"{_window(start, end)} and appId eq {odata_string(APPLE_APP_ID)}"


def _window(start: datetime, end: datetime) -> str:
    return f"createdDateTime ge {graph_time(start)} and createdDateTime lt {graph_time(end)}"


async def signin_pages(graph: GraphClient, version: str, odata_filter: str) -> AsyncIterator[SignInPage]:
    """Stream the pages of one filtered sign-in query, each parsed and ready to fold."""
    query = SignInsRequestBuilder.SignInsRequestBuilderGetQueryParameters(filter=odata_filter, top=PAGE_SIZE)
    first = SignInsRequestBuilder(graph.adapter(version), {}).to_get_request_information(
        RequestConfiguration(query_parameters=query)
    )
    async for body in graph.pages(version, first):
        yield parse_signins_page(body)


def parse_signins_page(body: dict[str, Any]) -> SignInPage:
    """Keep the fields we need; count, by reason, every record we cannot use instead of failing."""
    page = SignInPage(events=[])
    items = body.get("value")
    if not isinstance(items, list):
        if items is not None:
            page.skipped["page_value_not_a_list"] += 1
        return page
    for item in items:
        event, problem = parse_signin(item)
        if event is None:
            page.skipped[problem] += 1
        else:
            page.events.append(event)
    return page


def parse_signin(item: object) -> tuple[SignInEvent | None, str]:
    if not isinstance(item, dict):
        return None, "not_an_object"
    event_id = item.get("id")
    if not isinstance(event_id, str) or not event_id:
        return None, "missing_id"
    user_id = item.get("userId")
    if not isinstance(user_id, str) or not user_id:
        return None, "missing_user_id"
    created = parse_graph_time(item.get("createdDateTime"))
    if created is None:
        return None, "bad_created_date_time"
    status = item.get("status")
    code = status.get("errorCode") if isinstance(status, dict) else None
    if isinstance(code, str) and code.lstrip("-").isdigit():
        code = int(code)
    if not isinstance(code, int) or isinstance(code, bool):
        return None, "missing_status_error_code"
    device = item.get("deviceDetail")
    location = item.get("location")
    return (
        SignInEvent(
            id=event_id,
            created_at=created,
            user_id=user_id.lower(),
            upn=_text(item.get("userPrincipalName")),
            app_id=_text(item.get("appId")).lower(),
            client_app=_text(item.get("clientAppUsed")),
            error_code=code,
            ip=_text(item.get("ipAddress")),
            user_agent=_text(item.get("userAgent")),
            operating_system=_text(device.get("operatingSystem")) if isinstance(device, dict) else "",
            country=_text(location.get("countryOrRegion")) if isinstance(location, dict) else "",
        ),
        "",
    )


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
