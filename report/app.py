"""The admin views, one ASGI app (Starlette): JSON/CSV API and the dashboard.

Served in Azure through azure.functions' ASGI middleware from one HTTP function, and locally by
`python -m cli serve` with uvicorn. Every value from the query string is validated and reaches
Table Storage only as an OData parameter.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import msgspec
import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from core.clock import utcnow
from core.findings import Finding
from core.ports import NotificationLog, RunLog, TenantState, UserStates
from core.records import UserState
from core.runs import RunRecord
from report.charts import bars, trend_chart
from report.labels import (
    KIND_LABELS,
    PLATFORM_LABELS,
    STATUS_LABELS,
    by_urgency,
    reason_label,
    reason_title,
    status_label,
)
from report.protocols import protocol_views
from report.queries import (
    FILTERS,
    UserFilter,
    decode_token,
    encode_token,
    page_users,
    parse_filter,
    parse_limit,
    user_detail,
)
from report.senders import OWNER_UNKNOWN, SenderFilter, parse_sender_filter, sender_rows, senders_csv, unsorted_rows
from report.summary import Kept, counted, kept_figures
from report.users import ReportError, to_csv, user_row
from rules.owners import OWNED_KINDS
from rules.retirements import RECENT_DAYS

HERE = Path(__file__).parent
STATIC = {"dashboard.css": "text/css", "table-sort.js": "text/javascript"}
KEY_PARAM = "code"  # the Functions host's function key; carried over to links, never interpreted
KEYED_PREFIX = "/api/keyed"
"""The same views for scripts, behind the function key (report/access.py: who may use which door)."""
CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
"""On every answer, errors included (browsers ignore HSTS over plain http, so loopback is unaffected)."""
log = logging.getLogger(__name__)


class AdminTables(Protocol):
    """The state tables the admin views read (pipeline/wiring.py's StateTables is one)."""

    @property
    def users(self) -> UserStates: ...
    @property
    def ledger(self) -> NotificationLog: ...
    @property
    def runs(self) -> RunLog: ...
    @property
    def tenant(self) -> TenantState: ...
    @property
    def watched(self) -> tuple[str, ...]:
        """The watched legacy protocols (LAM_LEGACY_PROTOCOLS)."""
        ...

    @property
    def owners(self) -> dict[str, str]:
        """The owner map (LAM_SENDER_OWNERS): casefolded sender UPN → owner address."""
        ...

    def findings(
        self,
        states: list[UserState] | None = None,
        legacy_active: int | None = None,
        recent: list[UserState] | None = None,
    ) -> list[Finding]:
        """The tenant's findings, with what only the deployment knows (the sender domain)."""
        ...


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_INDENT_2), status, media_type="application/json")


def _secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own answers (no such route, method not allowed) and anything unhandled: JSON, our headers."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status in (404, 405):
        message = f"no such view: {request.method} {request.url.path}"
    else:
        message = str(exc.detail) if isinstance(exc, HTTPException) else "internal error"
    return _secured(_json({"error": message}, status))


def _allowed(request: Request, *names: str) -> None:
    repeated = sorted(
        {name for name, _ in request.query_params.multi_items() if len(request.query_params.getlist(name)) > 1}
    )
    if repeated:
        raise ReportError(f"{', '.join(repeated)}: given more than once; give each parameter once")
    unknown = sorted(set(request.query_params) - {*names, KEY_PARAM})
    if unknown:
        allowed = ", ".join(names) or "none"
        raise ReportError(f"unknown query parameter(s): {', '.join(unknown)}; allowed: {allowed}")


def build_admin_app(
    tables: Callable[[], AdminTables], explain: Callable[[Exception], str | None] = lambda exc: None
) -> Starlette:
    """The admin API and dashboard over the state tables that ``tables`` opens (once, then reused).

    Handlers are synchronous (the Tables SDK is): each runs in Starlette's thread pool, so a slow table
    never holds the event loop the timers share. ``explain`` names a storage outage in one line (a 503)."""

    def view(handler: Callable[[Request, AdminTables], Response]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                response = await run_in_threadpool(handler, request, tables())
            except ReportError as exc:
                response = _json({"error": str(exc)}, 400)
            except Exception as exc:  # a storage outage (503, named), or a bug: one line, the trace in the log
                reason = explain(exc)
                if reason is not None:
                    response = _json({"error": "the state tables are unavailable", "reason": reason}, 503)
                else:
                    log.exception("admin view %s failed", request.url.path)
                    response = _json({"error": f"internal error ({type(exc).__name__}); see the function's log"}, 500)
            return _secured(response)

        return endpoint

    def users(request: Request, repos: AdminTables) -> Response:
        _allowed(request, *FILTERS, "format", "limit", "continuation")
        fmt = request.query_params.get("format", "json")
        if fmt not in ("json", "csv"):
            raise ReportError(f"format: {fmt!r} is not one of json, csv")
        flt = parse_filter(request.query_params)
        if fmt == "csv":  # the whole filtered set, for Excel, streamed a table page at a time
            return StreamingResponse(
                csv_stream(repos.users, flt),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="legacy-auth-users.csv"'},
            )
        limit = parse_limit(request.query_params.get("limit"))
        rows, token = page_users(repos.users, flt, limit, decode_token(request.query_params.get("continuation")))
        return _json({"users": rows, "continuation": token})

    def one_user(request: Request, repos: AdminTables) -> Response:
        _allowed(request)
        detail = user_detail(repos.users, repos.ledger, request.path_params["user_id"].lower())
        return _json(detail) if detail else _json({"error": "no tracked user with this id"}, 404)

    def summary(request: Request, repos: AdminTables) -> Response:
        _allowed(request)
        kept = _kept(repos)
        findings = repos.findings(legacy_active=kept.legacy_active)
        return _json({**kept.as_json(), "findings": [vars(f) for f in findings]})

    def runs(request: Request, repos: AdminTables) -> Response:
        _allowed(request, "limit")
        limit = parse_limit(request.query_params.get("limit"))
        return _json([_run_json(r) for r in repos.runs.recent(limit)])

    def protocols(request: Request, repos: AdminTables) -> Response:
        _allowed(request)
        kept = _kept(repos)
        views = protocol_views(repos.watched, kept.breakdown.open_by_protocol, utcnow().date())
        for view in views:
            view["senders_csv"] = _link(request, "senders", protocol=view["protocol"], format="csv")
        return _json({"protocols": views, "as_of": kept.as_json()["as_of"], "source": kept.source})

    def senders(request: Request, repos: AdminTables) -> Response:
        _allowed(request, "protocol", "kind", "owner", "status", "format", "limit", "continuation")
        fmt = request.query_params.get("format", "json")
        if fmt not in ("json", "csv"):
            raise ReportError(f"format: {fmt!r} is not one of json, csv")
        flt = parse_sender_filter(request.query_params)
        today = utcnow().date()
        if fmt == "csv":  # every matching sender, in the order the CLI prints them
            rows = sender_rows(_all_pages(repos.users, flt), flt, repos.owners, repos.ledger, today)
            return Response(
                "\ufeff" + senders_csv(rows),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="legacy-auth-senders.csv"'},
            )
        limit = parse_limit(request.query_params.get("limit"))
        after = decode_token(request.query_params.get("continuation"))
        states, last = repos.users.page_after(flt.status, None, limit, after)
        rows = unsorted_rows(states, flt, repos.owners, repos.ledger, today)
        return _json({"senders": rows, "continuation": encode_token(last)})

    def dashboard(request: Request, repos: AdminTables) -> Response:
        """Headline figures as the last collect run kept them; the users table one page at a time,
        filtered like /api/users (the same parameters, so a dashboard link is also an API query)."""
        _allowed(request, *FILTERS, "limit", "continuation")
        flt = parse_filter(request.query_params)
        limit = parse_limit(request.query_params.get("limit"))
        rows, token = page_users(repos.users, flt, limit, decode_token(request.query_params.get("continuation")))
        filters = {name: request.query_params[name] for name in FILTERS if request.query_params.get(name)}

        link = partial(_link, request)
        kept = _kept(repos)
        today = utcnow().date()
        watched = protocol_views(repos.watched, kept.breakdown.open_by_protocol, today)
        recent = repos.users.succeeded_since(utcnow() - timedelta(days=RECENT_DAYS))
        for view in watched:
            recent_filter = SenderFilter(view["protocol"], status="legacy_active")
            found = sender_rows(recent, recent_filter, repos.owners, repos.ledger, today)
            owned = [r for r in found if r["kind"] in OWNED_KINDS]  # a person's own app is in the users table
            owned.sort(key=lambda r: (r["owner"] != OWNER_UNKNOWN, r["owner"].casefold()))
            view["recent"], view["recent_total"] = owned[:SENDERS_SHOWN], len(owned)
        html = (
            _templates()
            .get_template("dashboard.html")
            .render(
                counts=vars(kept.statuses),
                tracked=kept.statuses.tracked,
                summary=kept.as_json(),
                findings=by_urgency(repos.findings(legacy_active=kept.legacy_active, recent=recent)),
                trend=trend_chart(repos.runs.recent(1000, step="collect")),
                status_bars=bars(vars(kept.statuses), STATUS_LABELS),
                platform_bars=bars(kept.breakdown.tracked_by_platform, PLATFORM_LABELS),
                ios_bars=bars(kept.breakdown.legacy_active_by_ios_version),
                status_label=status_label,
                reason_label=reason_label,
                reason_title=reason_title,
                protocols=watched,
                kind_label=KIND_LABELS.get,
                recent_days=RECENT_DAYS,
                emails=email_overview(repos.ledger, repos.runs.recent(1, step="notify")),
                rows=rows,
                filters=filters,
                next_page=link("dashboard", **filters, continuation=token) if token else None,
                link=link,
                generated=utcnow().strftime("%Y-%m-%d %H:%M UTC"),
            )
        )
        return HTMLResponse(html)

    def static(request: Request, repos: AdminTables) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return _json({"error": "not found"}, 404)
        return FileResponse(HERE / "static" / name, media_type=STATIC[name])

    views = [
        Route("/users", view(users)),
        Route("/users/{user_id}", view(one_user)),
        Route("/summary", view(summary)),
        Route("/runs", view(runs)),
        Route("/protocols", view(protocols)),
        Route("/senders", view(senders)),
        Route("/dashboard", view(dashboard)),
        Route("/static/{name}", view(static)),
    ]
    return Starlette(
        routes=[Mount(KEYED_PREFIX, routes=views), Mount("/api", routes=views)],
        exception_handlers={HTTPException: _http_error, Exception: _http_error},
    )


SENDERS_SHOWN = 100
"""Senders listed per protocol on the dashboard (owner unknown first); the CSV has them all."""


def _link(request: Request, path: str, **params: str) -> str:
    """A link to another view through the door the request came in (the keyed one for scripts), carrying
    the function key over when the request had one; on the people's door a ``code`` is no key and is dropped.
    Pages send no Referer (SECURITY_HEADERS), so a key in a link does not leave with a click elsewhere."""
    keyed = request.url.path.startswith(KEYED_PREFIX + "/")
    base = KEYED_PREFIX if keyed else "/api"
    key = request.query_params.get(KEY_PARAM) if keyed else None
    query = {**params, **({KEY_PARAM: key} if key else {})}
    return f"{base}/{path}" + (f"?{urlencode(query)}" if query else "")


def _all_pages(users: UserStates, flt: SenderFilter) -> Iterator[UserState]:
    """Every user of the status asked for, a table page at a time."""
    after = None
    while True:
        states, after = users.page_after(flt.status, None, CSV_PAGE, after)
        yield from states
        if not after:
            return


EMAIL_STATES = (
    ("dry-run", "would send (rendered by the dry-run or pilot; going live sends them)"),
    ("failed", "failed, retried with backoff"),
    ("refused", "refused: fix the cause, then python -m cli notify --retry-failed"),
)


def email_overview(ledger: NotificationLog, last_notify: list[RunRecord], shown: int = 50) -> dict[str, Any]:
    """The emails the admin must know about: the last notify run's line, and what the ledger holds back."""
    held = []
    for state, heading in EMAIL_STATES:
        entries = sorted(ledger.in_state(state), key=lambda e: e.created_at)
        held.append({"state": state, "heading": heading, "count": len(entries), "entries": entries[:shown]})
    return {"last": last_notify[0] if last_notify else None, "held": held}


def _kept(repos: AdminTables) -> Kept:
    """The figures the last collect run kept; counted from the users table only before any run kept them."""
    return kept_figures(repos.runs) or counted(repos.users.query())


CSV_PAGE = 999
"""Users per CSV chunk: with the one extra row that tells a next page exists, one table request of 1,000."""


def csv_stream(users: UserStates, flt: UserFilter) -> Iterator[str]:
    """The filtered users as CSV, a table page at a time (flat memory at any size), in user-id order.
    Starlette iterates this synchronous generator in its thread pool."""
    yield "\ufeff" + to_csv([])
    after = None
    while True:
        states, after = users.page_after(flt.status, flt.since, CSV_PAGE, after)
        rows = [user_row(s) for s in states if flt.matches(s)]
        if rows:
            yield to_csv(rows, header=False)
        if not after:
            return


def _run_json(run: RunRecord) -> dict[str, Any]:
    return {
        "step": run.step,
        "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat() if run.ended_at else None,
        "outcome": run.outcome,
        "pages": run.pages,
        "events": run.events,
        "skipped": run.skipped,
        "users_changed": run.users_changed,
        "writes": run.writes,
        "emails": run.emails,
        "message": run.message,
        "figures": msgspec.to_builtins(run.figures),
    }
