"""Command line: run the monitor once, report the state, serve the simulator, run the demo.

python -m cli run --once
python -m cli report --format table|json|csv [--status S]
python -m cli notify [--retry-failed]
python -m cli sim [--scenario NAME_OR_FILE] [--port P]
python -m cli demo [--fresh]
"""

from __future__ import annotations

import asyncio
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from core.clock import utcnow
from core.constants import AUTHENTICATED_SMTP
from pipeline.cycle import FULL_CYCLE, StepFailedError, run_with_settings
from pipeline.outage import QUICK_CONNECT_RETRIES
from pipeline.settings import Settings, SettingsError, load_settings
from pipeline.wiring import StateTables
from report.queries import PLATFORMS, UserFilter, parse_filter
from report.senders import SenderFilter, parse_sender_filter, render_senders, sender_rows, senders_csv
from report.terminal import terminal_safe
from report.users import ReportError

if TYPE_CHECKING:
    from core.records import UserState

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Legacy Auth Monitor")
# Piped output (make demo in CI, redirects) gets a readable width instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 120)
errors = Console(stderr=True, soft_wrap=True)  # an error stays one line: URLs and names copy whole
STEP_FAILED, ADMIN_MUST_FIX = 1, 2
"""Exit codes: a step failed (its runs row says why); the admin must fix something (a setting, an option, a
path, the state tables unreachable). Errors cli/main.py meets on the way out are exit 2 as well."""


def fail(message: object, code: int) -> typer.Exit:
    """Print one escaped red line (whatever Graph or storage put in the message) and the exit to raise."""
    line = " ".join(str(message).split())  # the Storage SDK's messages span lines: one line, copied whole
    errors.print(f"[red]{terminal_safe(line)}[/]", highlight=False)
    return typer.Exit(code)


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise fail(exc, ADMIN_MUST_FIX) from exc


@app.command()
def run(
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit.")] = False,
    every: Annotated[int, typer.Option(help="Minutes between cycles when not --once.", min=1)] = 30,
) -> None:
    """Check the Apple app, collect and evaluate sign-ins, and notify users: once, or every N minutes."""
    settings = _settings()
    while True:
        try:
            runs, failure = asyncio.run(run_with_settings(settings, FULL_CYCLE)), None
        except StepFailedError as exc:
            runs, failure = exc.runs, exc
        for record in runs:
            console.print(
                f"{record.step:<10} {record.outcome:<9} pages={record.pages} events={record.events} "
                f"writes={record.writes} emails={record.emails} {terminal_safe(record.message)}",
                highlight=False,
                soft_wrap=True,  # one line per step: held users and reasons stay greppable
            )
        if failure is not None:  # every step ran; say which failed
            raise fail(failure, ADMIN_MUST_FIX if failure.storage_down else STEP_FAILED) from failure
        if once:
            return
        time.sleep(every * 60)


@app.command()
def report(
    format: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = ReportFormat.table,
    status: Annotated[str | None, typer.Option(help="Only users with this status.")] = None,
    protocol: Annotated[str | None, typer.Option(help="Only users seen on this legacy protocol.")] = None,
    platform: Annotated[str | None, typer.Option(help="One of: " + ", ".join(PLATFORMS))] = None,
    since: Annotated[str | None, typer.Option(help="Only users with a legacy sign-in since (ISO date).")] = None,
    kind: Annotated[
        str | None, typer.Option(help="With --protocol: person, device, application, shared, attack.")
    ] = None,
    owner: Annotated[str | None, typer.Option(help="With --protocol: an owner's address, or 'owner unknown'.")] = None,
    summary: Annotated[bool, typer.Option("--summary", help="Counts by status, platform, iOS version.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of the terminal.")] = None,
) -> None:
    """Print the users in the state table (or a summary), filtered like GET /api/users."""
    from report.terminal import render_users
    from report.users import to_csv, to_json, user_rows

    given = {"status": status, "protocol": protocol, "platform": platform, "since": since}
    senders = {"protocol": protocol, "status": status, "kind": kind, "owner": owner}
    try:
        flt = parse_filter({k: v for k, v in given.items() if v is not None})
        if (kind or owner) and not protocol:
            raise ReportError(f"{'kind' if kind else 'owner'}: give --protocol too (it filters a protocol's senders)")
        sender_filter = parse_sender_filter({k: v for k, v in senders.items() if v is not None}) if protocol else None
    except ReportError as exc:
        raise fail(f"--{exc}", ADMIN_MUST_FIX) from exc
    _check_out(out, format)
    settings = _settings()
    tables = StateTables.open(settings, connect_retries=QUICK_CONNECT_RETRIES)
    if sender_filter and (kind or owner or sender_filter.protocol == AUTHENTICATED_SMTP) and not summary:
        states = [s for s in tables.users.query(flt.status) if flt.matches(s)]
        _report_senders(states, sender_filter, tables, format, out)
        return
    if summary:
        _report_summary(tables, flt, format, out)
        return
    states = [s for s in tables.users.query(flt.status) if flt.matches(s)]
    if format is ReportFormat.json:
        text = to_json(user_rows(states)).decode() + "\n"
    elif format is ReportFormat.csv:
        text = ("\ufeff" if out else "") + to_csv(user_rows(states))  # Excel reads UTF-8 files by their BOM
    else:
        render_users(user_rows(states), console)
        return
    _write(text, out, f"{len(states)} users")


def _check_out(out: Path | None, format: ReportFormat) -> None:
    """Refuse an --out that cannot be written before anything is read: one line, exit 2."""
    if out is None:
        return
    problem = ""
    if format is ReportFormat.table:
        problem = "needs --format json or csv"
    elif out.is_dir():
        problem = f"{out} is a folder; give a file name inside it"
    elif not out.parent.is_dir():
        problem = f"folder {out.parent} does not exist; create it or choose another path"
    if problem:
        errors.print(f"--out: {problem}", style="red", highlight=False, markup=False)
        raise typer.Exit(2)


def _write(text: str, out: Path | None, what: str) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        errors.print(f"--out: cannot write {out}: {exc.strerror}", style="red", highlight=False, markup=False)
        raise typer.Exit(2) from exc
    console.print(f"{what} written to {out}", highlight=False)


def _report_summary(tables: StateTables, flt: UserFilter, format: ReportFormat, out: Path | None) -> None:
    """The figures the last collect run kept (as /api/summary), or with a filter those of the matching users."""
    import orjson

    from report.summary import counted, kept_figures, render_summary_table, summary_csv

    kept = kept_figures(tables.runs) if flt == UserFilter() else None
    data = (kept or counted(s for s in tables.users.query(flt.status) if flt.matches(s))).as_json()
    if format is ReportFormat.table:
        render_summary_table(data, console)
        return
    text = summary_csv(data) if format is ReportFormat.csv else orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
    _write(text if text.endswith("\n") else text + "\n", out, "summary")


def _report_senders(
    states: list[UserState], flt: SenderFilter, tables: StateTables, format: ReportFormat, out: Path | None
) -> None:
    """report --protocol "Authenticated SMTP" (or any protocol with --kind/--owner): the senders with kind,
    owner, last success, days to switch-off; the same rows as GET /api/senders with the same filter."""
    import orjson

    rows = sender_rows(states, flt, tables.owners, tables.ledger, utcnow().date())
    if format is ReportFormat.table:  # --out with a table was refused before anything was read
        render_senders(rows, flt, console)
        return
    text = orjson.dumps(rows).decode() + "\n" if format is ReportFormat.json else senders_csv(rows)
    _write(("\ufeff" if format is ReportFormat.csv and out else "") + text, out, f"{len(rows)} senders")


@app.command()
def notify(
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Requeue refused and failed emails (after fixing the cause).")
    ] = False,
) -> None:
    """The emails the ledger holds back: rendered by the pilot (would send), failed, refused; or requeue them."""

    ledger = StateTables.open(_settings(), connect_retries=QUICK_CONNECT_RETRIES).ledger
    if retry_failed:
        moved = ledger.requeue_failed()
        console.print(f"{len(moved)} email(s) requeued: the next run sends them (once each).", highlight=False)
        return
    for state, heading in (
        ("dry-run", "would send (rendered by the dry-run or pilot; going live sends them)"),
        ("failed", "failed, retried with backoff"),
        ("refused", "refused: fix the cause, then `python -m cli notify --retry-failed`"),
    ):
        entries = ledger.in_state(state)
        console.print(f"{len(entries)} {heading}", highlight=False)
        for e in sorted(entries, key=lambda e: e.created_at):
            retry = f" retry after {e.retry_at:%Y-%m-%d %H:%M} UTC" if e.retry_at else ""
            line = f"  {e.recipient} {e.template} ({e.locale}) {e.created_at:%Y-%m-%d %H:%M} UTC{retry} {e.error}"
            console.print(_printable(line.rstrip()), highlight=False, markup=False)


def _printable(text: str) -> str:
    """A terminal line from stored text (addresses, ACS errors): no control characters, no escapes."""
    return "".join(c if c.isprintable() else "?" for c in text)


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Loopback port.", min=1, max=65535)] = 8080,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
) -> None:
    """Serve the admin views (/api/dashboard, /api/users, ...) locally, the same app as in Azure."""
    import uvicorn

    from pipeline.admin import admin_app

    settings = _settings()
    console.print(f"Dashboard: http://{host}:{port}/api/dashboard")
    uvicorn.run(admin_app(lambda: settings), host=host, port=port, log_level="warning")


@app.command()
def findings(
    format: Annotated[ReportFormat, typer.Option("--format", help="table, json or csv.")] = ReportFormat.table,
) -> None:
    """Tenant findings for the admin: Apple app consent, Conditional Access readiness, password spray."""
    from rich.table import Table

    found = StateTables.open(_settings(), connect_retries=QUICK_CONNECT_RETRIES).findings()
    if format is ReportFormat.table:
        table = Table(title="Tenant findings")
        for column in ("finding", "ok", "summary", "next action"):
            table.add_column(column)
        for item in found:  # summaries name attack sources and app names: text from outside
            table.add_row(
                item.name, "yes" if item.ok else "no", terminal_safe(item.summary), terminal_safe(item.action)
            )
        console.print(table)
        return
    import dataclasses

    import orjson

    rows = [dataclasses.asdict(item) for item in found]
    if format is ReportFormat.csv:
        sys.stdout.write(_findings_csv(rows))
        return
    sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")


def _findings_csv(rows: list[dict[str, object]]) -> str:
    """Finding summaries quote attack sources and app names: cells are neutralised like the users CSV."""
    import csv
    import io

    from report.users import csv_cell

    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=["name", "ok", "severity", "summary", "action", "link"], lineterminator="\r\n"
    )
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in {**row, "ok": "yes" if row["ok"] else "no"}.items()} for row in rows)
    return out.getvalue()


@app.command()
def sim(
    scenario: Annotated[str, typer.Option(help="Built-in scenario (demo, empty) or a JSON file.")] = "demo",
    port: Annotated[int, typer.Option(help="Loopback port; 0 picks a free one.", min=0, max=65535)] = 0,
    outbox: Annotated[Path, typer.Option(help="Where sent mail lands as .eml.")] = Path("outbox"),
    users: Annotated[int, typer.Option(help="Serve a generated tenant of this many users instead.", min=0)] = 0,
    events: Annotated[int, typer.Option(help="Legacy sign-ins in the generated tenant's 30 days.", min=0)] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the generated tenant (its tenant id follows).", min=1)] = 1,
    now: Annotated[str | None, typer.Option(help="End of the generated sign-ins (ISO-8601 UTC).")] = None,
    time_scale: Annotated[float, typer.Option(help="Run the throttle and latency this much faster.", min=0.01)] = 1.0,
    latency_ms: Annotated[float, typer.Option(help="Time to serve one sign-in page.", min=0)] = 0.0,
    throttle: Annotated[str, typer.Option(help="Sign-in requests per window, Graph's is 5/10s.")] = "5/10s",
    spray_share: Annotated[float, typer.Option(help="Generated sign-ins that are spray.", min=0, max=1)] = 0.01,
) -> None:
    """Serve a simulated tenant (Graph + ACS Email + Exchange) on loopback until Ctrl-C."""
    from core.clock import parse_graph_time
    from devstack.simulator import SimServer
    from pipeline.settings import parse_rate
    from sim.generated import GeneratedTenant
    from sim.loading import load_scenario
    from sim.scenario import Scenario

    try:
        end = parse_graph_time(now) if now else utcnow().replace(microsecond=0)
        if end is None:
            raise ValueError(f"--now: {now!r} is not an ISO-8601 time")
        generated = GeneratedTenant(users, events, end, seed, spray_share=spray_share) if users else None
        data = Scenario(generated.tenant_id, generated=generated) if generated else load_scenario(scenario, end)
        data.throttle, data.time_scale, data.latency_ms = parse_rate(throttle), time_scale, latency_ms
    except ValueError as exc:
        raise fail(exc, ADMIN_MUST_FIX) from exc
    server = SimServer(data, outbox, port=port).start()
    console.print(f"Tenant simulator on {server.url} (Ctrl-C to stop). Point the monitor at it with:")
    for name, value in (
        ("LAM_TENANT_ID", data.tenant_id),
        ("LAM_GRAPH_BASE_URL", server.url),
        ("LAM_GRAPH_AUTH", "none"),
        ("LAM_ACS_ENDPOINT", server.url),
        ("LAM_ACS_KEY", data.acs_key),
        ("LAM_SIGNINS_RATE_LIMIT", f"{data.throttle[0]}/{data.throttle[1] / time_scale:g}s"),
    ):
        console.print(f"  export {name}={value}", highlight=False)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


@app.command()
def demo(
    fresh: Annotated[bool, typer.Option("--fresh", help="Forget the previous demo's state.")] = False,
    state_dir: Annotated[Path | None, typer.Option(help="Where the demo keeps its state (default .demo/).")] = None,
    unconsented: Annotated[
        bool, typer.Option("--unconsented", help="A tenant where Apple's app lacks consent: emails are held.")
    ] = False,
) -> None:
    """Start Azurite and the simulated tenant, run one full cycle, print a checked summary."""
    from devstack.demo import DEMO_DIR, run_demo

    default_dir = DEMO_DIR / ("unconsented" if unconsented else "consented")
    raise typer.Exit(run_demo(console, fresh=fresh, demo_dir=state_dir or default_dir, consented=not unconsented))
