"""Collect sign-ins (and optionally device partnerships), fold them into evidence, judge every tracked user.

One run: resume the open window or open a new one up to now, read it within the time budget
(core/steps/ingest.py), and once it is read in full, judge every tracked user against it
(core/steps/evaluate.py) and close it: the streams' watermarks and fences move in one transaction,
and the window's staging table goes. A window that needs more time stays open for the next run.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime

from collectors.devices import DeviceCollectorError, collect_devices, could_be_legacy, exchange_token
from collectors.graph import GraphError, GraphStats
from core.clock import utcnow
from core.records import DeviceRecord
from core.services import Services, recorded
from core.steps.evaluate import EvaluationSummary, evaluate_users
from core.steps.ingest import APPLE_STREAM, LEGACY_STREAM, STREAMS, WindowReader, open_window
from rules.devices import judge_device
from rules.readiness import SIGNIN_LOGS_FINDING, DeviceFinding
from rules.spray import AttackFinding, attack_finding
from store.checkpoints import Checkpoint, IngestWindow
from store.runs import RunRecord
from store.staging import drop_leftovers

NO_PREMIUM_LICENCE = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
NOT_RECORDS = frozenset({"duplicate", "empty_page", "cursor_expired"})
"""Counted in the run's details, but not skipped records: a duplicate was counted before."""

__all__ = ["APPLE_STREAM", "LEGACY_STREAM", "collect_and_evaluate_step"]


class SignInLogsUnavailableError(RuntimeError):
    """Graph will not serve sign-in logs to this tenant; the tenant finding says what to do."""


class SignInCollectionError(RuntimeError):
    """Graph failed the sign-in collection after its retries; progress up to the failure is saved."""


async def collect_and_evaluate_step(svc: Services, now: datetime | None = None) -> RunRecord:
    async def body(run: RunRecord) -> None:
        streams = {name: svc.checkpoints.load(name) for name in STREAMS}
        window = svc.checkpoints.load_window() or open_window(svc.settings, streams, run.started_at)
        reader = WindowReader(svc, window, streams, run, time.monotonic() + svc.settings.collect_max_seconds)
        complete = await _read(svc, reader, run)
        judging = time.monotonic()
        run.writes += svc.tenant.save_signin_logs(True, run.started_at)
        if complete:
            summary = await _judge_and_close(svc, reader, streams, run)
        else:
            run.message = (
                f"window {window.starts[LEGACY_STREAM]:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC is still "
                f"open after {window.pages} pages ({window.events} sign-ins): the next run continues it"
            )
            run.details["window_open"] = 1
            summary = await evaluate_users(svc, run.started_at)
        _record_evaluation(run, summary)
        run.details["evaluate_ms"] = round((time.monotonic() - judging) * 1000)

    return await recorded(svc, "collect", now or utcnow(), body)


async def _read(svc: Services, reader: WindowReader, run: RunRecord) -> bool:
    """Read the window within the run's time budget; a Graph failure fails the run, saying what was saved."""
    graph_before, started = replace(svc.graph.stats), time.monotonic()
    try:
        return await reader.read()
    except GraphError as exc:
        raise _collection_failure(svc, run, reader.window, exc) from exc
    finally:
        run.details.update(_graph_figures(svc.graph.stats, graph_before))
        run.details["read_ms"] = round((time.monotonic() - started) * 1000)
        _record_ingest(run, reader)


async def _judge_and_close(
    svc: Services, reader: WindowReader, streams: dict[str, Checkpoint], run: RunRecord
) -> EvaluationSummary:
    """Apply the window to every tracked user, close it, and keep the attack finding up to date."""
    window = reader.window
    devices = await _devices_for(svc, run) if svc.settings.collect_devices else None
    staging = reader.staging if window.segments else None
    summary = await evaluate_users(
        svc, run.started_at, window.window_id, staging, window.segments, reader.spray.sources, devices
    )
    run.writes += _close_window(svc, reader, streams, run)
    finding = attack_finding(reader.spray, summary.victims_by_source, summary.victim_accounts)
    if finding is not None:
        merged = merge_attack(svc.tenant.load_attack(), finding, summary.statuses["attack_suspected"])
        run.writes += svc.tenant.save_attack(merged, run.started_at)
    return summary


def _close_window(svc: Services, reader: WindowReader, streams: dict[str, Checkpoint], run: RunRecord) -> int:
    """Move the watermarks and fences and close the window row in one transaction; drop its staging."""
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
    leftovers = drop_leftovers(svc.tables, svc.settings.tenant_id, run.started_at)
    if leftovers:
        run.details["staging_leftovers_dropped"] = leftovers
    return writes + leftovers


def _collection_failure(svc: Services, run: RunRecord, window: IngestWindow, exc: GraphError) -> Exception:
    if exc.code == NO_PREMIUM_LICENCE:
        svc.tenant.save_signin_logs(False, run.started_at)
        finding = SIGNIN_LOGS_FINDING
        return SignInLogsUnavailableError(f"{finding.summary} {finding.action}")
    saved = f"Page {window.pages} of the window is saved; the next run resumes there" if window.stored else ""
    return SignInCollectionError(f"reading sign-in logs failed: {exc}" + (f". {saved}" if saved else ""))


def _record_ingest(run: RunRecord, reader: WindowReader) -> None:
    stats, window = reader.stats, reader.window
    run.skipped = sum(v for k, v in stats.skipped.items() if k not in NOT_RECORDS)
    run.details.update({k: v for k, v in stats.skipped.items() if v})
    run.details.update(
        {
            "parse_fold_cpu_ms": round(stats.cpu_seconds * 1000),
            "checkpoints": stats.commits,
            "staged_rows": stats.staged_rows,
            "window_pages": window.pages,
            "window_events": window.events,
        }
    )


def _graph_figures(now: GraphStats, before: GraphStats) -> dict[str, int]:
    """What this step cost in Graph requests (the client is shared by the steps of a cycle)."""
    return {
        "graph_requests": now.requests - before.requests,
        "throttled": now.throttled - before.throttled,
        "retries": now.retries - before.retries,
        "retry_wait_ms": round((now.retry_wait_seconds - before.retry_wait_seconds) * 1000),
        "pacing_wait_ms": round((now.pacing_wait_seconds - before.pacing_wait_seconds) * 1000),
    }


def _record_evaluation(run: RunRecord, summary: EvaluationSummary) -> None:
    run.users_changed = summary.users_changed
    run.writes += summary.writes
    run.skipped += sum(summary.skipped.values())
    run.details.update({k: v for k, v in summary.skipped.items() if v})
    run.details["modern_only_users"] = summary.modern_only_users
    # Status counts after this run: the dashboard's trend line reads them from the runs table.
    run.details.update({f"status_{k}": v for k, v in summary.statuses.items()})


async def _devices_for(svc: Services, run: RunRecord) -> dict[str, tuple[DeviceRecord, ...]] | None:
    """Partnerships by user for users with a device that could be legacy; None when Exchange refused
    (the stored device lists are then kept, and the admin finding says what to grant)."""
    try:
        harvest = await collect_devices(svc.settings, await exchange_token(svc.settings))
    except DeviceCollectorError as exc:
        run.writes += svc.tenant.save_device_finding(DeviceFinding(readable=False, problem=exc.finding), run.started_at)
        return None
    run.skipped += sum(harvest.skipped.values())
    run.details.update({k: v for k, v in harvest.skipped.items() if v})
    by_user: dict[str, list[DeviceRecord]] = {}
    for device in harvest.devices:
        by_user.setdefault(device.user_id, []).append(device)
    relevant = {uid: tuple(devs) for uid, devs in by_user.items() if any(could_be_legacy(d) for d in devs)}
    judged = [judge_device(d, svc.settings.stale_days, run.started_at) for devs in relevant.values() for d in devs]
    finding = DeviceFinding(
        readable=True,
        devices=len(harvest.devices),
        legacy=sum(1 for v in judged if v.reasons),
        obsolete=sum(1 for v in judged if not v.active),
        requests=harvest.requests,
    )
    run.writes += svc.tenant.save_device_finding(finding, run.started_at)
    run.details["exchange_requests"] = harvest.requests
    return relevant


def merge_attack(prior: AttackFinding | None, new: AttackFinding, attacked_accounts: int) -> AttackFinding:
    """The standing finding: accounts currently under attack, sources and time span across runs."""
    sources = dict(prior.sources) if prior else {}
    for ip, accounts in new.sources.items():
        sources[ip] = max(sources.get(ip, 0), accounts)
    return AttackFinding(
        accounts=attacked_accounts,
        sources=dict(sorted(sources.items(), key=lambda kv: -kv[1])[:20]),
        first_seen=min(prior.first_seen, new.first_seen) if prior else new.first_seen,
        last_seen=max(prior.last_seen, new.last_seen) if prior else new.last_seen,
    )
