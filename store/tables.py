"""Connect to Table Storage (Azurite connection string or endpoint + managed identity) and write in batches."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from core.settings import Settings

TABLE_NAMES = ("users", "checkpoints", "runs", "notifications", "tenant")

MAX_BATCH_OPERATIONS = 100
MAX_BATCH_BYTES = 4 * 1024 * 1024 - 64 * 1024  # 4 MB less room for the multipart envelope


class StoreError(RuntimeError):
    """A state-table operation failed; the message names the table and the row."""


def table_service(settings: Settings) -> TableServiceClient:
    if settings.tables_connection_string:
        return TableServiceClient.from_connection_string(settings.tables_connection_string)
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    credential = (
        ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
        if settings.graph_auth == "managed-identity"
        else DefaultAzureCredential()
    )
    return TableServiceClient(endpoint=settings.tables_endpoint or "", credential=credential)


def ensure_tables(service: TableServiceClient) -> None:
    for name in TABLE_NAMES:
        with contextlib.suppress(ResourceExistsError):
            service.create_table(name)


def upsert_in_batches(table: TableClient, entities: Iterable[dict[str, Any]]) -> int:
    """Replace-upsert entities of one partition, ≤ 100 operations and < 4 MB per transaction.

    Replace, not merge, so a property that became empty does not keep its old stored value.
    """
    written = 0
    for batch in _batches(entities):
        table.submit_transaction([("upsert", entity, {"mode": UpdateMode.REPLACE}) for entity in batch])
        written += len(batch)
    return written


def _batches(entities: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    size = 0
    for entity in entities:
        entity_size = len(orjson.dumps(entity, default=str))
        if batch and (len(batch) >= MAX_BATCH_OPERATIONS or size + entity_size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entity)
        size += entity_size
    if batch:
        yield batch


def utc_datetime(value: Any) -> datetime | None:
    """Table timestamps come back as aware datetimes (a subclass); normalise to plain datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        utc = value.astimezone(UTC)
        return datetime.combine(utc.date(), utc.time(), tzinfo=UTC)
    raise ValueError(f"expected a datetime, got {type(value).__name__}")
