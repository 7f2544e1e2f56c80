"""The checkpoints table: per collector, the watermark and the fence of sign-in ids seen in the overlap."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from store.tables import utc_datetime

FENCE_HASH_BYTES = 8
FENCE_CHUNK_BYTES = 64 * 1024 - 8  # one binary property holds at most 64 KiB
MAX_FENCE_CHUNKS = 14  # keeps the row well under the 1 MB entity limit


def fence_key(sign_in_id: str) -> bytes:
    """8 bytes of a hash stand for an id: 1 in 2^64 collision odds, and a bounded row size."""
    return hashlib.blake2b(sign_in_id.encode(), digest_size=FENCE_HASH_BYTES).digest()


@dataclass
class Checkpoint:
    name: str
    watermark: datetime | None = None
    fence: set[bytes] = field(default_factory=set)


class FenceTooLargeError(ValueError):
    pass


class CheckpointRepository:
    def __init__(self, table: TableClient, tenant_id: str) -> None:
        self._table = table
        self._tenant = tenant_id

    def load(self, name: str) -> Checkpoint:
        try:
            row = self._table.get_entity(self._tenant, name)
        except ResourceNotFoundError:
            return Checkpoint(name)
        blob = b"".join(row.get(f"Fence{i}") or b"" for i in range(int(row.get("FenceChunks") or 0)))
        fence = {blob[i : i + FENCE_HASH_BYTES] for i in range(0, len(blob), FENCE_HASH_BYTES)}
        return Checkpoint(name, watermark=utc_datetime(row.get("Watermark")), fence=fence)

    def save(self, checkpoint: Checkpoint) -> None:
        blob = b"".join(sorted(checkpoint.fence))
        chunks = [blob[i : i + FENCE_CHUNK_BYTES] for i in range(0, len(blob), FENCE_CHUNK_BYTES)]
        if len(chunks) > MAX_FENCE_CHUNKS:
            raise FenceTooLargeError(
                f"checkpoint {checkpoint.name!r}: {len(checkpoint.fence)} ids in the overlap window exceed "
                "what one row holds; lower LAM_OVERLAP_MINUTES"
            )
        entity: dict[str, Any] = {
            "PartitionKey": self._tenant,
            "RowKey": checkpoint.name,
            "Watermark": checkpoint.watermark,
            "FenceChunks": len(chunks),
        }
        entity.update({f"Fence{i}": chunk for i, chunk in enumerate(chunks)})
        self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
