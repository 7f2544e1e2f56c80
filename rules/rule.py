"""What every rule declares about itself, so the stored verdicts can say which rules made them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    version: str
    summary: str
    reasons: tuple[str, ...]
    """Every reason code this rule can emit."""
