"""Fold sign-in events into per-user deltas as pages arrive, so no run holds all events."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from core.constants import APPLE_APP_ID, MODERN_CLIENT_APPS
from core.records import COUNT_KEYS_KEPT, Delta, SignInEvent, capped
from rules.signals import CREDENTIAL_ERROR_CODES, NO_AGENT, hour_of, network_of, system_key


def is_legacy(event: SignInEvent, watched_protocols: frozenset[str]) -> bool:
    """A sign-in over one of the watched legacy protocols (casefolded names)."""
    return event.client_app.casefold() in watched_protocols


def is_apple_modern(event: SignInEvent) -> bool:
    """A successful modern sign-in of Apple's app: the mark of a re-added account."""
    return event.app_id == APPLE_APP_ID and event.succeeded and event.client_app.casefold() in MODERN_CLIENT_APPS


def fold_legacy(acc: dict[str, Delta], events: Iterable[SignInEvent], watched: frozenset[str]) -> int:
    """Add legacy sign-ins to ``acc`` (user id → delta); returns how many events were not legacy."""
    return _fold(acc, events, lambda event: is_legacy(event, watched), _add_legacy)


def fold_apple(acc: dict[str, Delta], events: Iterable[SignInEvent]) -> int:
    """Record the latest modern Apple-app sign-in per user; returns how many events did not qualify."""
    return _fold(acc, events, is_apple_modern, _add_apple)


def _fold(
    acc: dict[str, Delta],
    events: Iterable[SignInEvent],
    qualifies: Callable[[SignInEvent], bool],
    add: Callable[[Delta, SignInEvent], None],
) -> int:
    ignored = 0
    for event in events:
        if not qualifies(event):
            ignored += 1
            continue
        delta = acc.get(event.user_id)
        if delta is None:
            delta = acc[event.user_id] = Delta()
        add(delta, event)
    return ignored


def _add_legacy(delta: Delta, event: SignInEvent) -> None:
    ev = delta.evidence
    ev.upn = event.upn or ev.upn
    if event.succeeded:
        ev.legacy_success += 1
        if ev.last_success_at is None or event.created_at > ev.last_success_at:
            ev.last_success_at = event.created_at
    else:
        ev.legacy_failure += 1
        _bump(ev.failure_codes, str(event.error_code))
        if event.error_code in CREDENTIAL_ERROR_CODES:
            ev.credential_failures += 1
            if event.ip:
                _bump(delta.credential_ips, event.ip)
    _bump(ev.protocols, event.client_app)
    _bump(ev.agents, event.user_agent or NO_AGENT)
    _bump(ev.networks, network_of(event.ip))
    _bump(ev.countries, event.country or "unknown")
    _bump(ev.systems, system_key(event.operating_system, event.browser))
    _bump(ev.hours, hour_of(event.created_at))
    if ev.first_legacy_at is None or event.created_at < ev.first_legacy_at:
        ev.first_legacy_at = event.created_at
    if ev.last_legacy_at is None or event.created_at >= ev.last_legacy_at:
        ev.last_legacy_at = event.created_at
        ev.user_agent = event.user_agent or ev.user_agent
        ev.device_os = event.operating_system or ev.device_os


def _bump(counts: dict[str, int], key: str) -> None:
    key = sys.intern(key)  # thousands of users share a few agents and codes: keep one copy of each
    counts[key] = counts.get(key, 0) + 1
    if len(counts) > 4 * COUNT_KEYS_KEPT:  # stays bounded while folding; totals are kept exactly
        kept = capped(counts)
        counts.clear()
        counts.update(kept)


def _add_apple(delta: Delta, event: SignInEvent) -> None:
    ev = delta.evidence
    ev.upn = ev.upn or event.upn
    if ev.last_apple_at is None or event.created_at > ev.last_apple_at:
        ev.last_apple_at = event.created_at
