"""Which language to write to a user in: their preferred language, else their usage location, else the default."""

from __future__ import annotations

from collections.abc import Collection

LANGUAGE_BY_COUNTRY = {"DE": "de", "AT": "de", "CH": "de", "LI": "de", "LU": "de"}


def choose_locale(
    preferred_language: str | None, usage_location: str | None, default: str, available: Collection[str]
) -> str:
    """A language we have a complete translation for; never a half-translated mix."""
    candidates = [
        (preferred_language or "").split("-")[0].strip().lower(),
        LANGUAGE_BY_COUNTRY.get((usage_location or "").strip().upper(), ""),
        default,
    ]
    return next((c for c in candidates if c and c in available), "en")
