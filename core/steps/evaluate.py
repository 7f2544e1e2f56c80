"""Judge every tracked user once a window is read: a merge of the users table with the window's deltas.

Both come in user-id order, so one pass over them, a few hundred users at a time, holds no more in
memory for a million sign-ins than for a thousand. Each user row records the window it has absorbed
(``Window``): a pass cut short and run again adds no delta twice. Users without new sign-ins are judged
again too, because time alone moves them (pending_verification → remediated, → stale).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from collectors.directory import fetch_users
from core.memory import release_free_memory
from core.records import Delta, DeviceRecord, DirectoryUser, Evidence, UserState
from core.services import Services
from core.settings import Settings
from rules.spray import attribute_spray
from rules.status import RULE_VERSION, evaluate
from store.staging import StagingTable

CHUNK_USERS = 500
"""Users judged and written together: one batch of directory lookups, a few table transactions."""

Joined = tuple[str, UserState | None, Delta | None, tuple[DeviceRecord, ...] | None]


@dataclass
class EvaluationSummary:
    statuses: Counter[str] = field(default_factory=Counter)
    users_changed: int = 0
    writes: int = 0
    modern_only_users: int = 0
    victims_by_source: Counter[str] = field(default_factory=Counter)
    victim_accounts: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


async def evaluate_users(
    svc: Services,
    now: datetime,
    window_id: str = "",
    staging: StagingTable | None = None,
    segments: list[str] | None = None,
    spray_sources: Collection[str] = (),
    devices: dict[str, tuple[DeviceRecord, ...]] | None = None,
) -> EvaluationSummary:
    """Apply the window's committed deltas (if any) and judge every tracked user; write what changed."""
    summary = EvaluationSummary()
    staged = staging.committed(segments or [], CHUNK_USERS) if staging is not None else iter(())
    joined = join_by_user(svc.users.iter_all(CHUNK_USERS), staged, devices)
    while chunk := list(islice(joined, CHUNK_USERS)):
        news = [_new_evidence(item, window_id, spray_sources, summary) for item in chunk]
        wanted = [
            user_id
            for (user_id, before, _, devs), new in zip(chunk, news, strict=True)
            if (new is not None and (new.last_legacy_at is not None or before is not None)) or devs
        ]
        directory, skips = await fetch_users(svc.graph, wanted)
        summary.skipped.update(skips)
        pairs = []
        for (user_id, before, _, devs), new in zip(chunk, news, strict=True):
            if before is None and new is not None and new.last_legacy_at is None and not devs:
                summary.modern_only_users += 1
            state = evaluate_user(user_id, before, new, directory.get(user_id), devs, svc.settings, now, window_id)
            if state is None:
                continue
            summary.statuses[state.verdict.status] += 1
            if state != before:
                summary.users_changed += 1
                pairs.append((state, before))
        summary.writes += svc.users.write_if_changed(pairs)
        release_free_memory()
    return summary


def _new_evidence(
    item: Joined, window_id: str, sources: Collection[str], summary: EvaluationSummary
) -> Evidence | None:
    """The window's evidence for this user, spray failures marked; None if there is none or it is applied."""
    _, before, delta, _ = item
    if delta is None or (before is not None and window_id and before.applied_window == window_id):
        return None
    evidence, hit = attribute_spray(delta, sources)
    summary.victims_by_source.update(hit)
    summary.victim_accounts += bool(hit)
    return evidence


def evaluate_user(
    user_id: str,
    before: UserState | None,
    new: Evidence | None,
    user: DirectoryUser | None,
    devices: tuple[DeviceRecord, ...] | None,
    settings: Settings,
    now: datetime,
    window_id: str = "",
) -> UserState | None:
    """Merge new evidence into a user and decide their status. Pure: no I/O.

    ``devices`` is this run's partnership list, or None when devices were not collected (the user then
    keeps the devices stored with them). Only users with legacy evidence or partnerships are tracked."""
    evidence = before.evidence.merged(new) if before and new else (before.evidence if before else new)
    user_devices = devices if devices is not None else (before.devices if before else ())
    if before is None and (evidence is None or evidence.last_legacy_at is None) and not user_devices:
        return None
    evidence = evidence or Evidence()
    user = user or (before.directory if before else None)
    verdict = evaluate(evidence, user, settings, now, user_devices)
    keep_since = before is not None and before.verdict.status == verdict.status
    return UserState(
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
        applied_window=window_id if new is not None else (before.applied_window if before else ""),
    )


def join_by_user(
    stored: Iterable[UserState],
    staged: Iterable[tuple[str, Delta]],
    devices: dict[str, tuple[DeviceRecord, ...]] | None,
) -> Iterator[Joined]:
    """Merge three user-id-ordered sources into one row per user: (id, stored state, delta, devices).

    ``devices`` None means partnerships were not collected this run; a user absent from a collected
    list has none now (an empty tuple)."""
    states, deltas = iter(stored), iter(staged)
    device_ids = iter(sorted(devices)) if devices is not None else iter(())
    state, delta, device_id = next(states, None), next(deltas, None), next(device_ids, None)
    last = ""
    while state is not None or delta is not None or device_id is not None:
        keys = [device_id] if device_id is not None else []
        keys += [state.user_id] if state is not None else []
        keys += [delta[0]] if delta is not None else []
        user_id = min(keys)
        this_state = state if state is not None and state.user_id == user_id else None
        this_delta = delta[1] if delta is not None and delta[0] == user_id else None
        if this_state is not None:
            state = next(states, None)
        if this_delta is not None:
            delta = next(deltas, None)
        if device_id == user_id:
            device_id = next(device_ids, None)
        if user_id <= last and last:
            continue  # a row written during this pass and read back by the table's continuation
        last = user_id
        user_devices = devices.get(user_id, ()) if devices is not None else None
        yield user_id, this_state, this_delta, user_devices
