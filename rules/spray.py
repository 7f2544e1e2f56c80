"""Password spray across the tenant: one source failing credentials on many accounts in the same hour.

A user alone cannot show this; the whole window's sign-ins can. The tracker reads the legacy stream
as it arrives (newest first) and keeps, per source and hour, only the accounts seen so far (at most
``min_accounts`` of them, as hashes); an hour is forgotten once the stream has moved past it, and a
source that reached the threshold is remembered for the rest of the window. Its state is small and
serialisable, so a checkpoint carries it across runs. When the window is read, each user's failures
from those sources become ``Evidence.spray_failures`` and the admin gets the attack finding.

An attacker chooses how many sources to use, so the state is bounded (it travels in one checkpoint
row): at most MAX_SOURCES sources are named (the finding lists the 20 that hit most accounts). Sources
found beyond those are *unnamed*: an 8-byte hash each, at most MAX_UNNAMED_REMEMBERED of them, which
the window's staging table keeps beside the users' deltas (a commit at a time, ``drain_unnamed``), so
a later run of the same window knows them again. They are counted once each, widen the attack's time
span, and their victims' failures are marked as spray exactly as a named source's are
(``SpraySources``): a spray of 100,000 sources is one finding with its true number of sources and of
attacked accounts. Past MAX_UNNAMED_REMEMBERED a source is still counted, but not remembered: its
victims are not marked, and seen again in another hour it counts again. At most MAX_OPEN_BUCKETS hours
of not-yet-spray sources are kept open, and when more are needed the bucket with the fewest accounts
(the oldest of those) is forgotten first: the one furthest from the threshold. Evictions are counted
for the run.
"""

from __future__ import annotations

from collections.abc import Collection, Container, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from core.dedupe import id_key
from core.findings import AttackFinding
from core.records import OTHER, Delta, Evidence, SignInEvent
from rules.signals import CREDENTIAL_ERROR_CODES, network_of

NAME = "password_spray"
VERSION = "3"
"""3: victims of unnamed sources (past MAX_SOURCES) are marked as spray too."""
HOUR = 3600
ORDER_SLACK_SECONDS = 300
"""Pages come newest first; an hour is closed only when the stream is this far past its start."""
MAX_SOURCES = 1000
"""Spray sources named in the state (about 90 KB): the finding lists 20, attribution needs the rest."""
MAX_UNNAMED_REMEMBERED = 200_000
"""Unnamed sources remembered (8-byte hashes: 1.6 MB in the window's staging table, about 20 MB in memory)."""
MAX_OPEN_BUCKETS = 500
MAX_OPEN_ACCOUNTS = 2500
"""Account hashes held across all open buckets (LAM_SPRAY_MIN_ACCOUNTS may be large): about 40 KB."""


@dataclass
class _Bucket:
    accounts: set[bytes]
    first: float
    last: float


@dataclass
class SprayTracker:
    min_accounts: int
    sources: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Spray sources found so far: IP → (first, last) failure, as epoch seconds."""
    unnamed: int = 0
    """Spray sources found after MAX_SOURCES were named: counted, and in ``unnamed_span``."""
    _unnamed_seen: set[bytes] = field(default_factory=set)
    """Their hashes (up to MAX_UNNAMED_REMEMBERED), so a source is counted once and its victims marked."""
    _unnamed_new: list[bytes] = field(default_factory=list)
    """Hashes found since the last ``drain_unnamed``: what the next commit stages."""
    unnamed_span: tuple[float, float] | None = None
    evicted: int = 0
    """Open buckets forgotten to stay within bounds (this run)."""
    _buckets: dict[tuple[str, int], _Bucket] = field(default_factory=dict)
    _open_accounts: int = 0

    def add(self, events: Iterable[SignInEvent]) -> None:
        """Record credential failures (only those; a policy refusal is not a guessed password)."""
        oldest: float | None = None
        for event in events:
            moment = event.created_at.timestamp()
            oldest = moment if oldest is None else min(oldest, moment)
            if event.error_code not in CREDENTIAL_ERROR_CODES or not event.ip:
                continue
            known = self.sources.get(event.ip)
            if known is not None:
                self.sources[event.ip] = (min(known[0], moment), max(known[1], moment))
                continue
            if self._unnamed_seen and id_key(event.ip) in self._unnamed_seen:
                self._widen_unnamed(moment, moment)
                continue
            key = (event.ip, int(moment // HOUR))
            bucket = self._buckets.get(key)
            if bucket is None:
                self._make_room()
                bucket = self._buckets[key] = _Bucket(set(), moment, moment)
            account = id_key(event.user_id)
            if account not in bucket.accounts:
                bucket.accounts.add(account)
                self._open_accounts += 1
            bucket.first, bucket.last = min(bucket.first, moment), max(bucket.last, moment)
            if len(bucket.accounts) >= self.min_accounts:
                self._found(event.ip, bucket.first, bucket.last)
                self._drop(key)
            elif self._open_accounts > MAX_OPEN_ACCOUNTS:
                self._evict()
        if oldest is not None:
            self._close_hours_after(oldest)

    def _found(self, ip: str, first: float, last: float) -> None:
        if len(self.sources) < MAX_SOURCES:
            self.sources[ip] = (first, last)
            return
        self.unnamed += 1
        if len(self._unnamed_seen) < MAX_UNNAMED_REMEMBERED:
            key = id_key(ip)
            self._unnamed_seen.add(key)
            self._unnamed_new.append(key)
        self._widen_unnamed(first, last)

    def drain_unnamed(self) -> list[bytes]:
        """The unnamed sources found since the last call, for the commit that stages them."""
        found, self._unnamed_new = self._unnamed_new, []
        return found

    def remember_unnamed(self, keys: Iterable[bytes]) -> None:
        """Unnamed sources an earlier run of this window staged (at most MAX_UNNAMED_REMEMBERED are kept)."""
        for key in keys:
            if len(self._unnamed_seen) >= MAX_UNNAMED_REMEMBERED:
                return
            self._unnamed_seen.add(key)

    @property
    def source_count(self) -> int:
        """Every spray source found in the window, named or not."""
        return len(self.sources) + self.unnamed

    def spray_sources(self) -> SpraySources:
        """What the users' failures are matched against once the window is read."""
        return SpraySources(self.sources, self._unnamed_seen)

    def _widen_unnamed(self, first: float, last: float) -> None:
        span = self.unnamed_span
        self.unnamed_span = (first, last) if span is None else (min(span[0], first), max(span[1], last))

    def _make_room(self) -> None:
        if len(self._buckets) >= MAX_OPEN_BUCKETS:
            self._evict()

    def _evict(self) -> None:
        """Forget the open bucket furthest from the threshold (fewest accounts; the oldest of those)."""
        key = min(self._buckets, key=lambda k: (len(self._buckets[k].accounts), self._buckets[k].last))
        self._drop(key)
        self.evicted += 1

    def _drop(self, key: tuple[str, int]) -> None:
        self._open_accounts -= len(self._buckets.pop(key).accounts)

    def _close_hours_after(self, position: float) -> None:
        """Forget hours the newest-first stream has left behind: no event of theirs can still come."""
        done = [key for key in self._buckets if key[1] * HOUR > position + ORDER_SLACK_SECONDS]
        for key in done:
            self._drop(key)

    @property
    def span(self) -> tuple[float, float] | None:
        """When the spray sources failed, first to last, named or not."""
        spans = list(self.sources.values()) + ([self.unnamed_span] if self.unnamed_span else [])
        if not spans:
            return None
        return min(first for first, _ in spans), max(last for _, last in spans)

    def state(self) -> dict[str, Any]:
        """A JSON-ready snapshot for the window's checkpoint."""
        return {
            "sources": {ip: list(span) for ip, span in self.sources.items()},
            "unnamed": [self.unnamed, *(self.unnamed_span or ())],
            "buckets": [
                [ip, hour, b.first, b.last, sorted(a.hex() for a in b.accounts)]
                for (ip, hour), b in self._buckets.items()
            ],
        }

    @classmethod
    def from_state(cls, min_accounts: int, state: Mapping[str, Any] | None) -> SprayTracker:
        tracker = cls(min_accounts=min_accounts)
        if not state:
            return tracker
        tracker.sources = {str(ip): (float(span[0]), float(span[1])) for ip, span in state["sources"].items()}
        unnamed = state.get("unnamed") or [0]
        tracker.unnamed = int(unnamed[0])
        tracker.unnamed_span = (float(unnamed[1]), float(unnamed[2])) if len(unnamed) == 3 else None
        for ip, hour, first, last, accounts in state["buckets"]:
            tracker._buckets[(str(ip), int(hour))] = _Bucket({bytes.fromhex(a) for a in accounts}, first, last)
            tracker._open_accounts += len(accounts)
        return tracker


@dataclass(frozen=True)
class SpraySources:
    """The window's spray sources: the named ones by address, the unnamed ones by hash."""

    named: Mapping[str, object]
    unnamed: Collection[bytes] = ()

    def __contains__(self, ip: object) -> bool:
        return isinstance(ip, str) and (ip in self.named or (bool(self.unnamed) and id_key(ip) in self.unnamed))


def attribute_spray(delta: Delta, sources: Container[str]) -> tuple[Evidence, tuple[str, ...]]:
    """The user's evidence with failures from spray sources marked as such, and the sources that hit them.

    The attacker's networks are not the user's device: they are taken out of the user's networks.
    """
    hits = {ip: n for ip, n in delta.credential_ips.items() if ip in sources and ip != OTHER}
    if not hits:
        return delta.evidence, ()
    networks = dict(delta.evidence.networks)
    for ip, n in hits.items():
        network = network_of(ip)
        left = networks.get(network, 0) - n
        if left > 0:
            networks[network] = left
        else:
            networks.pop(network, None)
    evidence = replace(
        delta.evidence, spray_failures=delta.evidence.spray_failures + sum(hits.values()), networks=networks
    )
    return evidence, tuple(sorted(hits))


def attack_finding(tracker: SprayTracker, victims: Mapping[str, int], accounts: int) -> AttackFinding | None:
    """The admin's finding for one window: the accounts hit, the sources (how many, and the named ones that hit
    most, each with its count), the time span. ``victims`` counts accounts by named source."""
    span = tracker.span
    if span is None or not accounts:
        return None
    return AttackFinding(
        accounts=accounts,
        sources=dict(sorted(victims.items(), key=lambda kv: (-kv[1], kv[0]))[:20]),
        first_seen=datetime.fromtimestamp(span[0], UTC),
        last_seen=datetime.fromtimestamp(span[1], UTC),
        source_count=tracker.source_count,
    )


def merge_attack(prior: AttackFinding | None, new: AttackFinding, attacked_accounts: int) -> AttackFinding:
    """The standing finding: accounts currently under attack, sources and time span across runs. The number of
    sources is the most one window counted: without every address, two windows' sources cannot be told apart."""
    sources = dict(prior.sources) if prior else {}
    for ip, accounts in new.sources.items():
        sources[ip] = max(sources.get(ip, 0), accounts)
    return AttackFinding(
        accounts=attacked_accounts,
        sources=dict(sorted(sources.items(), key=lambda kv: -kv[1])[:20]),
        first_seen=min(prior.first_seen, new.first_seen) if prior else new.first_seen,
        last_seen=max(prior.last_seen, new.last_seen) if prior else new.last_seen,
        source_count=max(prior.source_count if prior else 0, new.source_count, len(sources)),
    )
