"""Who is due a message and when: the first at once, reminders on the cadence, never after they leave
legacy_active; the pilot allow-list. Pure: the notifier asks, and sends what is due."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.config import MessagePolicy
from core.records import UserState

REMEDIATION = "remediation"
CONFIRMATION = "confirmation"


@dataclass(frozen=True)
class DueMessage:
    when: datetime
    state: UserState
    message_id: str
    reminder: int = 0
    """0 for the first remediation message, then 1, 2, ...; -1 for the confirmation."""

    @property
    def is_confirmation(self) -> bool:
        return self.reminder < 0


def due_messages(states: Iterable[UserState], policy: MessagePolicy, now: datetime) -> list[DueMessage]:
    """Every message due by ``now``, oldest first (a fair order when the budget runs out)."""
    due: list[DueMessage] = []
    for state in states:
        when = due_at(state, policy)
        if when is not None and when <= now:
            number = state.notified_count + 1
            due.append(DueMessage(when, state, message_id(REMEDIATION, state.episode, number), number - 1))
        elif policy.send_confirmation and state.verdict.status == "remediated" and state.notified_count:
            due.append(DueMessage(state.status_since, state, message_id(CONFIRMATION, state.episode), -1))
    return sorted(due, key=lambda m: (m.when, m.state.user_id))


def message_id(kind: str, episode: int, number: int = 0) -> str:
    """The ledger key of one message: a user's first episode keeps the keys rows already carry
    (``remediation-2``, ``confirmation``); a later one adds its number (``remediation-2-e2``)."""
    key = f"{kind}-{number}" if number else kind
    return key if episode <= 1 else f"{key}-e{episode}"


def due_at(state: UserState, policy: MessagePolicy) -> datetime | None:
    """When this user's next message is due, or None if no message is (or will be) due."""
    if state.verdict.status != "legacy_active":
        return None
    if state.notified_count == 0:
        return state.status_since
    if state.notified_count > len(policy.reminder_days) or state.first_notified_at is None:
        return None
    return state.first_notified_at + timedelta(days=policy.reminder_days[state.notified_count - 1])


def allowed(address: str, policy: MessagePolicy) -> bool:
    if not policy.allowed_recipients:
        return True
    address = address.casefold()
    return address in policy.allowed_recipients or "@" + address.split("@")[-1] in policy.allowed_recipients
