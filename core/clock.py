"""Time helpers: everything is aware UTC, and Graph timestamps parse without surprises."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_graph_time(value: object) -> datetime | None:
    """Parse Graph's ISO-8601 timestamps ("2026-11-01T08:15:02Z", with or without fraction).

    Returns None for anything that is not a parseable string, so callers can count the record as
    skipped instead of crashing on one odd event.
    """
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Graph sends up to 7 fractional digits; Python accepts at most 6.
    if "." in text:
        head, _, tail = text.partition(".")
        digits = ""
        rest = ""
        for i, ch in enumerate(tail):
            if not ch.isdigit():
                rest = tail[i:]
                break
            digits += ch
        text = f"{head}.{digits[:6]}{rest}" if digits else head + rest
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00:00+01:00" is before the year 1 in UTC
        return None


def graph_time(value: datetime) -> str:
    """Format a datetime the way Graph's $filter wants it: unquoted ISO-8601 UTC, whole seconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
