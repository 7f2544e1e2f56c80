"""Collect sign-ins (and optionally device partnerships), fold them into evidence, judge every tracked user."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from collectors.devices import DeviceCollectorError, collect_devices, could_be_legacy, exchange_token
from collectors.directory import fetch_users
from collectors.graph import GraphError
from collectors.signins import apple_app_filter, legacy_filter, signin_pages
from core.clock import utcnow
from core.records import DeviceRecord, DirectoryUser, Evidence, UserState
from core.services import Services, recorded
from core.settings import Settings
from rules.devices import judge_device
from rules.evidence import fold_apple, fold_legacy
from rules.readiness import SIGNIN_LOGS_FINDING, DeviceFinding
from rules.spray import AttackFinding, SprayTracker
from rules.status import RULE_VERSION, evaluate
from store.checkpoints import Checkpoint, fence_key
from store.runs import RunRecord

NO_PREMIUM_LICENCE = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"


class SignInLogsUnavailableError(RuntimeError):
    """Graph will not serve sign-in logs to this tenant; the tenant finding says what to do."""


LEGACY_STREAM = "signins-legacy"
APPLE_STREAM = "signins-apple"


async def collect_and_evaluate_step(svc: Services, now: datetime | None = None) -> RunRecord:
    async def body(run: RunRecord) -> None:
        prior = svc.users.load_all()
        delta: dict[str, Evidence] = {}
        skipped: Counter[str] = Counter()
        spray = SprayTracker(min_accounts=svc.settings.spray_min_accounts)
        try:
            checkpoints = [
                await _read_stream(svc, name, run, delta, skipped, spray) for name in (LEGACY_STREAM, APPLE_STREAM)
            ]
        except GraphError as exc:
            if exc.code == NO_PREMIUM_LICENCE:
                svc.tenant.save_signin_logs(False, run.started_at)
                finding = SIGNIN_LOGS_FINDING
                raise SignInLogsUnavailableError(f"{finding.summary} {finding.action}") from exc
            raise
        run.writes += svc.tenant.save_signin_logs(True, run.started_at)
        attack = spray.apply(delta)
        devices = await _devices_for(svc, run, skipped) if svc.settings.collect_devices else None
        directory = await _directory_for(svc, prior, delta, skipped, devices)
        states = evaluate_all(prior, delta, directory, svc.settings, run.started_at, devices)
        run.users_changed = sum(1 for s in states if prior.get(s.user_id) != s)
        run.writes = svc.users.save_changed(states, prior)
        for before, after in checkpoints:
            if (before.watermark, before.fence) != (after.watermark, after.fence):
                svc.checkpoints.save(after)
                run.writes += 1
        if attack is not None:
            run.writes += svc.tenant.save_attack(merge_attack(svc.tenant.load_attack(), attack, states), run.started_at)
        run.skipped = sum(v for k, v in skipped.items() if k != "duplicate")
        run.details = {k: v for k, v in skipped.items() if v}
        run.details["modern_only_users"] = sum(
            1 for uid, ev in delta.items() if uid not in prior and ev.last_legacy_at is None
        )
        # Status counts after this run: the dashboard's trend line reads them from the runs table.
        run.details.update({f"status_{k}": v for k, v in Counter(s.verdict.status for s in states).items()})

    return await recorded(svc, "collect", now or utcnow(), body)


async def _read_stream(
    svc: Services,
    name: str,
    run: RunRecord,
    delta: dict[str, Evidence],
    skipped: Counter[str],
    spray: SprayTracker,
) -> tuple[Checkpoint, Checkpoint]:
    """Read one sign-in stream from its watermark (less the overlap) to now, folding pages into ``delta``.

    Returns the checkpoint before and after: the new watermark is the run's clock, and the new fence
    holds every sign-in id inside the next run's overlap, so a re-read never counts one twice.
    """
    settings = svc.settings
    stamp = run.started_at
    overlap = timedelta(minutes=settings.overlap_minutes)
    before = svc.checkpoints.load(name)
    start = before.watermark - overlap if before.watermark else stamp - timedelta(days=settings.lookback_days)
    if name == LEGACY_STREAM:
        odata = legacy_filter(start, stamp, settings.legacy_protocols)
    else:
        odata = apple_app_filter(start, stamp)
    watched = frozenset(p.casefold() for p in settings.legacy_protocols)
    after = Checkpoint(name, watermark=stamp)
    seen: set[bytes] = set()  # Graph can repeat a record within one window, too
    async for page in signin_pages(svc.graph, settings.signins_api_version, odata):
        run.pages += 1
        skipped.update(page.skipped)
        fresh = []
        for event in page.events:
            key = fence_key(event.id)
            if key in before.fence or key in seen:
                skipped["duplicate"] += 1
            else:
                fresh.append(event)
                seen.add(key)
            if event.created_at >= stamp - overlap:
                after.fence.add(key)
        run.events += len(fresh)
        if name == LEGACY_STREAM:
            skipped["not_watched_protocol"] += fold_legacy(delta, fresh, watched)
            spray.add(fresh)
        else:
            skipped["not_apple_modern"] += fold_apple(delta, fresh)
    return before, after


async def _devices_for(
    svc: Services, run: RunRecord, skipped: Counter[str]
) -> dict[str, tuple[DeviceRecord, ...]] | None:
    """Partnerships by user for users with a device that could be legacy; None when Exchange refused
    (the stored device lists are then kept, and the admin finding says what to grant)."""
    try:
        harvest = await collect_devices(svc.settings, await exchange_token(svc.settings))
    except DeviceCollectorError as exc:
        run.writes += svc.tenant.save_device_finding(DeviceFinding(readable=False, problem=exc.finding), run.started_at)
        return None
    skipped.update(harvest.skipped)
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


async def _directory_for(
    svc: Services,
    prior: dict[str, UserState],
    delta: dict[str, Evidence],
    skipped: Counter[str],
    devices: dict[str, tuple[DeviceRecord, ...]] | None = None,
) -> dict[str, DirectoryUser]:
    """Directory entries for users with new legacy evidence; others keep what the state row holds."""
    wanted = {uid for uid, ev in delta.items() if ev.last_legacy_at is not None or uid in prior} | set(devices or ())
    users, user_skips = await fetch_users(svc.graph, wanted)
    skipped.update(user_skips)
    return users


def evaluate_all(
    prior: dict[str, UserState],
    delta: dict[str, Evidence],
    directory: dict[str, DirectoryUser],
    settings: Settings,
    now: datetime,
    devices: dict[str, tuple[DeviceRecord, ...]] | None = None,
) -> list[UserState]:
    """Merge new evidence into each tracked user and decide their status. Pure: no I/O.

    ``devices`` is this run's partnership list by user, or None when devices were not collected
    (each user then keeps the devices stored with them)."""
    states: list[UserState] = []
    for user_id in sorted(prior.keys() | delta.keys() | set(devices or ())):
        before = prior.get(user_id)
        new = delta.get(user_id)
        evidence = before.evidence.merged(new) if before and new else (before.evidence if before else new)
        user_devices = (devices or {}).get(user_id, ()) if devices is not None else (before.devices if before else ())
        if before is None and (evidence is None or evidence.last_legacy_at is None) and not user_devices:
            continue  # only users with legacy evidence (sign-ins or partnerships) are tracked
        evidence = evidence or Evidence()
        user = directory.get(user_id) or (before.directory if before else None)
        verdict = evaluate(evidence, user, settings, now, user_devices)
        keep_since = before is not None and before.verdict.status == verdict.status
        states.append(
            UserState(
                user_id=user_id,
                evidence=evidence,
                verdict=verdict,
                rule_version=RULE_VERSION,
                status_since=before.status_since if before and keep_since else now,
                directory=user,
                notified_count=before.notified_count if before else 0,
                last_notified_at=before.last_notified_at if before else None,
                first_notified_at=before.first_notified_at if before else None,
                devices=user_devices,
            )
        )
    return states


def merge_attack(prior: AttackFinding | None, new: AttackFinding, states: list[UserState]) -> AttackFinding:
    """The standing finding: accounts currently under attack, sources and time span across runs."""
    sources = dict(prior.sources) if prior else {}
    for ip, accounts in new.sources.items():
        sources[ip] = max(sources.get(ip, 0), accounts)
    return AttackFinding(
        accounts=sum(1 for s in states if s.verdict.status == "attack_suspected"),
        sources=dict(sorted(sources.items(), key=lambda kv: -kv[1])[:20]),
        first_seen=min(prior.first_seen, new.first_seen) if prior else new.first_seen,
        last_seen=max(prior.last_seen, new.last_seen) if prior else new.last_seen,
    )
