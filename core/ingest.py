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


@dataclass(frozen=True)
class UnreadSpan:
    """A stretch of one sign-in stream Graph would not serve usably (a poison page): skipped, not counted."""

    stream: str
    start: datetime
    end: datetime
    """The span is [start, end): whole seconds, as Graph's $filter reads them."""
    code: str
    """What Graph answered instead of a page (noValue, invalidJson, foreignNextLink, nextLinkLoop, …)."""


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
    """The oldest sign-in read so far in the current query (pages come newest first)."""
    ranges: list[tuple[datetime, datetime]] = field(default_factory=list)
    """The current stream's time ranges still to read, newest first, the one being read first; empty: the
    stream's whole span. A poison page splits the range it is in, to read around it."""
    unread: list[UnreadSpan] = field(default_factory=list)
    """Spans skipped as poison in this window (the admin's finding and the run's figures)."""
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
