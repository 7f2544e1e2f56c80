"""Send each due user their message exactly once: ledger intent first, send, then complete the row."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from core.records import UserState
from core.settings import Settings
from notify.compose import REMEDIATION, compose_remediation
from notify.senders import Sender, SendError
from store.notifications import LedgerConflictError, LedgerEntry, NotificationLedger


@dataclass
class NotifyResult:
    delivered: int = 0
    held: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    unconfirmed: int = 0
    updated: list[UserState] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def due_for_first_message(state: UserState) -> bool:
    return state.verdict.status == "legacy_active" and state.notified_count == 0


def notify_due(
    states: Iterable[UserState],
    tenant_ready: bool,
    settings: Settings,
    ledger: NotificationLedger,
    sender: Sender,
    now: datetime,
) -> NotifyResult:
    result = NotifyResult()
    due = sorted((s for s in states if due_for_first_message(s)), key=lambda s: s.status_since)
    if not tenant_ready:
        # Users cannot finish the re-add without consent for Apple's app: tell the admin, not them.
        result.held["held_tenant_not_ready"] += len(due)
        return result
    for state in due:
        if "single_failed_attempt" in state.verdict.reasons:
            result.held["held_single_attempt"] += 1
            continue
        if state.directory is None or not state.directory.mail:
            result.held["no_mailbox"] += 1
            continue
        message_id = f"{REMEDIATION}-{state.notified_count + 1}"
        existing = ledger.get(state.user_id, message_id)
        if existing is not None:
            if existing.state in ("sent", "dry-run"):
                # The mail went out but the user row was not updated: repair the row, send nothing.
                result.updated.append(_mark_notified(state, existing.completed_at or existing.created_at))
            elif existing.state == "sending":
                result.unconfirmed += 1
            continue
        email = compose_remediation(state, settings)
        entry = LedgerEntry(
            user_id=state.user_id,
            message_id=message_id,
            operation_id=str(uuid.uuid4()),
            state="sending",
            template=email.template,
            locale=email.locale,
            recipient=email.to_address,
            created_at=now,
        )
        try:
            ledger.begin(entry)
        except LedgerConflictError:
            result.unconfirmed += 1
            continue
        try:
            sender.send(email, entry.operation_id)
        except SendError as exc:
            ledger.complete(replace(entry, state="failed", completed_at=now, error=str(exc)))
            result.failed += 1
            result.errors.append(str(exc))
            continue
        ledger.complete(replace(entry, state=sender.ledger_state, completed_at=now))
        result.delivered += 1
        result.updated.append(_mark_notified(state, now))
    return result


def _mark_notified(state: UserState, when: datetime) -> UserState:
    return replace(state, notified_count=state.notified_count + 1, last_notified_at=when)
