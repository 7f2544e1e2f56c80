"""Send each due user their message exactly once: ledger intent first, send, then complete the row.

Who is due: legacy_active users, the first message at once, then reminders on the cadence
(LAM_REMINDER_DAYS after the first), never after they leave legacy_active. How fast: within the
send budget per minute and per hour (ACS quotas), oldest first; the rest waits for the next run.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from core.config import MessagePolicy
from core.ledger import RETRYABLE, LedgerConflictError, LedgerEntry
from core.ports import NotificationLog
from core.records import UserState
from notify.compose import compose_confirmation, compose_remediation
from notify.senders import Sender, SendError, SendThrottledError
from rules.cadence import allowed, due_messages


@dataclass
class NotifyResult:
    delivered: int = 0
    held: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    unconfirmed: int = 0
    carried_over: int = 0
    updated: list[UserState] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class SendBudget:
    """Per-minute and per-hour quotas, seeded with what the ledger says was already sent."""

    def __init__(
        self, policy: MessagePolicy, already: list[datetime], now: datetime, clock: Callable[[], float]
    ) -> None:
        self._per_minute, self._per_hour = policy.send_per_minute, policy.send_per_hour
        self._hour_left = self._per_hour - sum(1 for t in already if now - t < timedelta(hours=1))
        start = clock()
        self._minute: deque[float] = deque(
            start - (now - t).total_seconds() for t in already if now - t < timedelta(minutes=1)
        )
        self._clock = clock
        self._deadline = start + policy.notify_max_seconds

    def wait_for_slot(self, sleep: Callable[[float], None]) -> str | None:
        """Block until a send is allowed; returns why not when it cannot be in this run."""
        if self._hour_left <= 0:
            return "quota_hour"
        while True:
            now = self._clock()
            while self._minute and now - self._minute[0] >= 60:
                self._minute.popleft()
            if len(self._minute) < self._per_minute:
                return None
            wait = 60 - (now - self._minute[0])
            if now + wait > self._deadline:
                return "quota_minute"
            sleep(wait)

    def spend(self) -> None:
        self._minute.append(self._clock())
        self._hour_left -= 1


def notify_due(
    states: Iterable[UserState],
    tenant_ready: bool,
    policy: MessagePolicy,
    ledger: NotificationLog,
    sender: Sender,
    now: datetime,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> NotifyResult:
    result = NotifyResult()
    due = due_messages(states, policy, now)
    if not tenant_ready:
        # Users cannot finish the re-add without consent for Apple's app: tell the admin, not them.
        result.held["held_tenant_not_ready"] += sum(1 for m in due if not m.is_confirmation)
        due = [m for m in due if m.is_confirmation]
    live = sender.ledger_state == "sent"
    budget = SendBudget(policy, ledger.sent_since(now - timedelta(hours=1)) if live else [], now, clock)
    for index, message in enumerate(due):
        state = message.state
        if "single_failed_attempt" in state.verdict.reasons:
            result.held["held_single_attempt"] += 1
            continue
        if state.directory is None or not state.directory.mail:
            result.held["no_mailbox"] += 1
            continue
        if not allowed(state.directory.mail, policy):
            result.held["held_not_in_allow_list"] += 1
            continue
        existing = ledger.get(state.user_id, message.message_id)
        if existing is not None and existing.state in ("sent", "dry-run"):
            if not message.is_confirmation:  # sent, but the user row was not updated: repair it
                result.updated.append(_mark_notified(state, existing.completed_at or existing.created_at))
            continue
        if existing is not None and existing.state not in RETRYABLE:
            result.unconfirmed += existing.state == "sending"
            result.failed += existing.state == "failed"
            continue
        if live:
            blocked = budget.wait_for_slot(sleep)
            if blocked:
                result.carried_over = len(due) - index
                result.held[blocked] += result.carried_over
                break
        email = (
            compose_confirmation(state, policy)
            if message.is_confirmation
            else compose_remediation(state, policy, reminder=message.reminder, first_sent=state.first_notified_at)
        )
        entry = LedgerEntry(
            user_id=state.user_id,
            message_id=message.message_id,
            operation_id=str(uuid.uuid4()),
            state="sending",
            template=email.template,
            locale=email.locale,
            recipient=email.to_address,
            created_at=now,
        )
        try:
            if existing is None:
                ledger.begin(entry)
            else:
                ledger.retry(entry)
        except LedgerConflictError:
            result.unconfirmed += 1
            continue
        try:
            if live:
                budget.spend()
            sender.send(email, entry.operation_id)
        except SendThrottledError as exc:
            ledger.complete(replace(entry, state="throttled", error=str(exc)))
            result.carried_over = len(due) - index
            result.held["quota_throttled"] += result.carried_over
            break
        except SendError as exc:
            ledger.complete(replace(entry, state="failed", completed_at=now, error=str(exc)))
            result.failed += 1
            result.errors.append(str(exc))
            continue
        ledger.complete(replace(entry, state=sender.ledger_state, completed_at=now))
        result.delivered += 1
        if not message.is_confirmation:
            result.updated.append(_mark_notified(state, now))
    return result


def _mark_notified(state: UserState, when: datetime) -> UserState:
    return replace(
        state,
        notified_count=state.notified_count + 1,
        last_notified_at=when,
        first_notified_at=state.first_notified_at or when,
    )
