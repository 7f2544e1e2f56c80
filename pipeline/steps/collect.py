"""Collect sign-ins (and optionally device partnerships), fold them into evidence, judge every tracked user.

One run: resume the open window or open a new one up to now, read it within the time budget
(pipeline/steps/ingest.py), and once it is read in full, judge every tracked user against it
(pipeline/steps/evaluate.py) and close it: the streams' watermarks and fences move in one transaction,
and the window's staging table goes. A window that needs more time stays open for the next run.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from collectors.devices import DeviceCollectorError, DeviceHarvest, collect_devices, exchange_token
from collectors.graph import GraphError
from collectors.switches import read_switches
from core.clock import utcnow
from core.constants import EXCHANGE_WEB_SERVICES
from core.findings import DeviceFinding, RetirementBaseline
from core.ingest import Checkpoint, IngestWindow, UnreadSpan
from core.records import DeviceRecord
from core.runs import CollectFigures, GraphCost, RunRecord, StatusCounts, StepError, StepResult
from pipeline.credentials import async_credential
from pipeline.steps.evaluate import EvaluationSummary, evaluate_users
from pipeline.steps.ingest import APPLE_STREAM, LEGACY_STREAM, STREAMS, WindowReader, open_window
from pipeline.wiring import Services, exchange_target, recorded, retry_policy
from rules.devices import devices_by_user, partnership_finding
from rules.protocols import BY_CLIENT_APP, SMTP_AUTH
from rules.readiness import SIGNIN_LOGS_FINDING
from rules.retirements import RECENT_DAYS, affected_accounts, baseline_of, extend_baseline, finding_name
from rules.spray import attack_finding, merge_attack
from rules.unread import still_checkable
from store.staging import drop_leftovers

NO_PREMIUM_LICENCE = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
LICENCE_RETRY_WINDOWS = (1.5, 4.5, 9.0)
"""Waits before asking Graph again after a 403 "no premium licence", in windows of the sign-in request budget
(LAM_SIGNINS_RATE_LIMIT, 10 s on Graph: 15 s, 45 s, 90 s): the run concludes only after the last."""
NOT_RECORDS = frozenset(
    {
        "duplicate",
        "repeated_page",
        "empty_page",
        "cursor_expired",
        "page_refused",
        "wait_past_deadline",
        "spray_buckets_evicted",
        "spray_sources_unnamed",
        "licence_refusal_retried",
        "poison_range_split",
        "poison_span_skipped",
    }
)
"""Noted in the run's figures, but not skipped records: a duplicate was counted before."""

__all__ = ["APPLE_STREAM", "LEGACY_STREAM", "collect_and_evaluate_step"]


class SignInLogsUnavailableError(StepError):
    """Graph will not serve sign-in logs to this tenant; the tenant finding says what to do."""


class SignInCollectionError(StepError):
    """Graph failed the sign-in collection after its retries; progress up to the failure is saved."""


@dataclass
class Judgement:
    """What judging the users (and closing the window) did, for the run's result."""

    summary: EvaluationSummary
    writes: int = 0
    devices: DeviceHarvest | None = None
    leftovers_dropped: int = 0
    window_open: bool = False
    """The window needs more runs: users were judged on what earlier windows brought."""
    switch_requests: int = 0
    """Exchange admin API requests that read the switches (beside the device harvest's)."""


async def collect_and_evaluate_step(svc: Services, now: datetime | None = None) -> RunRecord:
    async def body(stamp: datetime) -> StepResult:
        reader = await asyncio.to_thread(_open_reader, svc, stamp)
        window, streams = reader.window, reader.streams
        graph_before, started = replace(svc.graph.stats), time.monotonic()
        try:
            complete = await _read_through_licence_refusals(reader, licence_retry_waits(svc))
        except GraphError as exc:
            read = _read_result(reader, svc.graph.stats.cost_since(graph_before), started)
            raise await asyncio.to_thread(_collection_failure, svc, stamp, window, exc, read) from exc
        read = _read_result(reader, svc.graph.stats.cost_since(graph_before), started)
        judging = time.monotonic()
        writes = await asyncio.to_thread(_save_readable, svc, window, stamp)
        message = _unread_message(reader.stats.unread)
        if complete:
            judged = await _judge_and_close(svc, reader, streams, stamp)
        else:
            message += (
                f"window {window.starts[LEGACY_STREAM]:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC is still "
                f"open after {window.pages} pages ({window.events} sign-ins): the next run continues it"
            )
            judged = Judgement(await evaluate_users(svc, stamp), window_open=True)
        return _with_judgement(read, judged, writes, message, round((time.monotonic() - judging) * 1000))

    return await recorded(svc, "collect", now or utcnow(), body)


def _open_reader(svc: Services, stamp: datetime) -> WindowReader:
    """The window this run reads: the open one, else a new one from the streams' watermarks (table reads)."""
    streams = {name: svc.checkpoints.load(name) for name in STREAMS}
    window = svc.checkpoints.load_window() or open_window(svc.settings, streams, stamp)
    return WindowReader(svc, window, streams, time.monotonic() + svc.settings.collect_max_seconds)


def _save_readable(svc: Services, window: IngestWindow, stamp: datetime) -> int:
    """The log was readable: say so, and keep the spans skipped as poison still inside the log's reach."""
    writes = int(svc.tenant.save_signin_logs(True, stamp))
    return writes + svc.tenant.save_unread(still_checkable([*svc.tenant.load_unread(), *window.unread], stamp), stamp)


def licence_retry_waits(svc: Services) -> tuple[float, ...]:
    _, window = svc.settings.signins_rate_limit
    return tuple(factor * window for factor in LICENCE_RETRY_WINDOWS)


async def _read_through_licence_refusals(reader: WindowReader, waits: tuple[float, ...]) -> bool:
    """Read the window; Graph's 403 "no premium licence" is asked again after each wait before it counts.

    Tenants that do have Entra ID P1/P2 get this refusal now and then (public Graph docs issues), so one
    refusal is not a missing licence. The reader resumes where it stood (a refusal reads no page)."""
    for wait in waits:
        try:
            return await reader.read()
        except GraphError as exc:
            if exc.code != NO_PREMIUM_LICENCE:
                raise
            reader.stats.skipped["licence_refusal_retried"] += 1
            await asyncio.sleep(wait)
    return await reader.read()


async def _judge_and_close(
    svc: Services, reader: WindowReader, streams: dict[str, Checkpoint], stamp: datetime
) -> Judgement:
    """Apply the window to every tracked user, close it, and keep the attack finding up to date."""
    window = reader.window
    harvest, writes, devices, token = None, 0, None, None
    if svc.settings.collect_devices:
        token = await exchange_token(async_credential(svc.settings))
        harvest, writes, devices = await _devices_for(svc, stamp, token)
    staging = reader.staging if window.segments else None
    types = harvest.mailbox_types if harvest is not None else None
    summary = await evaluate_users(
        svc, stamp, window.window_id, staging, window.segments, reader.spray.spray_sources(), devices, types
    )
    closed, leftovers = await asyncio.to_thread(_close_window, svc, reader, streams, stamp)
    readiness_writes, switch_requests = await _readiness(svc, stamp, token)
    writes += closed + readiness_writes
    finding = attack_finding(reader.spray, summary.victims_by_source, summary.victim_accounts)
    if finding is not None:
        stored = await asyncio.to_thread(svc.tenant.load_attack)
        merged = merge_attack(stored, finding, summary.statuses["attack_suspected"])
        writes += await asyncio.to_thread(svc.tenant.save_attack, merged, stamp)
    return Judgement(summary, writes, harvest, leftovers, switch_requests=switch_requests)


def _close_window(
    svc: Services, reader: WindowReader, streams: dict[str, Checkpoint], stamp: datetime
) -> tuple[int, int]:
    """Move the watermarks and fences and close the window row in one transaction; drop its staging.
    Returns the writes and how many leftover staging tables of dead runs were dropped."""
    window = reader.window
    moved = [
        Checkpoint(name, watermark=window.end, fence=window.new_fences.get(name, set()), etag=before.etag)
        for name, before in streams.items()
        if before.watermark is None or before.watermark < window.end
    ]
    changed = [c for c in moved if (c.watermark, c.fence) != (streams[c.name].watermark, streams[c.name].fence)]
    writes = svc.checkpoints.finish_window(window if window.stored else None, changed)
    if window.segments:
        reader.staging.drop()
        writes += 1
    leftovers = drop_leftovers(svc.service, svc.settings.tenant_id, stamp)
    return writes + leftovers, leftovers


def _unread_message(spans: list[UnreadSpan]) -> str:
    if not spans:
        return ""
    return (
        f"skipped {len(spans)} unreadable span(s) of the sign-in log as poison pages (the first at "
        f"{spans[0].start:%Y-%m-%d %H:%M:%S} UTC, {spans[0].code}): see the findings. "
    )


def _collection_failure(
    svc: Services, stamp: datetime, window: IngestWindow, exc: GraphError, read: StepResult
) -> StepError:
    if exc.code == NO_PREMIUM_LICENCE:
        svc.tenant.save_signin_logs(False, stamp)
        waits = licence_retry_waits(svc)
        tried = f" (asked {len(waits) + 1} times over {sum(waits):.0f} s)"
        finding = SIGNIN_LOGS_FINDING
        return SignInLogsUnavailableError(f"{finding.summary}{tried} {finding.action}", read)
    saved = f"Page {window.pages} of the window is saved; the next run resumes there" if window.stored else ""
    return SignInCollectionError(f"reading sign-in logs failed: {exc}" + (f". {saved}" if saved else ""), read)


def _read_result(reader: WindowReader, graph: GraphCost, started: float) -> StepResult:
    """What reading the window did, as the run records it (also when Graph failed part-way)."""
    stats, window = reader.stats, reader.window
    figures = CollectFigures(
        graph=graph,
        window_open=False,
        window_pages=window.pages,
        window_events=window.events,
        read_ms=round((time.monotonic() - started) * 1000),
        parse_fold_cpu_ms=round(stats.cpu_seconds * 1000),
        checkpoints=stats.commits,
        staged_rows=stats.staged_rows,
        noted={k: v for k, v in stats.skipped.items() if v},
        samples=dict(stats.samples),
        unread=tuple(stats.unread),
    )
    skipped = sum(v for k, v in stats.skipped.items() if k not in NOT_RECORDS)
    return StepResult(figures, pages=stats.pages, events=stats.events, skipped=skipped, writes=stats.writes)


def _with_judgement(read: StepResult, judged: Judgement, writes: int, message: str, evaluate_ms: int) -> StepResult:
    """The whole run's result: the reading, then the judging (status counts feed the dashboard's trend)."""
    summary, harvest = judged.summary, judged.devices
    assert isinstance(read.figures, CollectFigures)
    noted = Counter(read.figures.noted)
    noted.update({k: v for k, v in summary.skipped.items() if v})
    if harvest is not None:
        noted.update({k: v for k, v in harvest.skipped.items() if v})
    figures = replace(
        read.figures,
        statuses=StatusCounts.of(summary.statuses),
        breakdown=summary.breakdown.figures(),
        window_open=judged.window_open,
        evaluate_ms=evaluate_ms,
        modern_only_users=summary.modern_only_users,
        exchange_requests=(harvest.requests if harvest is not None else 0) + judged.switch_requests,
        staging_leftovers_dropped=judged.leftovers_dropped,
        noted=dict(noted),
    )
    skipped = sum(summary.skipped.values()) + (sum(harvest.skipped.values()) if harvest is not None else 0)
    return replace(
        read,
        figures=figures,
        message=message,
        skipped=read.skipped + skipped,
        users_changed=summary.users_changed,
        writes=read.writes + writes + judged.writes + summary.writes,
    )


async def _readiness(svc: Services, stamp: datetime, token: str | None) -> tuple[int, int]:
    """What the readiness findings need beyond the users: the first run's baseline (written once) and, with
    the Exchange collector on, the switches of the organization and of the senders' mailboxes. Returns the
    writes and the Exchange requests."""
    recent = await asyncio.to_thread(svc.users.succeeded_since, stamp - timedelta(days=RECENT_DAYS))
    affected = affected_accounts(recent, stamp, svc.settings.legacy_protocols)
    writes = int(await asyncio.to_thread(_keep_baseline, svc, baseline_of(affected, stamp), stamp))
    if svc.settings.collect_devices:
        ews_retirement = BY_CLIENT_APP[EXCHANGE_WEB_SERVICES.casefold()]
        smtp, ews = ([s.upn for s in affected.get(finding_name(r), [])] for r in (SMTP_AUTH, ews_retirement))
        target, retry = exchange_target(svc.settings), retry_policy(svc.settings)
        switches = await read_switches(target, token, smtp, ews, retry)
        writes += int(await asyncio.to_thread(svc.tenant.save_switches, switches, stamp))
        return writes, switches.requests
    return writes, 0


def _keep_baseline(svc: Services, fresh: RetirementBaseline, stamp: datetime) -> bool:
    """The first count of each retirement is kept once (a protocol watched later gets its own then)."""
    kept = extend_baseline(svc.tenant.load_baseline(), fresh)
    return kept is not None and svc.tenant.save_baseline(kept, stamp)


async def _devices_for(
    svc: Services, stamp: datetime, token: str | None
) -> tuple[DeviceHarvest | None, int, dict[str, tuple[DeviceRecord, ...]] | None]:
    """The harvest, the tenant-row writes, and partnerships by user for users with a device that could be
    legacy; None when Exchange refused (the stored device lists are then kept, and the admin finding
    says what to grant)."""
    try:
        harvest = await collect_devices(exchange_target(svc.settings), token, retry_policy(svc.settings))
    except DeviceCollectorError as exc:
        refused = DeviceFinding(readable=False, problem=exc.finding)
        return None, await asyncio.to_thread(svc.tenant.save_device_finding, refused, stamp), None
    relevant = devices_by_user(harvest.devices)
    finding = partnership_finding(harvest.devices, relevant, harvest.requests, svc.settings.rules.stale_days, stamp)
    return harvest, await asyncio.to_thread(svc.tenant.save_device_finding, finding, stamp), relevant
