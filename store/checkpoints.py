"""The checkpoints table: where each sign-in stream stands, and the window being read.

Rows (PartitionKey = tenant id):
- one per stream (``signins-legacy``, ``signins-apple``): the watermark (the end of the last window
  read in full) and the overlap fence (hashes of the sign-in ids just before it);
- ``signins-window``, only while a window is open: its bounds, the stream and page (nextLink) it
  stands at, which segments of partial aggregates are committed, and the small state that has to
  travel with the cursor (the next fences, the ids of the last pages, the spray tracker).

Every write of these rows is conditional on the ETag it was read with, so two runs that overlap (a
timer and a manual run) cannot both advance the same window: the second one stops with a clear error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from core.dedupe import pack, unpack
from core.ingest import Checkpoint, CheckpointConflictError, IngestWindow, UnreadSpan
from store.tables import get_blob, put_blob, utc_datetime

WINDOW_ROW = "signins-window"
FENCE_CHUNKS = 4
"""Up to ~32,000 sign-in ids in one stream's overlap (an entity holds at most 1 MiB in all)."""
RECENT_CHUNKS = 1
SPRAY_CHUNKS = 3


class CheckpointRepository:
    def __init__(self, table: TableClient, tenant_id: str) -> None:
        self._table = table
        self._tenant = tenant_id

    def load(self, name: str) -> Checkpoint:
        try:
            row = self._table.get_entity(self._tenant, name)
        except ResourceNotFoundError:
            return Checkpoint(name)
        return Checkpoint(
            name,
            watermark=utc_datetime(row.get("Watermark")),
            fence=unpack(get_blob(row, "Fence")),
            etag=row.metadata.get("etag"),
        )

    def load_window(self) -> IngestWindow | None:
        try:
            row = self._table.get_entity(self._tenant, WINDOW_ROW)
        except ResourceNotFoundError:
            return None
        end, opened = utc_datetime(row.get("End")), utc_datetime(row.get("OpenedAt"))
        if end is None or opened is None:
            raise ValueError(f"checkpoints row {WINDOW_ROW!r}: End or OpenedAt is missing")
        starts = {k: datetime.fromisoformat(v) for k, v in orjson.loads(row.get("Starts") or "{}").items()}
        named = str(row.get("FenceStreams") or "").split()
        fences = {name: unpack(get_blob(row, f"NextFence{i}")) for i, name in enumerate(named)}
        spray = get_blob(row, "Spray")
        ranges = row.get("Ranges") or "[]"
        return IngestWindow(
            window_id=str(row.get("WindowId") or ""),
            end=end,
            starts=starts,
            opened_at=opened,
            stream=int(row.get("Stream") or 0),
            cursor=str(row.get("Cursor") or ""),
            position=utc_datetime(row.get("Position")),
            segments=str(row.get("Segments") or "").split(),
            pages=int(row.get("Pages") or 0),
            events=int(row.get("Events") or 0),
            requests=int(row.get("Requests") or 0),
            new_fences=fences,
            recent=unpack(get_blob(row, "Recent")),
            spray=orjson.loads(spray) if spray else {},
            ranges=[(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in orjson.loads(ranges)],
            unread=spans_from_json(row.get("Unread")),
            etag=row.metadata.get("etag"),
        )

    def save_window(self, window: IngestWindow) -> None:
        """Create the window row, or replace it if nobody changed it since this run read or wrote it."""
        entity = self._window_entity(window)
        try:
            if window.etag is None:
                metadata = self._table.create_entity(entity)
            else:
                metadata = self._table.update_entity(entity, **_if_unchanged(window.etag))
        except (ResourceExistsError, ResourceNotFoundError) as exc:
            raise CheckpointConflictError(_CONFLICT) from exc
        except HttpResponseError as exc:
            if exc.status_code == 412:
                raise CheckpointConflictError(_CONFLICT) from exc
            raise
        window.etag = metadata.get("etag")

    def finish_window(self, window: IngestWindow | None, streams: list[Checkpoint]) -> int:
        """In one transaction: move each stream's watermark and fence, and close the window row."""
        operations: list[tuple[Any, ...]] = []
        for checkpoint in streams:
            entity = self._stream_entity(checkpoint)
            if checkpoint.etag is None:
                operations.append(("create", entity))
            else:
                operations.append(("update", entity, _if_unchanged(checkpoint.etag)))
        if window is not None and window.etag is not None:
            row = {"PartitionKey": self._tenant, "RowKey": WINDOW_ROW}
            operations.append(("delete", row, {"etag": window.etag, "match_condition": MatchConditions.IfNotModified}))
        if not operations:
            return 0
        try:
            self._table.submit_transaction(operations)
        except TableTransactionError as exc:
            if exc.status_code in (404, 409, 412):
                raise CheckpointConflictError(_CONFLICT) from exc
            raise
        return len(operations)

    def save(self, checkpoint: Checkpoint) -> None:
        """Write one stream row unconditionally (tests and repairs)."""
        self._table.upsert_entity(self._stream_entity(checkpoint), mode=UpdateMode.REPLACE)

    def _stream_entity(self, checkpoint: Checkpoint) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "PartitionKey": self._tenant,
            "RowKey": checkpoint.name,
            "Watermark": checkpoint.watermark,
        }
        put_blob(entity, "Fence", pack(checkpoint.fence), FENCE_CHUNKS)
        return entity

    def _window_entity(self, window: IngestWindow) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "PartitionKey": self._tenant,
            "RowKey": WINDOW_ROW,
            "WindowId": window.window_id,
            "End": window.end,
            "OpenedAt": window.opened_at,
            "Starts": orjson.dumps({k: v.isoformat() for k, v in window.starts.items()}).decode(),
            "Stream": window.stream,
            "Cursor": window.cursor,
            "Segments": " ".join(window.segments),
            "Pages": window.pages,
            "Events": window.events,
            "Requests": window.requests,
            "FenceStreams": " ".join(window.new_fences),
        }
        for i, fence in enumerate(window.new_fences.values()):
            put_blob(entity, f"NextFence{i}", pack(fence), FENCE_CHUNKS)
        if window.position is not None:
            entity["Position"] = window.position
        entity["Ranges"] = orjson.dumps([[a.isoformat(), b.isoformat()] for a, b in window.ranges]).decode()
        entity["Unread"] = spans_to_json(window.unread)
        put_blob(entity, "Recent", pack(window.recent), RECENT_CHUNKS)
        put_blob(entity, "Spray", orjson.dumps(window.spray) if window.spray else b"", SPRAY_CHUNKS)
        return entity


def spans_to_json(spans: list[UnreadSpan]) -> str:
    """Skipped spans as one JSON string property (at most rules.unread.MAX_SPANS of them: a few KB)."""
    return orjson.dumps([[s.stream, s.start.isoformat(), s.end.isoformat(), s.code] for s in spans]).decode()


def spans_from_json(text: object) -> list[UnreadSpan]:
    items = orjson.loads(text) if isinstance(text, str) and text else []
    return [UnreadSpan(str(n), datetime.fromisoformat(a), datetime.fromisoformat(b), str(c)) for n, a, b, c in items]


_CONFLICT = (
    "another collect run changed the sign-in checkpoint while this one was reading (two runs at once?); "
    "this run stopped without saving, the other one carries on"
)


def _if_unchanged(etag: str) -> dict[str, Any]:
    return {"mode": UpdateMode.REPLACE, "etag": etag, "match_condition": MatchConditions.IfNotModified}
