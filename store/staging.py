"""Partial aggregates of an open window, so a run can stop between pages and the next one carry on.

Each segment of pages becomes one row per user (RowKey ``{user}!{segment:05d}!{attempt}``, the delta
packed in one binary property) in a table that belongs to the window alone, so the tenant is in its
name and the PartitionKey is free: it is the user id's first two characters. A table scan returns
partitions in order and rows in order within them, so the whole table still reads back in user-id
order, while no partition grows large (writes into one big partition slow down, in Azurite most of
all). A segment counts once the window row names its attempt; rows of an attempt that died before
that are ignored. When the window is done the whole table goes in one call.

The password-spray sources found past the ones the window row names (rules/spray.py, 8-byte hashes)
are staged here too, a segment at a time, in the partition ``!!`` that no user id can have.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta

import msgspec
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableServiceClient

from core.dedupe import pack, unpack
from core.records import Delta
from store.tables import CHUNK_BYTES, REPLACE, transactions

PREFIX = "lamstage"
SEPARATOR = "!"
"""Sorts below every character of a user id, so a user's rows stay together and in id order."""
LEFTOVER_AGE = timedelta(days=1)
PARTITION_CHARS = 2
"""256 partitions for hex ids: a million-event window leaves a few hundred rows in each."""
SOURCES_PARTITION = SEPARATOR * PARTITION_CHARS
"""Below every user's partition: a user id is never empty and has no separator (core.bounds)."""


def _partition(user_id: str) -> str:
    """Padded with the separator, which sorts below every character an id may hold (core.bounds), so
    partitions come back in user-id order: "a" (as "a!") before "a+", where "a0" came after it."""
    return user_id[:PARTITION_CHARS].ljust(PARTITION_CHARS, SEPARATOR)


def staging_table_name(tenant_id: str, window_id: str) -> str:
    """Letters and digits only, unique per tenant and window (Table Storage names)."""
    return f"{_tenant_prefix(tenant_id)}{window_id}"


def _tenant_prefix(tenant_id: str) -> str:
    return PREFIX + hashlib.sha256(tenant_id.encode()).hexdigest()[:10]


class StagingTable:
    def __init__(self, service: TableServiceClient, tenant_id: str, window_id: str) -> None:
        self._service = service
        self.name = staging_table_name(tenant_id, window_id)
        self._table = service.get_table_client(self.name)
        self._created = False

    def write(self, segment: int, attempt: str, deltas: dict[str, Delta]) -> Iterator[int]:
        """Stage one segment's deltas, one transaction per step; yields the rows each one wrote.

        Rows are built a transaction at a time and each delta is let go once written, so a commit never
        holds a second copy of the segment."""
        if not deltas:
            return
        self._ensure()
        suffix = f"{SEPARATOR}{segment:05d}{SEPARATOR}{attempt}"
        partitions: dict[str, list[str]] = {}
        for user_id in deltas:
            partitions.setdefault(_partition(user_id), []).append(user_id)
        for partition, users in partitions.items():
            rows = (
                ("upsert", {"PartitionKey": partition, "RowKey": user_id + suffix, "D": delta_to_bytes(delta)}, REPLACE)
                for user_id in users
                if (delta := deltas.pop(user_id, None)) is not None
            )
            for batch in transactions(rows):
                self._table.submit_transaction(batch)
                yield len(batch)

    def write_sources(self, segment: int, attempt: str, keys: list[bytes]) -> Iterator[int]:
        """Stage one segment's newly found spray-source hashes, a row per 64 KiB; yields the rows written."""
        if not keys:
            return
        self._ensure()
        blob = pack(set(keys))
        rows = (
            (
                "upsert",
                {
                    "PartitionKey": SOURCES_PARTITION,
                    "RowKey": f"s{n:04d}{SEPARATOR}{segment:05d}{SEPARATOR}{attempt}",
                    "S": blob[start : start + CHUNK_BYTES],
                },
                REPLACE,
            )
            for n, start in enumerate(range(0, len(blob), CHUNK_BYTES))
        )
        for batch in transactions(rows):
            self._table.submit_transaction(batch)
            yield len(batch)

    def sources(self, segments: list[str]) -> Iterator[bytes]:
        """The spray-source hashes the committed segments staged."""
        if not segments:
            return
        query = "PartitionKey eq @p"
        try:
            for row in self._table.query_entities(query, parameters={"p": SOURCES_PARTITION}):
                _, segment, attempt = str(row["RowKey"]).rsplit(SEPARATOR, 2)
                if int(segment) < len(segments) and segments[int(segment)] == attempt:
                    yield from unpack(bytes(row["S"]))
        except ResourceNotFoundError:
            return

    def _ensure(self) -> None:
        if not self._created:
            with contextlib.suppress(ResourceExistsError):
                self._service.create_table(self.name)
            self._created = True

    def committed(self, segments: list[str], page_size: int = 1000) -> Iterator[tuple[str, Delta]]:
        """Each user's committed deltas summed, in user-id order (the table's own order)."""
        if not segments:
            return
        current: str | None = None
        total: Delta | None = None
        rows = self._table.list_entities(results_per_page=page_size)
        try:
            for row in rows:
                if row["PartitionKey"] == SOURCES_PARTITION:
                    continue
                user_id, segment, attempt = str(row["RowKey"]).rsplit(SEPARATOR, 2)
                index = int(segment)
                if index >= len(segments) or segments[index] != attempt:
                    continue  # written by a run that died before committing the segment
                delta = delta_from_bytes(bytes(row["D"]))
                if user_id != current:
                    if current is not None and total is not None:
                        yield current, total
                    current, total = user_id, delta
                else:
                    total = delta if total is None else total.merged(delta)
        except ResourceNotFoundError:
            return  # nothing was staged for this window
        if current is not None and total is not None:
            yield current, total

    def drop(self) -> None:
        """Drop the window's table (a table that was never created is no error)."""
        self._service.delete_table(self.name)


def new_window_id(opened_at: datetime) -> str:
    """When the window opened (so leftovers can be recognised by age), and 4 random hex digits."""
    return f"{opened_at:%Y%m%d%H%M%S}{secrets.token_hex(2)}"


def drop_leftovers(service: TableServiceClient, tenant_id: str, now: datetime) -> int:
    """Drop staging tables more than a day old: left by a run that died after closing its window.

    A younger table may belong to a window another run is reading right now, so it stays."""
    prefix = _tenant_prefix(tenant_id)
    cutoff = f"{now - LEFTOVER_AGE:%Y%m%d%H%M%S}"
    query = "TableName ge @lo and TableName lt @hi"
    names = [t.name for t in service.query_tables(query, parameters={"lo": prefix, "hi": prefix + cutoff})]
    for name in names:
        service.delete_table(name)
    return len(names)


def delta_to_bytes(delta: Delta) -> bytes:
    return _DELTA_ENCODER.encode(delta)


def delta_from_bytes(raw: bytes) -> Delta:
    return _DELTA_DECODER.decode(raw)


# Every field of Delta and its Evidence by name: a field added to them is staged without a change here.
_DELTA_ENCODER = msgspec.json.Encoder()
_DELTA_DECODER = msgspec.json.Decoder(Delta)
