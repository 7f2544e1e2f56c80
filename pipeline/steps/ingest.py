"""Read a window of sign-ins at Graph's pace: fold pages as they arrive, checkpoint often, resume anywhere.

A window covers both streams (legacy sign-ins, then the Apple app's) from each stream's watermark,
less the overlap, to the moment it was opened. Pages are parsed and folded into per-user deltas as
they come; every LAM_CHECKPOINT_PAGES pages (or SEGMENT_MAX_USERS users, or when time runs out) the
segment is committed: its deltas go to the window's staging table, then the window row records the
segment together with the cursor (nextLink) and the state that travels with it. A run killed at any
point resumes from the last commit and counts nothing twice: uncommitted staging rows are ignored,
and pages after the cursor are read again. A commit is written one transaction at a time in the time
the request budget makes the reader wait anyway, so checkpoints cost the ingest rate nothing.

A poison page (Graph answers, but with something that is not a usable page: no ``value``, not JSON, a
nextLink off our Graph or in a loop, too large) is asked for again from the last good point
MAX_REQUERIES times. If it stays poison, the rest of its time range is split in two halves, read newest
first, and each half that is refused again is split again, down to one second: that second is skipped
(an ``UnreadSpan`` in the run's figures and the admin's findings) and the stream reads on below it. A
page can only be reached through the one before it, so splitting the time range is the way around it.
A skip counts only once Graph has served a usable answer after it in the same run: a Graph that answers
nothing usably at all is down, not poisoned, and the run fails with the cursor kept, as for 5xx, 429 and
timeouts, which are never skipped.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from collectors.graph import GraphDeadlineError, GraphError, GraphResponseError
from collectors.signins import SAMPLE_CHARS, SignInPage, apple_app_filter, legacy_filter, signin_pages
from core.bounds import bounded
from core.dedupe import RecentIds, id_key
from core.ingest import Checkpoint, IngestWindow, UnreadSpan
from core.records import Delta, SignInEvent
from pipeline.memory import release_free_memory
from pipeline.settings import Settings
from pipeline.wiring import Services
from rules.evidence import fold_apple, fold_legacy
from rules.spray import SprayTracker
from rules.unread import merge_spans
from store.checkpoints import CheckpointRepository
from store.staging import StagingTable, new_window_id

LEGACY_STREAM = "signins-legacy"
APPLE_STREAM = "signins-apple"
STREAMS = (LEGACY_STREAM, APPLE_STREAM)
SEGMENT_MAX_USERS = 5000
"""A segment is committed early when it holds this many users: memory stays flat on any tenant."""
EXPIRED_CURSOR_STATUS = frozenset({400, 404, 410})
MAX_REQUERIES = 3
"""Fresh queries from the last good point after a refused page (or an expired cursor), before the page
counts as poison and its time range is split."""
MAX_REFUSED_PER_RUN = 64
"""Refused answers one run accepts while reading around poison pages (a one-second span takes about 22
splits of a 30-day range): past this the run fails, and the next one goes on from the last commit."""
SECOND = timedelta(seconds=1)


def _requery_reason(exc: GraphError, *, from_cursor: bool) -> str | None:
    """Why the stream is queried afresh from its last good point, or None when the error stands."""
    if isinstance(exc, GraphResponseError):
        return "page_refused"
    if from_cursor and exc.status in EXPIRED_CURSOR_STATUS:
        return "cursor_expired"
    return None


def open_window(settings: Settings, streams: dict[str, Checkpoint], now: datetime) -> IngestWindow:
    """A new window up to ``now`` (kept in memory until its first commit, so a no-op run writes nothing)."""
    overlap = timedelta(minutes=settings.overlap_minutes)
    first = now - timedelta(days=settings.lookback_days)
    starts = {
        name: max(first, checkpoint.watermark - overlap) if checkpoint.watermark else first
        for name, checkpoint in streams.items()
    }
    return IngestWindow(window_id=new_window_id(now), end=now, starts=starts, opened_at=now)


def stream_bounds(window: IngestWindow, name: str, before: datetime | None = None) -> tuple[datetime, datetime]:
    """The time range being read in the stream; ``before`` narrows it to what a lost cursor had not reached
    yet (the whole second of the oldest sign-in read, so none at that second is missed)."""
    start, end = window.ranges[0] if window.ranges else (window.starts[name], window.end)
    if before is not None:
        end = min(end, before.replace(microsecond=0) + SECOND)
    return start, end


def stream_filter(settings: Settings, window: IngestWindow, name: str, before: datetime | None = None) -> str:
    """The stream's $filter over ``stream_bounds``."""
    start, end = stream_bounds(window, name, before)
    if name == LEGACY_STREAM:
        return legacy_filter(start, end, settings.legacy_protocols)
    return apple_app_filter(start, end)


@dataclass
class Segment:
    """Deltas folded since the last commit, and the attempt id that will stage them."""

    deltas: dict[str, Delta] = field(default_factory=dict)
    sources: list[bytes] = field(default_factory=list)
    """Spray sources found past the named ones (hashes), staged with the segment."""
    pages: int = 0
    attempt: str = field(default_factory=lambda: secrets.token_hex(3))


@dataclass
class IngestStats:
    """What one run's reading did: pages and sign-ins read, rows written, what was set aside and why."""

    skipped: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    """The first skipped record of each reason (its id), for the run's details."""
    pages: int = 0
    events: int = 0
    writes: int = 0
    cpu_seconds: float = 0.0
    staged_rows: int = 0
    commits: int = 0
    unread: list[UnreadSpan] = field(default_factory=list)
    """Spans of the log skipped as poison by this run."""


class Committer:
    """Writes one commit at a time, a transaction per step: staging rows first, the window row last."""

    def __init__(self, staging: StagingTable, checkpoints: CheckpointRepository, window: IngestWindow) -> None:
        self._staging = staging
        self._checkpoints = checkpoints
        self._window = window
        self._steps: Iterator[int] | None = None
        self.rows = 0
        """Entities written: staging rows and window rows."""

    def start(self, number: int, segment: Segment, snapshot: IngestWindow) -> None:
        self.finish()
        self._steps = self._write(number, segment, snapshot)

    def step(self) -> bool:
        """Write one transaction of the commit in progress; False when there is nothing left to write."""
        if self._steps is None:
            return False
        try:
            self.rows += next(self._steps)
        except StopIteration:
            self._steps = None
            return False
        return True

    def finish(self) -> None:
        while self.step():
            pass

    def _write(self, number: int, segment: Segment, snapshot: IngestWindow) -> Iterator[int]:
        yield from self._staging.write(number, segment.attempt, segment.deltas)
        yield from self._staging.write_sources(number, segment.attempt, segment.sources)
        snapshot.etag = self._window.etag  # the previous commit may have finished since the snapshot
        self._checkpoints.save_window(snapshot)
        self._window.etag = snapshot.etag
        release_free_memory()
        yield 1


class WindowReader:
    """Reads the rest of one window for one run, within the run's time budget."""

    def __init__(
        self,
        svc: Services,
        window: IngestWindow,
        streams: dict[str, Checkpoint],
        deadline: float,
    ) -> None:
        self.svc = svc
        self.window = window
        self.streams = streams
        self.deadline = deadline
        self.staging = StagingTable(svc.service, svc.settings.tenant_id, window.window_id)
        self.spray = SprayTracker.from_state(svc.settings.rules.spray_min_accounts, window.spray)
        if self.spray.unnamed:  # an earlier run of this window found sources past the named ones
            self.spray.remember_unnamed(self.staging.sources(window.segments))
        self.stats = IngestStats()
        self._recent = RecentIds(window.recent)
        self._watched = frozenset(p.casefold() for p in svc.settings.legacy_protocols)
        self._committer = Committer(self.staging, svc.checkpoints, window)
        self._requests_counted = svc.graph.stats.requests
        self._previous_newest: datetime | None = None
        self._refused = 0
        self._unconfirmed: list[UnreadSpan] = []
        """Spans skipped since Graph last served a usable page: not yet known to be poison rather than down."""
        self._last_refusal: GraphError | None = None
        self._settled = self._place()

    async def read(self) -> bool:
        """Read pages until the window is done (True) or the time budget is spent (False)."""
        segment = Segment()
        try:
            with self.svc.signin_pacer.idle_work(lambda: asyncio.to_thread(self._committer.step)):
                while self.window.stream < len(STREAMS):
                    async for page in self._pages():
                        self._fold(page, segment)
                        out_of_time = time.monotonic() >= self.deadline
                        if out_of_time or self._full(segment):
                            await self._commit(segment)
                            segment = Segment()
                        if out_of_time and self.window.stream < len(STREAMS):
                            return False
                self._confirm_unread(at_end=True)
            if segment.deltas:  # durable before they are applied; pages with nothing new need no commit
                await self._commit(segment)
            return True
        except GraphDeadlineError:  # Graph asked us to wait past the run's time: the next run goes on
            self.stats.skipped["wait_past_deadline"] += 1
            self._back_to_settled()
            if segment.pages:
                await self._commit(segment)
            return False
        except GraphError:
            self._back_to_settled()
            if segment.pages:  # keep what was read before Graph gave up: the next run resumes after it
                await self._commit(segment)
            raise
        finally:
            self.stats.skipped["spray_buckets_evicted"] = self.spray.evicted
            self.stats.skipped["spray_sources_unnamed"] = self.spray.unnamed
            await asyncio.to_thread(self._committer.finish)
            self.stats.staged_rows = self._committer.rows - self.stats.commits
            self.stats.writes += self._committer.rows

    def _full(self, segment: Segment) -> bool:
        return segment.pages >= self.svc.settings.checkpoint_pages or len(segment.deltas) >= SEGMENT_MAX_USERS

    async def _pages(self) -> AsyncIterator[SignInPage]:
        """The current stream's pages from where the window stands. A cursor Graph no longer accepts, or a
        page refused (not a page, a nextLink off our Graph or in a loop), is replaced by a query bounded at
        the oldest sign-in read so far (repeats are dropped as duplicates); a page refused MAX_REQUERIES
        times over is poison, and its range is split around it (``_split_around``)."""
        settings, window = self.svc.settings, self.window
        name = STREAMS[window.stream]
        version = settings.signins_api_version
        odata = stream_filter(settings, window, name)
        cursor = window.cursor or None
        refusals = 0
        """Refused answers since the last usable page."""
        while True:
            try:
                pages = signin_pages(self.svc.graph, version, odata, cursor, self.svc.signin_pacer, self.deadline)
                async for page in pages:
                    cursor, refusals = None, 0
                    self._confirm_unread()
                    yield page
                return
            except GraphError as exc:
                reason = _requery_reason(exc, from_cursor=cursor is not None)
                if reason is None or self._refused >= MAX_REFUSED_PER_RUN:
                    raise
                self._refused, refusals, cursor = self._refused + 1, refusals + 1, None
                self._last_refusal = exc
                self.stats.skipped[reason] += 1
                self.stats.samples.setdefault(reason, bounded(f"{exc.code}: {exc.url}", SAMPLE_CHARS))
                if refusals <= MAX_REQUERIES:
                    odata = stream_filter(settings, window, name, before=window.position)
                    continue
                if reason != "page_refused":
                    raise
                if not self._split_around(name, exc.code):
                    return  # the stream's last span was skipped: the next stream starts
                odata = stream_filter(settings, window, name)

    def _split_around(self, name: str, code: str) -> bool:
        """Read around a poison page: split the rest of its range in two (newer half first), or, once the
        rest is one second, skip that second. Returns whether the stream has more to read."""
        window = self.window
        start, top = stream_bounds(window, name, window.position)
        if top - start <= SECOND:
            if top > start:
                self._unconfirmed.append(UnreadSpan(name, start, top, code))
                self.stats.skipped["poison_span_skipped"] += 1
            return self._end_of_query()
        middle = max((start + (top - start) / 2).replace(microsecond=0), start + SECOND)
        window.ranges[:1] = [(middle, top), (start, middle)]
        window.cursor, window.position = "", None
        self._previous_newest = None
        self.stats.skipped["poison_range_split"] += 1
        return True

    def _end_of_query(self) -> bool:
        """The current range is read (or skipped): on to the stream's next range, else to the next stream.
        Returns whether the stream has more to read."""
        window = self.window
        window.cursor, window.position = "", None
        self._previous_newest = None
        if len(window.ranges) > 1:
            window.ranges.pop(0)
            return True
        window.ranges = []
        window.stream += 1
        return False

    def _confirm_unread(self, at_end: bool = False) -> None:
        """Graph served a usable answer after the skipped spans (or the window is read, after pages this run
        did read), so they were poison, not Graph down: they become the window's unread spans."""
        if not self._unconfirmed:
            return
        if at_end and not self.stats.pages and self._last_refusal is not None:
            raise self._last_refusal  # nothing usable all run: Graph is down, not poisoned
        self.window.unread[:] = merge_spans(self.window.unread, self._unconfirmed)
        self.stats.unread.extend(self._unconfirmed)
        self._unconfirmed.clear()

    def _place(self) -> tuple[int, str, datetime | None, list[tuple[datetime, datetime]]]:
        window = self.window
        return window.stream, window.cursor, window.position, list(window.ranges)

    def _back_to_settled(self) -> None:
        """Skips not yet confirmed are undone when the run stops: the next run reads those spans again."""
        if self._unconfirmed:
            window = self.window
            window.stream, window.cursor, window.position, window.ranges = self._settled
            self._unconfirmed.clear()

    def _fold(self, page: SignInPage, segment: Segment) -> None:
        started = time.thread_time()
        window = self.window
        name = STREAMS[window.stream]
        fence = self.streams[name].fence
        next_fence = window.new_fences.setdefault(name, set())
        overlap_start = window.end - timedelta(minutes=self.svc.settings.overlap_minutes)
        fresh = []
        keys: set[bytes] = set()
        for event in page.events:
            key = id_key(event.id)
            if event.created_at >= overlap_start:
                next_fence.add(key)
            if window.position is None or event.created_at < window.position:
                window.position = event.created_at
            if key in fence or key in self._recent or key in keys:
                self.stats.skipped["duplicate"] += 1
                continue
            keys.add(key)
            fresh.append(event)
        self._recent.add_page(keys)
        fresh = self._unless_repeated(page, fresh)
        if name == LEGACY_STREAM:
            self.stats.skipped["not_watched_protocol"] += fold_legacy(segment.deltas, fresh, self._watched)
            self.spray.add(fresh)
        else:
            self.stats.skipped["not_apple_modern"] += fold_apple(segment.deltas, fresh)
        self.stats.skipped.update(page.skipped)
        for reason, sample in page.samples.items():
            self.stats.samples.setdefault(reason, sample)
        if not page.events and page.next_link:
            self.stats.skipped["empty_page"] += 1
        self.stats.cpu_seconds += time.thread_time() - started + page.parse_cpu_seconds
        segment.pages += 1
        window.pages += 1
        window.events += len(fresh)
        self.stats.pages += 1
        self.stats.events += len(fresh)
        window.cursor = page.next_link or ""
        if page.next_link is None:  # this range is done: the next one (or the next stream) starts
            self._end_of_query()
        self._settled = self._place()

    def _unless_repeated(self, page: SignInPage, fresh: list[SignInEvent]) -> list[SignInEvent]:
        """Nothing, if every new sign-in of the page is newer than the newest of the page before: pages
        come newest first, so this is a page served again past what the recent ids remember (a next
        page holds only older sign-ins; a page mixing both is kept whole, nothing is lost)."""
        before = self._previous_newest
        if page.events:
            self._previous_newest = max(event.created_at for event in page.events)
        if fresh and before is not None and all(event.created_at > before for event in fresh):
            self.stats.skipped["repeated_page"] += len(fresh)
            return []
        return fresh

    async def _commit(self, segment: Segment) -> None:
        """Close the segment: its deltas, the cursor and the state that travels with it become one commit."""
        window = self.window
        window.segments.append(segment.attempt)
        window.requests += self.svc.graph.stats.requests - self._requests_counted
        self._requests_counted = self.svc.graph.stats.requests
        window.spray = self.spray.state()
        segment.sources = self.spray.drain_unnamed()
        window.recent = self._recent.snapshot()
        snapshot = replace(
            window,
            segments=list(window.segments),
            new_fences={k: set(v) for k, v in window.new_fences.items()},
            ranges=list(window.ranges),
            unread=list(window.unread),
        )
        await asyncio.to_thread(self._committer.start, len(window.segments) - 1, segment, snapshot)
        self.stats.commits += 1
