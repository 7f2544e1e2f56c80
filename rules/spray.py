"""Password spray across the tenant: one source failing credentials on many accounts in the same hour.

A user alone cannot show this; the whole run's sign-ins can. The tracker is filled as pages are
folded, then marks each user's failures that came from such a source (``Evidence.spray_failures``)
and produces the admin's attack finding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from core.records import Evidence, SignInEvent
from rules.signals import CREDENTIAL_ERROR_CODES, network_of

NAME = "password_spray"
VERSION = "1"


@dataclass(frozen=True)
class AttackFinding:
    """What the admin sees: how many accounts, from which sources, when."""

    accounts: int
    sources: dict[str, int]
    """Source IP → number of accounts it failed against."""
    first_seen: datetime
    last_seen: datetime


@dataclass
class SprayTracker:
    min_accounts: int
    _accounts_by_source_hour: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    _failures_by_user: dict[str, Counter[str]] = field(default_factory=dict)
    _seen: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)

    def add(self, events: Iterable[SignInEvent]) -> None:
        """Record credential failures (only those; a policy refusal is not a guessed password)."""
        for event in events:
            if event.error_code not in CREDENTIAL_ERROR_CODES or not event.ip:
                continue
            hour = int(event.created_at.timestamp()) // 3600
            self._accounts_by_source_hour.setdefault((event.ip, hour), set()).add(event.user_id)
            self._failures_by_user.setdefault(event.user_id, Counter())[event.ip] += 1
            first, last = self._seen.get(event.ip, (event.created_at, event.created_at))
            self._seen[event.ip] = (min(first, event.created_at), max(last, event.created_at))

    def sources(self) -> set[str]:
        return {ip for (ip, _), users in self._accounts_by_source_hour.items() if len(users) >= self.min_accounts}

    def apply(self, delta: dict[str, Evidence]) -> AttackFinding | None:
        """Attribute failures from spray sources to each user's evidence; return the finding, if any."""
        sources = self.sources()
        if not sources:
            return None
        victims: dict[str, set[str]] = {}
        for user_id, by_ip in self._failures_by_user.items():
            hits = {ip: n for ip, n in by_ip.items() if ip in sources}
            if not hits or user_id not in delta:
                continue
            evidence = delta[user_id]
            evidence.spray_failures += sum(hits.values())
            for ip, n in hits.items():  # the attacker's networks are not the user's device
                network = network_of(ip)
                left = evidence.networks.get(network, 0) - n
                if left > 0:
                    evidence.networks[network] = left
                else:
                    evidence.networks.pop(network, None)
                victims.setdefault(ip, set()).add(user_id)
        seen = [self._seen[ip] for ip in sources]
        return AttackFinding(
            accounts=len(set().union(*victims.values())) if victims else 0,
            sources={ip: len(users) for ip, users in sorted(victims.items(), key=lambda kv: -len(kv[1]))[:20]},
            first_seen=min(first for first, _ in seen),
            last_seen=max(last for _, last in seen),
        )
