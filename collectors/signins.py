"""Sign-in logs: build the window's $filter, page through it, parse each page into SignInEvents."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.audit_logs.sign_ins.sign_ins_request_builder import SignInsRequestBuilder
from msgspec.structs import astuple

from collectors.graph import GraphClient, GraphResponseError, next_request, parse_object
from collectors.pacing import RequestPacer
from core.clock import graph_time, parse_graph_time
from core.constants import APPLE_APP_ID
from core.records import SignInEvent

PAGE_SIZE = 1000


@dataclass
class SignInPage:
    events: list[SignInEvent]
    skipped: Counter[str] = field(default_factory=Counter)
    next_link: str | None = None
    """Where the next page is (Graph's @odata.nextLink): the cursor a checkpoint keeps."""
    parse_cpu_seconds: float = 0.0


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


async def signin_pages(
    graph: GraphClient,
    version: str,
    odata_filter: str,
    cursor: str | None = None,
    pacer: RequestPacer | None = None,
) -> AsyncIterator[SignInPage]:
    """Stream the pages of one filtered sign-in query, each parsed and ready to fold.

    ``cursor`` resumes at a page a checkpoint kept (a nextLink of an earlier run) instead of the first.
    """
    if cursor:
        if not cursor.startswith(graph.base_url + "/"):
            raise GraphResponseError(
                0, "foreignCursor", "a saved page cursor points outside LAM_GRAPH_BASE_URL", cursor
            )
        request = next_request(cursor)
    else:
        query = SignInsRequestBuilder.SignInsRequestBuilderGetQueryParameters(filter=odata_filter, top=PAGE_SIZE)
        request = SignInsRequestBuilder(graph.adapter(version), {}).to_get_request_information(
            RequestConfiguration(query_parameters=query)
        )
    while True:
        raw = await graph.get_bytes(version, request, pacer)
        started = time.thread_time()
        page = parse_signins_bytes(raw)
        del raw  # a megabyte: it need not wait for the next page
        page.parse_cpu_seconds = time.thread_time() - started
        yield page
        if page.next_link is None:
            return
        request = next_request(page.next_link)


class _Record(msgspec.Struct):
    """The fields of a Graph signIn we read, by their Graph names and in the order ``signin_from`` takes
    them; the other thirty-odd are skipped unparsed."""

    id: Any = None
    createdDateTime: Any = None
    userId: Any = None
    userPrincipalName: Any = None
    appId: Any = None
    clientAppUsed: Any = None
    ipAddress: Any = None
    userAgent: Any = None
    status: Any = None
    deviceDetail: Any = None
    location: Any = None


class _Page(msgspec.Struct):
    value: list[_Record] | None = None
    next_link: Any = msgspec.field(default=None, name="@odata.nextLink")


_PAGE = msgspec.json.Decoder(_Page)
_FIELDS = _Record.__struct_fields__


def parse_signins_bytes(raw: bytes) -> SignInPage:
    """A page straight from Graph's bytes, building only the fields we read (a page is parsed in a few
    milliseconds and leaves little behind). A page of odd shape, say a record that is not an object, goes
    the careful way instead, where every oddity is counted."""
    try:
        body = _PAGE.decode(raw)
    except msgspec.DecodeError:
        return parse_signins_page(parse_object(raw, "auditLogs/signIns"))
    page = SignInPage(events=[], next_link=_link(body.next_link))
    for record in body.value or ():
        event, problem = signin_from(*astuple(record))
        _keep(page, event, problem)
    return page


def parse_signins_page(body: dict[str, Any]) -> SignInPage:
    """Keep the fields we need; count, by reason, every record we cannot use instead of failing."""
    page = SignInPage(events=[], next_link=_link(body.get("@odata.nextLink")))
    items = body.get("value")
    if not isinstance(items, list):
        if items is not None:
            page.skipped["page_value_not_a_list"] += 1
        return page
    for item in items:
        event, problem = parse_signin(item)
        _keep(page, event, problem)
    return page


def parse_signin(item: object) -> tuple[SignInEvent | None, str]:
    if not isinstance(item, dict):
        return None, "not_an_object"
    return signin_from(*(item.get(name) for name in _FIELDS))


def signin_from(
    event_id: object,
    created_date_time: object,
    user_id: object,
    upn: object,
    app_id: object,
    client_app: object,
    ip: object,
    user_agent: object,
    status: object,
    device: object,
    location: object,
) -> tuple[SignInEvent | None, str]:
    """One sign-in from Graph's values, whatever their types; or None and why it cannot be used."""
    if not isinstance(event_id, str) or not event_id:
        return None, "missing_id"
    if not isinstance(user_id, str) or not user_id:
        return None, "missing_user_id"
    created = parse_graph_time(created_date_time)
    if created is None:
        return None, "bad_created_date_time"
    code = status.get("errorCode") if isinstance(status, dict) else None
    if isinstance(code, str) and code.lstrip("-").isdigit():
        code = int(code)
    if not isinstance(code, int) or isinstance(code, bool):
        return None, "missing_status_error_code"
    return (
        SignInEvent(
            id=event_id,
            created_at=created,
            user_id=user_id.lower(),
            upn=_text(upn),
            app_id=_text(app_id).lower(),
            client_app=_text(client_app),
            error_code=code,
            ip=_text(ip),
            user_agent=_text(user_agent),
            operating_system=_text(device.get("operatingSystem")) if isinstance(device, dict) else "",
            country=_text(location.get("countryOrRegion")) if isinstance(location, dict) else "",
            browser=_text(device.get("browser")) if isinstance(device, dict) else "",
        ),
        "",
    )


def _keep(page: SignInPage, event: SignInEvent | None, problem: str) -> None:
    if event is None:
        page.skipped[problem] += 1
    else:
        page.events.append(event)


def _link(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
