"""Sign-in logs: build the window's $filter, page through it, parse each page into SignInEvents."""

from __future__ import annotations

import re
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

from collectors.graph import GraphClient, GraphResponseError, parse_object
from collectors.pacing import RequestPacer
from collectors.shallow_json import flatten_deep
from core.bounds import bounded, is_key_safe
from core.clock import graph_time, parse_graph_time
from core.constants import APPLE_APP_ID
from core.dedupe import id_key
from core.records import SignInEvent

PAGE_SIZE = 1000
MAX_ID_CHARS = 128
"""A sign-in id is a GUID; a longer one is not Graph's."""
MAX_ERROR_CODE = 2**31 - 1
SAMPLE_CHARS = 80
MAX_LINK_REPEATS = 10
"""Empty pages that link back to a link already followed, before the query counts as a loop."""
_ERROR_CODE = re.compile(r"-?[0-9]{1,10}")


@dataclass
class SignInPage:
    events: list[SignInEvent]
    skipped: Counter[str] = field(default_factory=Counter)
    next_link: str | None = None
    """Where the next page is (Graph's @odata.nextLink): the cursor a checkpoint keeps."""
    parse_cpu_seconds: float = 0.0
    samples: dict[str, str] = field(default_factory=dict)
    """One skipped record per reason (its id, or what stood for it), so the admin can look it up."""


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
    deadline: float | None = None,
) -> AsyncIterator[SignInPage]:
    """Stream the pages of one filtered sign-in query, each parsed and ready to fold.

    ``cursor`` resumes at a page a checkpoint kept (a nextLink of an earlier run) instead of the first.
    A page is yielded only once its nextLink is known to be good (on our Graph, not one this query
    already followed): a bad one refuses the page, so a checkpoint never keeps a cursor that cannot work.
    """
    if cursor:
        request = graph.next_request(cursor)
    else:
        query = SignInsRequestBuilder.SignInsRequestBuilderGetQueryParameters(filter=odata_filter, top=PAGE_SIZE)
        request = SignInsRequestBuilder(graph.adapter(version), {}).to_get_request_information(
            RequestConfiguration(query_parameters=query)
        )
    followed: set[bytes] = set()  # 8-byte hashes: a long stream's links cost little
    repeats = 0
    while True:
        raw = await graph.get_bytes(version, request, pacer, deadline)
        started = time.thread_time()
        page = parse_signins_bytes(raw)
        del raw  # a megabyte: it need not wait for the next page
        page.parse_cpu_seconds = time.thread_time() - started
        if page.next_link is None:
            yield page
            return
        link = id_key(page.next_link)
        if link in followed:  # an empty page may link to itself again (Graph's way of saying "not yet")
            repeats += 1
            if page.events or repeats > MAX_LINK_REPEATS:
                raise GraphResponseError(
                    200, "nextLinkLoop", "a nextLink this query already followed", page.next_link[:300]
                )
        followed.add(link)
        request = graph.next_request(page.next_link)
        yield page


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
    the careful way instead, where every oddity is counted; a page nested too deep to decode has its
    deepest fields cut first. A page without ``value`` is an error, never an empty last page."""
    try:
        body = _PAGE.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return _parse_carefully(raw)
    if body.value is None:
        raise _no_value()
    page = SignInPage(events=[], next_link=_link(body.next_link))
    for record in body.value:
        event, problem = signin_from(*astuple(record))
        _keep(page, event, problem, record.id)
    return page


def _parse_carefully(raw: bytes) -> SignInPage:
    flat, cut = flatten_deep(raw)
    try:
        body = parse_object(flat, "auditLogs/signIns")
    except RecursionError as exc:  # nested past even the scan's reach: the page is refused and retried
        raise GraphResponseError(
            200, "invalidJson", "response is nested too deep to read", "auditLogs/signIns"
        ) from exc
    page = parse_signins_page(body)
    if cut:
        page.skipped["field_nested_too_deep"] += cut
    return page


def parse_signins_page(body: dict[str, Any]) -> SignInPage:
    """Keep the fields we need; count, by reason, every record we cannot use instead of failing."""
    items = body.get("value")
    if not isinstance(items, list):
        raise _no_value()
    page = SignInPage(events=[], next_link=_link(body.get("@odata.nextLink")))
    for item in items:
        event, problem = parse_signin(item)
        _keep(page, event, problem, item.get("id") if isinstance(item, dict) else None)
    return page


def _no_value() -> GraphResponseError:
    return GraphResponseError(
        200, "noValue", "a 200 answer without 'value' as a list (an error body?) is not a page", "auditLogs/signIns"
    )


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
    if len(event_id) > MAX_ID_CHARS:
        return None, "id_too_long"
    if not isinstance(user_id, str) or not user_id:
        return None, "missing_user_id"
    if not is_key_safe(user_id):
        return None, "bad_user_id"
    created = parse_graph_time(created_date_time)
    if created is None:
        return None, "bad_created_date_time"
    code = _error_code(status.get("errorCode") if isinstance(status, dict) else None)
    if code is None:
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


def _error_code(value: object) -> int | None:
    """Graph's errorCode as an int (a number, or a string of ASCII digits); None for anything else."""
    if isinstance(value, str) and _ERROR_CODE.fullmatch(value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > MAX_ERROR_CODE:
        return None
    return value


def _keep(page: SignInPage, event: SignInEvent | None, problem: str, record_id: object) -> None:
    if event is not None:
        page.events.append(event)
        return
    page.skipped[problem] += 1
    if problem not in page.samples:
        page.samples[problem] = bounded(record_id, SAMPLE_CHARS) if isinstance(record_id, str) else "(no id)"


def _link(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _text(value: object) -> str:
    return bounded(value.strip()) if isinstance(value, str) else ""
