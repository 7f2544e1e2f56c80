"""Judge every tracked user once a window is read: a merge of the users table with the window's deltas.

Both come in user-id order, so one pass over them, a few hundred users at a time, holds no more in
memory for a million sign-ins than for a thousand. Each user row records the window it has absorbed
(``Window``): a pass cut short and run again adds no delta twice. Users without new sign-ins are judged
again too, because time alone moves them (pending_verification → remediated, → stale).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from collectors.directory import fetch_users
from core.records import DeviceRecord, Evidence
from pipeline.memory import release_free_memory
from pipeline.wiring import Services
from rules.breakdown import BreakdownCounter
from rules.evaluation import Joined, evaluate_user, join_by_user
from rules.spray import SpraySources, attribute_spray
from store.staging import StagingTable

CHUNK_USERS = 500
"""Users judged and written together: one batch of directory lookups, a few table transactions."""


@dataclass
class EvaluationSummary:
    statuses: Counter[str] = field(default_factory=Counter)
    users_changed: int = 0
    writes: int = 0
    modern_only_users: int = 0
    victims_by_source: Counter[str] = field(default_factory=Counter)
    victim_accounts: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    breakdown: BreakdownCounter = field(default_factory=BreakdownCounter)
    """The admin summary's figures, counted here where every user passes anyway."""


async def evaluate_users(
    svc: Services,
    now: datetime,
    window_id: str = "",
    staging: StagingTable | None = None,
    segments: list[str] | None = None,
    spray_sources: SpraySources | None = None,
    devices: dict[str, tuple[DeviceRecord, ...]] | None = None,
    mailbox_types: dict[str, str] | None = None,
) -> EvaluationSummary:
    """Apply the window's committed deltas (if any) and judge every tracked user; write what changed.
    ``mailbox_types``: shared and resource mailboxes by user id, None when Exchange was not read."""
    summary = EvaluationSummary()
    staged = staging.committed(segments or [], CHUNK_USERS) if staging is not None else iter(())
    joined = join_by_user(svc.users.iter_all(CHUNK_USERS), staged, devices)
    # The users table and the staging table are read and written by the synchronous Tables SDK: each
    # chunk's reads and writes run in a worker thread, so the event loop stays free meanwhile.
    while chunk := await asyncio.to_thread(_next_chunk, joined):
        sources = spray_sources or SpraySources({})
        news = [_new_evidence(item, window_id, sources, summary) for item in chunk]
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
            box = mailbox_types.get(user_id, "") if mailbox_types is not None else None
            state = evaluate_user(
                user_id, before, new, directory.get(user_id), devs, svc.settings.rules, now, window_id, box
            )
            if state is None:
                continue
            summary.statuses[state.verdict.status] += 1
            summary.breakdown.add(state)
            if state != before:
                summary.users_changed += 1
                pairs.append((state, before))
        summary.writes += await asyncio.to_thread(svc.users.write_if_changed, pairs)
        release_free_memory()
    return summary


def _next_chunk(joined: Iterator[Joined]) -> list[Joined]:
    return list(islice(joined, CHUNK_USERS))


def _new_evidence(item: Joined, window_id: str, sources: SpraySources, summary: EvaluationSummary) -> Evidence | None:
    """The window's evidence for this user, spray failures marked; None if there is none or it is applied."""
    _, before, delta, _ = item
    if delta is None or (before is not None and window_id and before.applied_window == window_id):
        return None
    evidence, hit = attribute_spray(delta, sources)
    summary.victims_by_source.update(ip for ip in hit if ip in sources.named)  # the finding lists named ones only
    summary.victim_accounts += bool(hit)
    return evidence
