"""The notification ledger's record: the intent of one message, written before it is sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

LEDGER_STATES = ("sending", "sent", "dry-run", "failed", "throttled", "not_sent")
RETRYABLE = ("throttled", "not_sent")
"""States whose message never reached ACS: the next run may send it (with a new operation id)."""


@dataclass(frozen=True)
class LedgerEntry:
    user_id: str
    message_id: str
    operation_id: str
    state: str
    template: str
    locale: str
    recipient: str
    created_at: datetime
    completed_at: datetime | None = None
    error: str = ""

    @property
    def row_key(self) -> str:
        return f"{self.user_id}_{self.message_id}"


class LedgerConflictError(RuntimeError):
    """Another run already holds the intent for this message."""
