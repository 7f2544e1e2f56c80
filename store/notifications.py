"""The notification ledger: the intent is written before a send and completed after, so no mail goes twice.

Every transition is conditional: a new row must not exist, a changed row must still carry the ETag it
was read with. Two overlapping runs (a manual run during the timer) cannot both take one message up.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from core.ledger import FAILED, REFUSED, LedgerConflictError, LedgerEntry
from store.tables import utc_datetime


class NotificationLedger:
    def __init__(self, table: TableClient, tenant_id: str) -> None:
        self._table = table
        self._tenant = tenant_id

    def get(self, user_id: str, message_id: str) -> LedgerEntry | None:
        try:
            row = self._table.get_entity(self._tenant, f"{user_id}_{message_id}")
        except ResourceNotFoundError:
            return None
        return _from_row(row)

    def begin(self, entry: LedgerEntry) -> LedgerEntry:
        """Create the intent row; it fails if the row exists, which is what makes a send exactly-once."""
        try:
            metadata = self._table.create_entity(_to_row(self._tenant, entry))
        except ResourceExistsError as exc:
            raise LedgerConflictError(f"notification {entry.row_key} was already started") from exc
        return replace(entry, etag=str(metadata.get("etag") or ""))

    def complete(self, entry: LedgerEntry) -> LedgerEntry:
        """Move the row to ``entry``'s state, only if nobody moved it since ``entry.etag`` was read."""
        if not entry.etag:
            raise LedgerConflictError(f"notification {entry.row_key}: no ETag, the row was never read")
        try:
            metadata = self._table.update_entity(
                _to_row(self._tenant, entry),
                mode=UpdateMode.REPLACE,
                etag=entry.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except ResourceNotFoundError as exc:
            raise LedgerConflictError(f"notification {entry.row_key} is gone") from exc
        except HttpResponseError as exc:
            if exc.status_code == 412:
                raise LedgerConflictError(f"notification {entry.row_key} was moved by another run") from exc
            raise
        return replace(entry, etag=str(metadata.get("etag") or ""))

    def since(self, since: datetime) -> list[LedgerEntry]:
        rows = self._table.query_entities(
            "PartitionKey eq @pk and CreatedAt ge @since", parameters={"pk": self._tenant, "since": since}
        )
        return [_from_row(row) for row in rows]

    def sent_since(self, since: datetime) -> list[datetime]:
        """When messages that reached (or may have reached) ACS were started: the quota's view."""
        return sorted(e.created_at for e in self.since(since) if e.state in ("sending", "sent"))

    def retry(self, entry: LedgerEntry) -> LedgerEntry:
        """Take a message that never reached ACS up again (a new operation id), conditional on its ETag."""
        return self.complete(entry)

    def requeue_failed(self) -> list[LedgerEntry]:
        """After a fix (key, sender domain, recipient): refused and failed messages go out on the next run."""
        moved: list[LedgerEntry] = []
        for state in (REFUSED, FAILED):
            for entry in self.in_state(state, limit=100_000):
                try:
                    moved.append(self.complete(replace(entry, state="not_sent", retry_at=None, attempts=0)))
                except LedgerConflictError:
                    continue  # a run took it up meanwhile
        return moved

    def in_state(self, state: str, limit: int = 1000) -> list[LedgerEntry]:
        rows = self._table.query_entities(
            "PartitionKey eq @pk and State eq @state", parameters={"pk": self._tenant, "state": state}
        )
        found: list[LedgerEntry] = []
        for row in rows:
            found.append(_from_row(row))
            if len(found) >= limit:
                break
        return found

    def for_user(self, user_id: str) -> list[LedgerEntry]:
        rows = self._table.query_entities(
            "PartitionKey eq @pk and UserId eq @user", parameters={"pk": self._tenant, "user": user_id}
        )
        return sorted((_from_row(row) for row in rows), key=lambda e: e.created_at)

    def all(self) -> list[LedgerEntry]:
        rows = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": self._tenant})
        return [_from_row(row) for row in rows]


def _to_row(tenant_id: str, entry: LedgerEntry) -> dict[str, Any]:
    row: dict[str, Any] = {
        "PartitionKey": tenant_id,
        "RowKey": entry.row_key,
        "UserId": entry.user_id,
        "MessageId": entry.message_id,
        "OperationId": entry.operation_id,
        "State": entry.state,
        "Template": entry.template,
        "Locale": entry.locale,
        "Recipient": entry.recipient,
        "CreatedAt": entry.created_at,
        "Error": entry.error[:4000],
        "Attempts": entry.attempts,
    }
    if entry.completed_at is not None:
        row["CompletedAt"] = entry.completed_at
    if entry.retry_at is not None:
        row["RetryAt"] = entry.retry_at
    return row


def _from_row(row: dict[str, Any]) -> LedgerEntry:
    created = utc_datetime(row.get("CreatedAt"))
    if created is None:
        raise ValueError(f"notifications row {row.get('RowKey')!r}: CreatedAt is missing")
    return LedgerEntry(
        user_id=row.get("UserId") or "",
        message_id=row.get("MessageId") or "",
        operation_id=row.get("OperationId") or "",
        state=row.get("State") or "",
        template=row.get("Template") or "",
        locale=row.get("Locale") or "",
        recipient=row.get("Recipient") or "",
        created_at=created,
        completed_at=utc_datetime(row.get("CompletedAt")),
        error=row.get("Error") or "",
        attempts=int(row.get("Attempts") or 0),
        retry_at=utc_datetime(row.get("RetryAt")),
        etag=str(row.metadata.get("etag") or "") if hasattr(row, "metadata") else "",
    )
