"""The notification ledger's record: the intent of one message, written before it is sent.

Every move of a row (begin, send, complete, retry, requeue) is conditional on the row as it was read
(its ETag), so two runs that overlap never both take the same message up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

LEDGER_STATES = ("sending", "sent", "dry-run", "failed", "refused", "throttled", "not_sent")
RETRYABLE = ("throttled", "not_sent")
"""States whose message never reached ACS: the next live run sends it (with a new operation id)."""
RENDERED = "dry-run"
"""Rendered by a dry-run or pilot, never sent: the user's cadence is untouched, going live sends it."""
FAILED = "failed"
"""A transient failure (a 5xx or a timeout beyond the SDK's retries): retried with backoff."""
REFUSED = "refused"
"""A permanent refusal (bad key, sender domain not linked, recipient rejected) or too many failures:
never retried blindly; `python -m cli notify --retry-failed` requeues it after the fix."""
MAX_ATTEMPTS = 5
FIRST_BACKOFF = timedelta(minutes=30)
MAX_BACKOFF = timedelta(hours=12)


def next_attempt(attempts: int, failed_at: datetime) -> datetime:
    """When a message that failed ``attempts`` times may be tried again: 30 min, 1 h, 2 h, ... at most 12 h."""
    return failed_at + min(FIRST_BACKOFF * (1 << max(attempts - 1, 0)), MAX_BACKOFF)


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
    """When this attempt started (the moment of the intent, not the cycle's start)."""
    completed_at: datetime | None = None
    """When the service accepted (or refused) the message."""
    error: str = ""
    attempts: int = 0
    """Sends tried and failed so far (failed or refused)."""
    retry_at: datetime | None = None
    """A failed message is not tried before this time."""
    etag: str = field(default="", compare=False)
    """The row's version as read: the next transition is conditional on it."""

    @property
    def row_key(self) -> str:
        return f"{self.user_id}_{self.message_id}"


class LedgerConflictError(RuntimeError):
    """Another run already holds the intent for this message (or moved it since it was read)."""
