"""What the shell's consumers need of the state tables, as protocols: notify/ and report/ depend on
these, store/ provides them, and the pipeline hands one to the other (the shell never imports itself)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from core.findings import TenantSnapshot
from core.ledger import LedgerEntry
from core.records import UserState
from core.runs import RunRecord


class NotificationLog(Protocol):
    """The notification ledger: an intent row before each send, completed after it."""

    def get(self, user_id: str, message_id: str) -> LedgerEntry | None: ...
    def begin(self, entry: LedgerEntry) -> LedgerEntry: ...
    def complete(self, entry: LedgerEntry) -> LedgerEntry: ...
    def retry(self, entry: LedgerEntry) -> LedgerEntry: ...
    def since(self, since: datetime) -> list[LedgerEntry]: ...
    def sent_since(self, since: datetime) -> list[datetime]: ...
    def in_state(self, state: str, limit: int = 1000) -> list[LedgerEntry]: ...
    def for_user(self, user_id: str) -> list[LedgerEntry]: ...


class UserStates(Protocol):
    """The users table as the admin views read it."""

    def get(self, user_id: str) -> UserState | None: ...
    def query(self, status: str | None = None) -> list[UserState]: ...
    def page(
        self, status: str | None, since: datetime | None, limit: int, continuation: Mapping[str, Any] | None
    ) -> tuple[list[UserState], dict[str, Any] | None]: ...


class RunLog(Protocol):
    def recent(self, limit: int = 50, step: str | None = None) -> list[RunRecord]: ...


class TenantState(Protocol):
    def snapshot(self) -> TenantSnapshot: ...
