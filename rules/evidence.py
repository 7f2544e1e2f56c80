"""Fold sign-in events into per-user evidence as pages arrive, so no run holds all events."""

from __future__ import annotations

from collections.abc import Iterable

from core.constants import APPLE_APP_ID, MODERN_CLIENT_APPS
from core.records import Evidence, SignInEvent


def is_legacy(event: SignInEvent, watched_protocols: frozenset[str]) -> bool:
    """A sign-in over one of the watched legacy protocols (casefolded names)."""
    return event.client_app.casefold() in watched_protocols


def is_apple_modern(event: SignInEvent) -> bool:
    """A successful modern sign-in of Apple's app: the mark of a re-added account."""
    return event.app_id == APPLE_APP_ID and event.succeeded and event.client_app.casefold() in MODERN_CLIENT_APPS


def fold_legacy(acc: dict[str, Evidence], events: Iterable[SignInEvent], watched: frozenset[str]) -> int:
    """Add legacy sign-ins to ``acc`` (user id → evidence); returns how many events were not legacy."""
    ignored = 0
    for event in events:
        if not is_legacy(event, watched):
            ignored += 1
            continue
        ev = acc.get(event.user_id)
        if ev is None:
            ev = acc[event.user_id] = Evidence()
        ev.upn = event.upn or ev.upn
        if event.succeeded:
            ev.legacy_success += 1
        else:
            ev.legacy_failure += 1
            code = str(event.error_code)
            ev.failure_codes[code] = ev.failure_codes.get(code, 0) + 1
        ev.protocols[event.client_app] = ev.protocols.get(event.client_app, 0) + 1
        if ev.first_legacy_at is None or event.created_at < ev.first_legacy_at:
            ev.first_legacy_at = event.created_at
        if ev.last_legacy_at is None or event.created_at >= ev.last_legacy_at:
            ev.last_legacy_at = event.created_at
            ev.user_agent = event.user_agent or ev.user_agent
            ev.device_os = event.operating_system or ev.device_os
    return ignored


def fold_apple(acc: dict[str, Evidence], events: Iterable[SignInEvent]) -> int:
    """Record the latest modern Apple-app sign-in per user; returns how many events did not qualify."""
    ignored = 0
    for event in events:
        if not is_apple_modern(event):
            ignored += 1
            continue
        ev = acc.get(event.user_id)
        if ev is None:
            ev = acc[event.user_id] = Evidence()
        ev.upn = ev.upn or event.upn
        if ev.last_apple_at is None or event.created_at > ev.last_apple_at:
            ev.last_apple_at = event.created_at
    return ignored
