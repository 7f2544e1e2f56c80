"""Judge one user, and line up every user's stored state, new delta and devices: pure, no I/O.

The evaluate step streams the users table and the window's staged deltas through ``join_by_user``
and calls ``evaluate_user`` on each row; what changed is written back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime

from core.config import RuleConfig
from core.records import Delta, DeviceRecord, DirectoryUser, Evidence, UserState
from rules.status import RULE_VERSION, evaluate

Joined = tuple[str, UserState | None, Delta | None, tuple[DeviceRecord, ...] | None]
"""One user's row of the join: id, stored state, this window's delta, this run's devices."""


def evaluate_user(
    user_id: str,
    before: UserState | None,
    new: Evidence | None,
    user: DirectoryUser | None,
    devices: tuple[DeviceRecord, ...] | None,
    config: RuleConfig,
    now: datetime,
    window_id: str = "",
    mailbox_type: str | None = None,
) -> UserState | None:
    """Merge new evidence into a user and decide their status. Pure: no I/O.

    ``devices`` is this run's partnership list, or None when devices were not collected (the user then
    keeps the devices stored with them); ``mailbox_type`` likewise (None: Exchange not read this run). Only
    users with legacy evidence or partnerships are tracked."""
    evidence = before.evidence.merged(new) if before and new else (before.evidence if before else new)
    user_devices = devices if devices is not None else (before.devices if before else ())
    if before is None and (evidence is None or evidence.last_legacy_at is None) and not user_devices:
        return None
    evidence = evidence or Evidence()
    user = user or (before.directory if before else None)
    box = mailbox_type if mailbox_type is not None else (before.mailbox_type if before else "")
    told = before.first_notified_at if before else None
    verdict = evaluate(evidence, user, config, now, user_devices, told, box)
    keep_since = before is not None and before.verdict.status == verdict.status
    if before is not None and before.verdict.status == "remediated" and verdict.status == "legacy_active":
        # fixed once, back on legacy: a new round of messages, counted and verified afresh
        before = replace(
            before, episode=before.episode + 1, notified_count=0, first_notified_at=None, last_notified_at=None
        )
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
        episode=before.episode if before else 1,
        mailbox_type=box,
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
