"""After a crash: settle ledger rows left in "sending" by asking the service, never by sending again.

A row stays "sending" when the process died between writing the intent and recording the outcome.
If the service has the operation, the mail went out: the row becomes "sent" (and the notifier then
repairs the user row). If it never arrived, the row becomes "not_sent" and the next send takes it up.
Status checks have their own small quota on ACS, so a run checks at most ``max_checks`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core.ledger import LedgerConflictError
from core.ports import NotificationLog
from notify.senders import Sender

SETTLE_AFTER = timedelta(minutes=5)
"""Younger rows may belong to a run that is still sending."""


@dataclass
class ReconcileResult:
    sent: int = 0
    not_sent: int = 0
    undecided: int = 0


def reconcile(ledger: NotificationLog, sender: Sender, now: datetime, max_checks: int = 10) -> ReconcileResult:
    result = ReconcileResult()
    stale = [e for e in ledger.in_state("sending") if now - e.created_at >= SETTLE_AFTER]
    for entry in sorted(stale, key=lambda e: e.created_at)[:max_checks]:
        outcome = sender.delivered(entry.operation_id)
        if outcome is None:
            result.undecided += 1
            continue
        settled = (
            replace(entry, state=sender.ledger_state, completed_at=now, error="settled after a crash")
            if outcome
            else replace(entry, state="not_sent", error="never reached the service; will be sent again")
        )
        try:
            ledger.complete(settled)
        except LedgerConflictError:
            result.undecided += 1  # another run settled it first
            continue
        result.sent += outcome
        result.not_sent += not outcome
    return result
