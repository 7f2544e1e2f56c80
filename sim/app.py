"""The simulator's HTTP app (Starlette): Graph v1.0/beta, ACS Email, and a small inspection API."""

from __future__ import annotations

import asyncio
import base64
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sim import acs_auth
from sim.generated import GeneratedTenant, Sequence, iso_millis
from sim.graph_shapes import exchange_cas_mailbox
from sim.mailbox import deliver
from sim.odata import FilterError, in_values, parse_filter, time_bounds
from sim.scenario import Scenario

SIGNIN_FIELDS = {
    "createdDateTime": "datetime",
    "clientAppUsed": "str",
    "appId": "str",
    "userId": "str",
    "userPrincipalName": "str",
    "status/errorCode": "int",
}
GRANT_FIELDS = {"clientId": "str", "consentType": "str", "resourceId": "str"}
BETA_ONLY_SIGNIN_FIELDS = ("userAgent", "signInEventTypes")
MAX_PAGE = {"signIns": 1000, "users": 999, "oauth2PermissionGrants": 1000, "conditionalAccessPolicies": 1000}
USER_FIELDS = {"id": "str"}
THROTTLED_KINDS = ("signIns",)
"""Graph's reports limit (5 requests per 10 s per app per tenant) covers the audit logs, not the directory."""


@dataclass
class ExchangeIndex:
    """Lookups for per-mailbox and per-device cmdlets, so a 10,000-mailbox tenant answers quickly."""

    devices: list[dict[str, Any]]
    mailboxes: dict[str, dict[str, Any]]
    devices_by_mailbox: dict[str, list[dict[str, Any]]]
    by_identity: dict[str, dict[str, Any]]

    @classmethod
    def build(cls, scenario: Scenario) -> ExchangeIndex:
        mailboxes: dict[str, dict[str, Any]] = {}
        for mailbox in scenario.mailboxes:
            for key in (mailbox.get("Identity"), mailbox.get("UserPrincipalName")):
                if key:
                    mailboxes[str(key).casefold()] = mailbox
        by_mailbox: dict[str, list[dict[str, Any]]] = {}
        by_identity: dict[str, dict[str, Any]] = {}
        for device in scenario.devices:
            owner = str(device.get("Identity", "")).split("\\ExchangeActiveSyncDevices\\")[0].casefold()
            owner_box = mailboxes.get(owner)
            upn = str(owner_box.get("UserPrincipalName")).casefold() if owner_box else owner
            for key in {owner, upn}:
                by_mailbox.setdefault(key, []).append(device)
            for key in (device.get("Guid"), device.get("Identity")):
                if key:
                    by_identity[str(key).casefold()] = device
        return cls(scenario.devices, mailboxes, by_mailbox, by_identity)


@dataclass
class SimState:
    """What the simulator saw: tests and the demo read it to check behaviour from the outside."""

    scenario: Scenario
    outbox: Path
    requests: dict[str, int] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    operations: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrivals: dict[str, list[float]] = field(default_factory=dict)
    """When each throttled request arrived (time.monotonic), rejected ones included."""
    throttled: int = 0
    """Requests the throttle itself refused with 429 (injected faults not counted)."""
    _served: dict[str, deque[float]] = field(default_factory=dict)
    _exchange: tuple[int, int, ExchangeIndex] | None = None

    def exchange_index(self) -> ExchangeIndex:
        """Built on first use, rebuilt when a test changes the scenario's mailboxes or devices."""
        key = (len(self.scenario.mailboxes), len(self.scenario.devices))
        if self._exchange is None or self._exchange[:2] != key:
            self._exchange = (*key, ExchangeIndex.build(self.scenario))
        return self._exchange[2]

    @property
    def throttle_window(self) -> float:
        """The throttle's window in seconds, shortened by the scenario's time scale."""
        return self.scenario.throttle[1] / self.scenario.time_scale

    def admit(self, kind: str) -> Response | None:
        """The sliding-window throttle: None when the request may go on, else Graph's 429."""
        now = time.monotonic()
        limit, window = self.scenario.throttle[0], self.throttle_window
        with self.lock:
            self.arrivals.setdefault(kind, []).append(now)
            served = self._served.setdefault(kind, deque())
            while served and served[0] <= now - window:
                served.popleft()
            if len(served) < limit:
                served.append(now)
                return None
            self.throttled += 1
            wait = max(1, math.ceil(served[0] + window - now))
        body = {"error": {"code": "TooManyRequests", "message": "Too many requests, please retry later."}}
        return _json(body, 429, {"Retry-After": str(wait)})

    def count(self, kind: str) -> dict[str, Any] | None:
        """Count a request of this kind; return the injected fault that applies to it, if any.

        A fault is {"status": 503, "code": ..., "message": ..., "retry_after": 1} or {"hang_seconds": 5};
        "after": N lets the first N requests through, "times": N stops it after N requests.
        """
        with self.lock:
            number = self.requests[kind] = self.requests.get(kind, 0) + 1
            fault = self.scenario.faults.get(kind)
            if fault is None or number <= int(fault.get("after", 0)):
                return None
            if "times" in fault:
                if fault["times"] <= 0:
                    return None
                fault["times"] -= 1
            return dict(fault)

    async def injected(self, kind: str) -> Response | None:
        """The response of an injected error, after an injected hang (the client may give up first)."""
        fault = self.count(kind)
        if fault is None:
            return None
        if fault.get("hang_seconds"):
            await asyncio.sleep(float(fault["hang_seconds"]))
        if "status" not in fault:
            return None
        headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else None
        body = {"error": {"code": fault.get("code", "Fault"), "message": fault.get("message", "injected fault")}}
        return _json(body, int(fault["status"]), headers)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def graph_error(status: int, code: str, message: str) -> Response:
    return _json({"error": {"code": code, "message": message, "innerError": {"request-id": "sim"}}}, status)


class CollapseSlashes:
    """Graph tolerates '//' in paths (an SDK base URL with a trailing slash); so do we."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            path = scope["path"]
            while "//" in path:
                path = path.replace("//", "/")
            scope = dict(scope, path=path, raw_path=path.encode())
        await self.app(scope, receive, send)


def build_app(state: SimState) -> ASGIApp:
    async def graph(request: Request) -> Response:
        version = request.path_params["version"]
        if version not in ("v1.0", "beta"):
            return graph_error(400, "BadRequest", f"Unknown API version {version!r}")
        rest = unquote(request.path_params["rest"])
        kind = _graph_kind(rest)
        if kind is None:
            return graph_error(404, "BadRequest", f"Resource not found for the segment '{rest}'.")
        if kind in THROTTLED_KINDS:
            refused = state.admit(kind)
            if refused is not None:
                return refused
        fault = await state.injected(kind)
        if fault is not None:
            return fault
        scenario = state.scenario
        if kind == "signIns":
            if scenario.latency_ms:
                await asyncio.sleep(scenario.latency_ms / 1000 / scenario.time_scale)
            if scenario.generated is not None:
                return _generated_signins(request, scenario.generated, version, scenario.page_size)
            quirk = _quirk(scenario.quirks, state.requests.get(kind, 0))
            return _collection(
                request, "signIns", _signins(scenario.sign_ins, version), SIGNIN_FIELDS, scenario.page_size, quirk
            )
        if kind == "users":
            if scenario.generated is not None:
                return _generated_users(request, scenario.generated)
            return _collection(request, "users", scenario.users, USER_FIELDS)
        if kind == "manager":
            return _manager(scenario, rest.split("/")[1])
        if kind == "authorizationPolicy":
            return _json({"@odata.context": "sim", **state.scenario.authorization_policy})
        if kind == "conditionalAccessPolicies":
            return _collection(request, "conditionalAccessPolicies", state.scenario.ca_policies, {})
        if kind == "oauth2PermissionGrants":
            return _collection(request, "oauth2PermissionGrants", state.scenario.grants, GRANT_FIELDS)
        app_id = rest[len(_SP_PREFIX) : -2]
        for principal in state.scenario.service_principals:
            if principal.get("appId", "").lower() == app_id.lower():
                return _json({"@odata.context": "sim", **principal})
        return graph_error(404, "Request_ResourceNotFound", f"Resource '{app_id}' does not exist.")

    async def send_email(request: Request) -> Response:
        hang = state.scenario.faults.get("emails:hang")  # {"when": "before"|"after", "seconds": n}
        if hang and hang.get("when") == "before":
            state.count("emails:send")
            await asyncio.sleep(float(hang.get("seconds", 30)))
            if await request.is_disconnected():
                return Response(status_code=499)  # the client died: nothing was accepted
        fault = await state.injected("emails:send") if not hang else None
        if fault is not None:
            return fault
        body = await request.body()
        path_and_query = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        problem = acs_auth.verify(state.scenario.acs_key, "POST", path_and_query, request.headers, body)
        if problem:
            return _json({"error": {"code": "Denied", "message": problem}}, 401)
        try:
            message = orjson.loads(body)
            to = message["recipients"]["to"]
            content = message["content"]
            if not to or not content.get("subject") or not message.get("senderAddress"):
                raise KeyError("recipients.to, content.subject or senderAddress")
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            return _json({"error": {"code": "BadRequest", "message": f"invalid message: {exc}"}}, 400)
        operation_id = request.headers.get("operation-id") or base64.b32encode(body[:10]).decode()
        with state.lock:
            index = len(state.sent)
            state.sent.append({"operation_id": operation_id, "to": to[0]["address"], "subject": content["subject"]})
            state.operations[operation_id] = "Succeeded"
        deliver(state.outbox, f"{index:05d}-{operation_id}", message, operation_id)
        if hang and hang.get("when") == "after":  # accepted and written, but the answer never arrives
            await asyncio.sleep(float(hang.get("seconds", 30)))
        api_version = request.query_params.get("api-version", "")
        location = f"{request.base_url}emails/operations/{operation_id}?api-version={api_version}"
        return _json(
            {"id": operation_id, "status": "Running"}, 202, {"Operation-Location": location, "Retry-After": "1"}
        )

    async def email_status(request: Request) -> Response:
        state.count("emails:status")
        operation_id = request.path_params["operation_id"]
        status = state.operations.get(operation_id)
        if status is None:
            return _json({"error": {"code": "NotFound", "message": "unknown operation"}}, 404)
        return _json({"id": operation_id, "status": status})

    async def invoke_command(request: Request) -> Response:
        """Exchange Online's admin API: Get-Mailbox, Get-MobileDevice, Get-MobileDeviceStatistics, Get-CASMailbox,
        Get-TransportConfig, Get-OrganizationConfig."""
        try:
            cmdlet = orjson.loads(await request.body())["CmdletInput"]
            name, params = cmdlet["CmdletName"], cmdlet.get("Parameters") or {}
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _json({"error": {"code": "BadRequest", "message": "CmdletInput is required"}}, 400)
        fault = await state.injected("InvokeCommand")
        state.count(f"InvokeCommand:{name}")
        if fault is not None:
            return fault
        if request.path_params["tenant"] != state.scenario.tenant_id:
            return _json({"error": {"code": "Unauthorized", "message": "tenant mismatch"}}, 401)
        if not request.headers.get("x-anchormailbox", "").startswith("UPN:SystemMailbox{"):
            return _json({"error": {"code": "BadRequest", "message": "X-AnchorMailbox header is required"}}, 400)
        index = state.exchange_index()
        if name == "Get-Mailbox":
            items = state.scenario.mailboxes
            if "Identity" in params:
                items = [m for m in [index.mailboxes.get(str(params["Identity"]).casefold())] if m]
        elif name == "Get-MobileDevice":
            items = (
                index.devices_by_mailbox.get(str(params["Mailbox"]).casefold(), [])
                if "Mailbox" in params
                else index.devices
            )
            items = [{k: v for k, v in d.items() if k not in ("LastSuccessSync", "LastSyncAttemptTime")} for d in items]
        elif name == "Get-MobileDeviceStatistics":
            found = index.by_identity.get(str(params.get("Identity", "")).casefold())
            fields = ("Guid", "Identity", "DeviceType", "LastSuccessSync", "LastSyncAttemptTime", "Status")
            items = [{k: found.get(k) for k in fields}] if found else []
        elif name == "Get-CASMailbox":
            box = index.mailboxes.get(str(params.get("Identity", "")).casefold())
            if box is None:
                message = (
                    f"The operation couldn't be performed because object '{params.get('Identity')}' couldn't be found"
                )
                return _json({"error": {"code": "NotFound", "message": message}}, 404)
            settings = state.scenario.cas.get(str(box.get("UserPrincipalName", "")).casefold(), {})
            items = [exchange_cas_mailbox(box, settings)]
        elif name == "Get-TransportConfig":
            items = [dict(state.scenario.transport_config)]
        elif name == "Get-OrganizationConfig":
            items = [dict(state.scenario.organization_config)]
        else:
            return _json({"error": {"code": "BadRequest", "message": f"cmdlet {name} is not available"}}, 400)
        size = 1000
        prefer = request.headers.get("prefer", "")
        if prefer.startswith("odata.maxpagesize="):
            size = max(1, min(int(prefer.split("=", 1)[1] or 1000), 1000))
        offset = int(request.query_params.get("$skiptoken", "0"))
        body: dict[str, Any] = {
            "@odata.context": f"{request.base_url}adminapi/beta/$metadata#Collection",
            "value": items[offset : offset + size],
        }
        if offset + size < len(items):
            body["@odata.nextLink"] = f"{str(request.url).split('?', 1)[0]}?$skiptoken={offset + size}"
        return _json(body)

    async def inspect(request: Request) -> Response:
        with state.lock:
            return _json(
                {
                    "requests": state.requests,
                    "throttled": state.throttled,
                    "arrivals": {kind: list(times) for kind, times in state.arrivals.items()},
                    "sent": state.sent,
                    "outbox": str(state.outbox),
                }
            )

    app = Starlette(
        routes=[
            Route("/emails:send", send_email, methods=["POST"]),
            Route("/emails/operations/{operation_id}", email_status, methods=["GET"]),
            Route("/_sim/state", inspect, methods=["GET"]),
            Route("/adminapi/beta/{tenant}/InvokeCommand", invoke_command, methods=["POST"]),
            Route("/{version}/{rest:path}", graph, methods=["GET"]),
        ]
    )
    return CollapseSlashes(app)


_SP_PREFIX = "servicePrincipals(appId='"
_COLLECTIONS = {
    "auditLogs/signIns": "signIns",
    "users": "users",
    "oauth2PermissionGrants": "oauth2PermissionGrants",
    "policies/authorizationPolicy": "authorizationPolicy",
    "identity/conditionalAccess/policies": "conditionalAccessPolicies",
}


def _graph_kind(rest: str) -> str | None:
    if rest in _COLLECTIONS:
        return _COLLECTIONS[rest]
    if rest.startswith(_SP_PREFIX) and rest.endswith("')"):
        return "servicePrincipals"
    parts = rest.split("/")
    if len(parts) == 3 and parts[0] == "users" and parts[2] == "manager":
        return "manager"
    return None


def _manager(scenario: Scenario, user_id: str) -> Response:
    """GET users/{id}/manager: the manager as a directoryObject, or Graph's 404 when there is none
    (the message as microsoftgraph/entra-powershell issue 237 quotes it)."""
    manager_id = scenario.managers.get(user_id.lower())
    for person in scenario.users:
        if manager_id is not None and person.get("id") == manager_id:
            return _json({"@odata.context": "sim", "@odata.type": "#microsoft.graph.user", **person})
    return graph_error(
        404,
        "Request_ResourceNotFound",
        "Resource 'manager' does not exist or one of its queried reference-property objects are not present.",
    )


def _signins(items: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    """Sign-in records as this API version has them (v1.0 lacks the beta-only fields)."""
    if version == "beta":
        return items
    return [{k: v for k, v in item.items() if k not in BETA_ONLY_SIGNIN_FIELDS} for item in items]


@dataclass(frozen=True)
class PageQuirk:
    """How Graph bends paging now and then: an empty page that still links on, or a page that starts
    one record early (an offset shifted by a late insert), repeating the last record of the page before."""

    empty: bool = False
    repeat_last: bool = False


def _quirk(quirks: dict[str, int], request_number: int) -> PageQuirk:
    def due(name: str) -> bool:
        every = quirks.get(name, 0)
        return every >= 2 and request_number % every == 0

    return PageQuirk(empty=due("empty_page_every"), repeat_last=due("repeat_last_every"))


def _paging(request: Request, kind: str, page_size: int | None = None) -> tuple[int, int] | Response:
    params = request.query_params
    unknown = set(params) - {"$filter", "$top", "$skiptoken", "$select"}
    if unknown:
        return graph_error(400, "BadRequest", f"Query option(s) not supported: {', '.join(sorted(unknown))}")
    try:
        top = min(int(params.get("$top", MAX_PAGE[kind])), MAX_PAGE[kind], page_size or MAX_PAGE[kind])
        offset = int(params.get("$skiptoken", "0"))
    except ValueError:
        return graph_error(400, "BadRequest", "$top and $skiptoken must be numbers")
    if top < 1 or offset < 0:
        return graph_error(400, "BadRequest", "$top must be positive and $skiptoken not negative")
    return top, offset


def _page_body(request: Request, kind: str, page: list[dict[str, Any]], next_offset: int | None) -> dict[str, Any]:
    params = request.query_params
    if params.get("$select"):
        wanted = {name.strip() for name in params["$select"].split(",")}
        page = [{k: v for k, v in item.items() if k in wanted} for item in page]
    body: dict[str, Any] = {"@odata.context": f"{request.base_url}$metadata#{kind}", "value": page}
    if next_offset is not None:
        query = {k: v for k, v in params.items() if k != "$skiptoken"}
        query["$skiptoken"] = str(next_offset)
        body["@odata.nextLink"] = f"{str(request.url).split('?', 1)[0]}?{urlencode(query)}"
    return body


def _collection(
    request: Request,
    kind: str,
    items: list[dict[str, Any]],
    fields: dict[str, str],
    page_size: int | None = None,
    quirk: PageQuirk = PageQuirk(),
) -> Response:
    """Filter, page by $skiptoken (an offset), and link the next page the way Graph does."""
    paging = _paging(request, kind, page_size)
    if isinstance(paging, Response):
        return paging
    top, offset = paging
    matching = items
    if request.query_params.get("$filter"):
        try:
            predicate = parse_filter(request.query_params["$filter"], fields)
        except FilterError as exc:
            return graph_error(400, "BadRequest", str(exc))
        matching = [item for item in items if predicate(item)]
    if quirk.empty and offset < len(matching):
        return _json(_page_body(request, kind, [], offset))
    start = offset - 1 if quirk.repeat_last and offset > 0 else offset
    page = matching[start : start + top]
    return _json(_page_body(request, kind, page, start + top if start + top < len(matching) else None))


def _generated_signins(request: Request, tenant: GeneratedTenant, version: str, page_size: int) -> Response:
    """Serve a filtered page of the generated tenant, building only the records on that page."""
    paging = _paging(request, "signIns", page_size)
    if isinstance(paging, Response):
        return paging
    top, offset = paging
    text = request.query_params.get("$filter", "")
    try:
        predicate = parse_filter(text, SIGNIN_FIELDS) if text else None
    except FilterError as exc:
        return graph_error(400, "BadRequest", str(exc))
    low, high = time_bounds(text, "createdDateTime") if text else (None, None)
    page: list[dict[str, Any]] = []
    next_offset = None
    for sequence in tenant.sequences():
        span = _matching_span(sequence, predicate, low.timestamp() if low else None, high.timestamp() if high else None)
        if span:
            window = span[offset : offset + top]
            page = [sequence.item(index) for index in window]
            next_offset = offset + top if offset + top < len(span) else None
            break
    return _json(_page_body(request, "signIns", _signins(page, version), next_offset))


def _matching_span(sequence: Sequence, predicate: Any, low: float | None, high: float | None) -> range:
    """The indexes of one sequence that pass the filter. Its records share app and client, so one record
    placed inside the time bounds tells whether the sequence matches at all; then only time decides."""
    if sequence.count == 0:
        return range(0)
    sample = sequence.item(0)

    def matches_at(epoch: float) -> bool:
        return predicate is None or bool(predicate({**sample, "createdDateTime": iso_millis(epoch)}))

    first, last = sequence.created(sequence.count - 1), sequence.created(0)
    inside = min(max((low if low is not None else first) + 0.0005, first), last)
    if not matches_at(inside):
        return range(0)
    return sequence.index_range(matches_at, low, high)


def _generated_users(request: Request, tenant: GeneratedTenant) -> Response:
    paging = _paging(request, "users")
    if isinstance(paging, Response):
        return paging
    top, offset = paging
    text = request.query_params.get("$filter", "")
    if not text:
        page = [tenant.user(i) for i in range(offset, min(offset + top, tenant.users))]
        return _json(_page_body(request, "users", page, offset + top if offset + top < tenant.users else None))
    try:
        predicate = parse_filter(text, USER_FIELDS)
    except FilterError as exc:
        return graph_error(400, "BadRequest", str(exc))
    wanted = in_values(text, "id")
    if wanted is None:
        return graph_error(400, "BadRequest", "the generated tenant answers only id in (...) filters")
    found = [tenant.user(i) for i in (tenant.user_index(v) for v in wanted) if i is not None]
    matching = [item for item in found if predicate(item)]
    page = matching[offset : offset + top]
    return _json(_page_body(request, "users", page, offset + top if offset + top < len(matching) else None))
