"""Password spray across the tenant: one source failing credentials on many accounts in the same hour.

A user alone cannot show this; the whole window's sign-ins can. The tracker reads the legacy stream
as it arrives (newest first) and keeps, per source and hour, only the accounts seen so far (at most
``min_accounts`` of them, as hashes); an hour is forgotten once the stream has moved past it, and a
source that reached the threshold is remembered for the rest of the window. Its state is small and
serialisable, so a checkpoint carries it across runs. When the window is read, each user's failures
from those sources become ``Evidence.spray_failures`` and the admin gets the attack finding.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from core.dedupe import id_key
from core.findings import AttackFinding
from core.records import OTHER, Delta, Evidence, SignInEvent
from rules.signals import CREDENTIAL_ERROR_CODES, network_of

NAME = "password_spray"
VERSION = "2"
HOUR = 3600
ORDER_SLACK_SECONDS = 300
"""Pages come newest first; an hour is closed only when the stream is this far past its start."""


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
    _buckets: dict[tuple[str, int], _Bucket] = field(default_factory=dict)

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
            key = (event.ip, int(moment // HOUR))
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(set(), moment, moment)
            bucket.accounts.add(id_key(event.user_id))
            bucket.first, bucket.last = min(bucket.first, moment), max(bucket.last, moment)
            if len(bucket.accounts) >= self.min_accounts:
                self.sources[event.ip] = (bucket.first, bucket.last)
                del self._buckets[key]
        if oldest is not None:
            self._close_hours_after(oldest)

    def _close_hours_after(self, position: float) -> None:
        """Forget hours the newest-first stream has left behind: no event of theirs can still come."""
        done = [key for key in self._buckets if key[1] * HOUR > position + ORDER_SLACK_SECONDS]
        for key in done:
            del self._buckets[key]

    def state(self) -> dict[str, Any]:
        """A JSON-ready snapshot for the window's checkpoint."""
        return {
            "sources": {ip: list(span) for ip, span in self.sources.items()},
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
        for ip, hour, first, last, accounts in state["buckets"]:
            tracker._buckets[(str(ip), int(hour))] = _Bucket({bytes.fromhex(a) for a in accounts}, first, last)
        return tracker


def attribute_spray(delta: Delta, sources: Collection[str]) -> tuple[Evidence, tuple[str, ...]]:
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
    """The admin's finding for one window: the accounts hit, each source with its count, the time span."""
    spans = [tracker.sources[ip] for ip in victims if ip in tracker.sources]
    if not spans:
        return None
    return AttackFinding(
        accounts=accounts,
        sources=dict(sorted(victims.items(), key=lambda kv: (-kv[1], kv[0]))[:20]),
        first_seen=datetime.fromtimestamp(min(first for first, _ in spans), UTC),
        last_seen=datetime.fromtimestamp(max(last for _, last in spans), UTC),
    )


def merge_attack(prior: AttackFinding | None, new: AttackFinding, attacked_accounts: int) -> AttackFinding:
    """The standing finding: accounts currently under attack, sources and time span across runs."""
    sources = dict(prior.sources) if prior else {}
    for ip, accounts in new.sources.items():
        sources[ip] = max(sources.get(ip, 0), accounts)
    return AttackFinding(
        accounts=attacked_accounts,
        sources=dict(sorted(sources.items(), key=lambda kv: -kv[1])[:20]),
        first_seen=min(prior.first_seen, new.first_seen) if prior else new.first_seen,
        last_seen=max(prior.last_seen, new.last_seen) if prior else new.last_seen,
    )
