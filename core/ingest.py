"""Where each sign-in stream stands, and the window being read: the records the checkpoints table keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class CheckpointConflictError(RuntimeError):
    """Another run changed the checkpoint since this run read it."""


@dataclass
class Checkpoint:
    name: str
    watermark: datetime | None = None
    fence: set[bytes] = field(default_factory=set)
    etag: str | None = None


@dataclass
class IngestWindow:
    """A window of sign-ins being read, possibly over several runs."""

    window_id: str
    end: datetime
    starts: dict[str, datetime]
    opened_at: datetime
    stream: int = 0
    """Index of the stream being read; past the last one, every page is read."""
    cursor: str = ""
    """Graph's nextLink to continue the current stream; empty: its first page."""
    position: datetime | None = None
    """The oldest sign-in read so far in the current stream (pages come newest first)."""
    segments: list[str] = field(default_factory=list)
    """The attempt id that wrote each committed segment of partial aggregates (index = segment number)."""
    pages: int = 0
    events: int = 0
    requests: int = 0
    new_fences: dict[str, set[bytes]] = field(default_factory=dict)
    recent: set[bytes] = field(default_factory=set)
    spray: dict[str, Any] = field(default_factory=dict)
    etag: str | None = None

    @property
    def stored(self) -> bool:
        return self.etag is not None
