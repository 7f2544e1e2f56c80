"""Send each due user their message exactly once: ledger intent first, send, then complete the row.

Who is due: legacy_active users, the first message at once, then reminders on the cadence
(LAM_REMINDER_DAYS after the first), never after they leave legacy_active. How fast: within the
send budget per minute and per hour (ACS quotas), oldest first; the rest waits for the next run.

A dry-run (the pilot) renders into the ledger as "dry-run" and never touches a user's cadence: going
live sends those same messages for real, the first one first. A transient failure is retried with
backoff on later runs; a permanent refusal waits, named, for `cli notify --retry-failed`.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from core.config import MessagePolicy
from core.ledger import (
    FAILED,
    MAX_ATTEMPTS,
    REFUSED,
    RENDERED,
    RETRYABLE,
    LedgerConflictError,
    LedgerEntry,
    next_attempt,
)
from core.ports import NotificationLog
from core.records import DirectoryUser, UserState
from notify.compose import OutgoingEmail, compose_confirmation, compose_remediation, compose_sender_notice
from notify.senders import RecipientRefusedError, Sender, SenderRefusedError, SendError, SendThrottledError
from rules import senders
from rules.cadence import REMEDIATION, DueMessage, allowed, due_messages, message_id
from rules.recipients import Recipient, recipient_for

NAMED = 20
"""Held users named per reason in a run's figures (the rest are counted)."""


@dataclass
class NotifyResult:
    delivered: int = 0
    rendered: int = 0
    """Dry-run: messages rendered to the outbox this run (would be sent live)."""
    held: Counter[str] = field(default_factory=Counter)
    named: dict[str, list[str]] = field(default_factory=dict)
    """Who is held, by reason (the first NAMED of each)."""
    templates: Counter[str] = field(default_factory=Counter)
    """Sent (or rendered) this run, by template."""
    failed: int = 0
    refused: int = 0
    unconfirmed: int = 0
    carried_over: int = 0
    updated: list[UserState] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Why sends failed or were refused this run, one line each."""

    def hold(self, reason: str, message: DueMessage) -> None:
        self.held[reason] += 1
        names = self.named.setdefault(reason, [])
        if len(names) < NAMED:
            names.append(_who(message.state))


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
    managers: Mapping[str, DirectoryUser] | None = None,
) -> NotifyResult:
    """``managers``: user id → manager in Entra ID, for SMTP AUTH senders without a mapped owner."""
    result = NotifyResult()
    live = sender.ledger_state == "sent"
    if live:
        states = _undo_pilot_counts(states, ledger, result)
    due = due_messages(states, policy, now)
    if not tenant_ready:
        # Users cannot finish the re-add without consent for Apple's app: tell the admin, not them.
        # A sender's fix (SMTP AUTH, or a device or app on IMAP, POP or EWS) needs no Apple consent: it still goes.
        waits = [m for m in due if not m.is_confirmation and senders.kind_of(m.state.verdict) is None]
        for message in waits:
            result.hold("held_tenant_not_ready", message)
        due = [m for m in due if m not in waits]
    started = clock()

    def moment() -> datetime:
        """The time of this very send: the run's stamp plus the time the run has taken (budget waits)."""
        return now + timedelta(seconds=clock() - started)

    budget = SendBudget(policy, ledger.sent_since(now - timedelta(hours=1)) if live else [], now, clock)
    owners = policy.owners
    for index, message in enumerate(due):
        state = message.state
        recipient = recipient_for(state, owners, managers)
        reason = _held_before_sending(message, policy, recipient)
        if reason:
            result.hold(reason, message)
            continue
        existing = ledger.get(state.user_id, message.message_id)
        if existing is not None and not _may_take_up(existing, live, now, message, result):
            continue
        if live:
            blocked = budget.wait_for_slot(sleep)
            if blocked:
                result.carried_over = len(due) - index
                for waiting in due[index:]:
                    result.hold(blocked, waiting)
                break
        try:
            email = _compose(message, policy, recipient, now)
        except ValueError:  # a recipient the templates cannot address: skipped and named, the rest go out
            result.hold("bad_recipient", message)
            continue
        entry = LedgerEntry(
            user_id=state.user_id,
            message_id=message.message_id,
            operation_id=str(uuid.uuid4()),
            state="sending",
            template=email.template,
            locale=email.locale,
            recipient=email.to_address,
            created_at=moment(),
            attempts=existing.attempts if existing else 0,
        )
        try:
            entry = ledger.begin(entry) if existing is None else ledger.retry(replace(entry, etag=existing.etag))
        except LedgerConflictError:
            result.unconfirmed += 1  # another run holds it: that run sends it, never this one too
            continue
        try:
            if live:
                budget.spend()
            sender.send(email, entry.operation_id)
        except SendThrottledError as exc:
            ledger.complete(replace(entry, state="throttled", error=str(exc)))
            result.carried_over = len(due) - index
            for waiting in due[index:]:
                result.hold("quota_throttled", waiting)
            break
        except SendError as exc:
            _record_failure(ledger, entry, exc, moment(), message, result)
            if isinstance(exc, SenderRefusedError):  # every other send would be refused the same way
                for waiting in due[index + 1 :]:
                    result.hold("held_sender_refused", waiting)
                break
            continue
        ledger.complete(replace(entry, state=sender.ledger_state, completed_at=moment(), error=""))
        result.templates[email.template] += 1
        if not live:
            result.rendered += 1
            continue
        result.delivered += 1
        if not message.is_confirmation:
            result.updated.append(_mark_notified(state, entry.created_at))
    result.updated = list({s.user_id: s for s in result.updated}.values())  # the last state of each user
    return result


def _undo_pilot_counts(states: Iterable[UserState], ledger: NotificationLog, result: NotifyResult) -> list[UserState]:
    """Rows an earlier version left: its dry-run counted as the user's messages. Going live, a user whose
    every counted message was only rendered starts over at the first email (the rendered one is sent)."""
    rendered = {(e.user_id, e.message_id) for e in ledger.in_state(RENDERED, limit=100_000)}
    out: list[UserState] = []
    for state in states:
        numbers = range(1, state.notified_count + 1)
        counted = [(state.user_id, message_id(REMEDIATION, state.episode, n)) for n in numbers]
        if counted and all(key in rendered for key in counted):
            state = replace(state, notified_count=0, first_notified_at=None, last_notified_at=None)
            result.updated.append(state)
        out.append(state)
    return out


def _compose(message: DueMessage, policy: MessagePolicy, recipient: Recipient, now: datetime) -> OutgoingEmail:
    state = message.state
    if message.is_confirmation:
        return compose_confirmation(state, policy)
    if senders.kind_of(state.verdict) is not None and recipient.who is not None:
        first = state.first_notified_at
        return compose_sender_notice(state, recipient.who, recipient.role, policy, now.date(), message.reminder, first)
    return compose_remediation(state, policy, reminder=message.reminder, first_sent=state.first_notified_at)


def _held_before_sending(message: DueMessage, policy: MessagePolicy, recipient: Recipient) -> str:
    state = message.state
    if "single_failed_attempt" in state.verdict.reasons:
        return "held_single_attempt"
    if recipient.role == "nobody":
        return "attack_not_mailed"
    if message.is_confirmation and senders.kind_of(state.verdict) is not None:
        return "no_confirmation_for_senders"  # its wording is about Apple Mail; the sender's owner needs none
    if recipient.role == "unknown":
        return "owner_unknown"  # the digest lists it: set LAM_SENDER_OWNERS or the manager in Entra ID
    who = recipient.who
    if who is None or not who.mail:
        return "no_mailbox"
    if not allowed(who.mail, policy):
        return "held_not_in_allow_list"
    return ""


def _may_take_up(existing: LedgerEntry, live: bool, now: datetime, message: DueMessage, result: NotifyResult) -> bool:
    """Whether this run may send a message the ledger already has a row for; counts what it leaves."""
    if existing.state == "sent":
        if not message.is_confirmation:  # sent, but the user row was not updated: repair it
            result.updated.append(_mark_notified(message.state, existing.created_at))
        return False
    if existing.state == RENDERED:
        return live  # rendered by the pilot: going live sends it, a dry-run never renders it twice
    if existing.state == "sending":
        result.unconfirmed += 1
        return False
    if existing.state == REFUSED:
        result.refused += 1
        result.hold("refused", message)
        return False
    if existing.state == FAILED:
        if live and (existing.retry_at is None or existing.retry_at <= now):
            return True
        result.failed += 1
        result.hold("retry_later", message)
        return False
    return existing.state in RETRYABLE


def _record_failure(
    ledger: NotificationLog,
    entry: LedgerEntry,
    exc: SendError,
    when: datetime,
    message: DueMessage,
    result: NotifyResult,
) -> None:
    """A permanent refusal, or a failure tried MAX_ATTEMPTS times, is "refused"; else retried later."""
    attempts = entry.attempts + 1
    permanent = isinstance(exc, (SenderRefusedError, RecipientRefusedError)) or attempts >= MAX_ATTEMPTS
    error = str(exc) if attempts < MAX_ATTEMPTS else f"gave up after {attempts} attempts: {exc}"
    state, retry_at = (REFUSED, None) if permanent else (FAILED, next_attempt(attempts, when))
    ledger.complete(replace(entry, state=state, completed_at=when, error=error, attempts=attempts, retry_at=retry_at))
    result.errors.append(error)
    if permanent:
        result.refused += 1
    else:
        result.failed += 1
    result.hold(state if permanent else "retry_later", message)


def _who(state: UserState) -> str:
    return state.upn or state.user_id


def _mark_notified(state: UserState, when: datetime) -> UserState:
    return replace(
        state,
        notified_count=state.notified_count + 1,
        last_notified_at=when,
        first_notified_at=state.first_notified_at or when,
    )
