"""Connect to Table Storage (Azurite connection string or endpoint + managed identity) and write in batches."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

TABLE_NAMES = ("users", "checkpoints", "runs", "notifications", "tenant")

MAX_BATCH_OPERATIONS = 100
MAX_BATCH_BYTES = 4 * 1024 * 1024 - 64 * 1024  # 4 MB less room for the multipart envelope
CHUNK_BYTES = 64 * 1024 - 8
"""One binary property holds at most 64 KiB."""


class StoreError(RuntimeError):
    """A state-table operation failed; the message names the table and the row."""


class BlobTooLargeError(StoreError):
    """A binary value does not fit in the properties one row may give it."""


def put_blob(entity: dict[str, Any], name: str, blob: bytes, max_chunks: int) -> None:
    """Store ``blob`` in properties Name0, Name1, … (64 KiB each) and NameChunks."""
    chunks = [blob[i : i + CHUNK_BYTES] for i in range(0, len(blob), CHUNK_BYTES)]
    if len(chunks) > max_chunks:
        raise BlobTooLargeError(
            f"row {entity.get('RowKey')!r}: {name} needs {len(blob)} bytes, more than the "
            f"{max_chunks * CHUNK_BYTES} this row gives it"
        )
    entity[f"{name}Chunks"] = len(chunks)
    entity.update({f"{name}{i}": chunk for i, chunk in enumerate(chunks)})


def get_blob(row: Mapping[str, Any], name: str) -> bytes:
    return b"".join(bytes(row.get(f"{name}{i}") or b"") for i in range(int(row.get(f"{name}Chunks") or 0)))


def table_service(
    connection_string: str | None, endpoint: str | None, credential: Any, **options: Any
) -> TableServiceClient:
    """Azurite by connection string, or the account's table endpoint with a token credential; ``options``
    go to the SDK's pipeline (its retry settings)."""
    if connection_string:
        return TableServiceClient.from_connection_string(connection_string, **options)
    return TableServiceClient(endpoint=endpoint or "", credential=credential, **options)


def ensure_tables(service: TableServiceClient) -> None:
    for name in TABLE_NAMES:
        with contextlib.suppress(ResourceExistsError):
            service.create_table(name)


def upsert_in_batches(table: TableClient, entities: Iterable[dict[str, Any]]) -> int:
    """Replace-upsert entities of one partition, ≤ 100 operations and < 4 MB per transaction.

    Replace, not merge, so a property that became empty does not keep its old stored value.
    """
    return submit_in_batches(table, (("upsert", entity, REPLACE) for entity in entities))


Operation = tuple[str, dict[str, Any], dict[str, Any]]
REPLACE: dict[str, Any] = {"mode": UpdateMode.REPLACE}


def submit_in_batches(table: TableClient, operations: Iterable[Operation]) -> int:
    """Submit operations on one partition in transactions of ≤ 100 operations and < 4 MB; returns how many."""
    written = 0
    for batch in transactions(operations):
        table.submit_transaction(batch)
        written += len(batch)
    return written


def transactions(operations: Iterable[Operation]) -> Iterator[list[Operation]]:
    """Operations of one partition grouped into transactions of ≤ 100 operations and < 4 MB."""
    batch: list[Operation] = []
    size = 0
    for operation in operations:
        entity_size = len(orjson.dumps(operation[1], default=str))
        if batch and (len(batch) >= MAX_BATCH_OPERATIONS or size + entity_size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(operation)
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
