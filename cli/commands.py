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
from pipeline.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from core.ports import NotificationLog
    from core.records import UserState

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Legacy Auth Monitor")
# Piped output (make demo in CI, redirects) gets a readable width instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 120)
errors = Console(stderr=True, soft_wrap=True)  # an error stays one line: URLs and names copy whole


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        errors.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(2) from exc


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
                f"writes={record.writes} emails={record.emails} {record.message}",
                highlight=False,
                markup=False,
                soft_wrap=True,  # one line per step: held users and reasons stay greppable
            )
        if failure is not None:
            errors.print(str(failure), style="red", highlight=False, markup=False)
            raise typer.Exit(1) from failure
        if once:
            return
        time.sleep(every * 60)


@app.command()
def report(
    format: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = ReportFormat.table,
    status: Annotated[str | None, typer.Option(help="Only users with this status.")] = None,
    protocol: Annotated[str | None, typer.Option(help="Only users seen on this legacy protocol.")] = None,
    platform: Annotated[str | None, typer.Option(help="ios, ipados, macos, android, outlook or unknown.")] = None,
    since: Annotated[str | None, typer.Option(help="Only users with a legacy sign-in since (ISO date).")] = None,
    summary: Annotated[bool, typer.Option("--summary", help="Counts by status, platform, iOS version.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of the terminal.")] = None,
) -> None:
    """Print the users in the state table (or a summary), filtered like GET /api/users."""
    from pipeline.wiring import StateTables
    from report.queries import parse_filter, summarize
    from report.users import ReportError, render_table, to_csv, to_json, user_rows

    given = {"status": status, "protocol": protocol, "platform": platform, "since": since}
    try:
        flt = parse_filter({k: v for k, v in given.items() if v is not None})
    except ReportError as exc:
        errors.print(f"[red]--{exc}[/]", highlight=False)
        raise typer.Exit(2) from exc
    settings = _settings()
    tables = StateTables.open(settings)
    states = [s for s in tables.users.query(flt.status) if flt.matches(s)]
    if flt.protocol and flt.protocol.casefold() == AUTHENTICATED_SMTP.casefold() and not summary:
        _report_senders(states, settings, tables.ledger, format, out)
        return
    if summary:
        import orjson

        text = orjson.dumps(summarize(states), option=orjson.OPT_INDENT_2).decode() + "\n"
    elif format is ReportFormat.json:
        text = to_json(user_rows(states)).decode() + "\n"
    elif format is ReportFormat.csv:
        text = ("\ufeff" if out else "") + to_csv(user_rows(states))  # Excel reads UTF-8 files by their BOM
    else:
        if out:
            errors.print("[red]--out needs --format json or csv[/]")
            raise typer.Exit(2)
        render_table(user_rows(states), console)
        return
    if out:
        out.write_text(text, encoding="utf-8", newline="")
        console.print(f"{len(states)} users written to {out}")
    else:
        sys.stdout.write(text)


def _report_senders(
    states: list[UserState], settings: Settings, ledger: NotificationLog, format: ReportFormat, out: Path | None
) -> None:
    """report --protocol "Authenticated SMTP": the senders with kind, owner, last success, days to switch-off."""
    import orjson

    from report.senders import render_senders, sender_rows, senders_csv

    rows = sender_rows(states, settings.messages.owners, ledger, utcnow().date())
    if format is ReportFormat.table and not out:
        render_senders(rows, console)
        return
    if format is ReportFormat.table:
        errors.print("[red]--out needs --format json or csv[/]")
        raise typer.Exit(2)
    text = orjson.dumps(rows).decode() + "\n" if format is ReportFormat.json else senders_csv(rows)
    if out:
        out.write_text(("\ufeff" if format is ReportFormat.csv else "") + text, encoding="utf-8", newline="")
        console.print(f"{len(rows)} senders written to {out}")
    else:
        sys.stdout.write(text)


@app.command()
def notify(
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Requeue refused and failed emails (after fixing the cause).")
    ] = False,
) -> None:
    """The emails the ledger holds back: rendered by the pilot (would send), failed, refused; or requeue them."""
    from pipeline.wiring import StateTables

    ledger = StateTables.open(_settings()).ledger
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
    format: Annotated[ReportFormat, typer.Option("--format", help="table or json.")] = ReportFormat.table,
) -> None:
    """Tenant findings for the admin: Apple app consent, Conditional Access readiness, password spray."""
    from rich.table import Table

    from pipeline.wiring import StateTables

    found = StateTables.open(_settings()).findings()
    if format is ReportFormat.table:
        table = Table(title="Tenant findings")
        for column in ("finding", "ok", "summary", "next action"):
            table.add_column(column)
        for item in found:
            table.add_row(item.name, "yes" if item.ok else "no", item.summary, item.action)
        console.print(table)
        return
    import dataclasses

    import orjson

    rows = [dataclasses.asdict(item) for item in found]
    sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")


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
        errors.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(2) from exc
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
