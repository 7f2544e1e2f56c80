"""What every rule declares about itself, so the stored verdicts can say which rules made them.

Each reason code a rule can emit is declared beside the rule as data (the way security checkers keep
their check metadata beside the check): what it means to an admin, how much it matters, what to do,
and where the authoritative documentation is. ``tests/test_catalog.py`` checks that the rules emit no
code they do not declare.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.findings import Severity


@dataclass(frozen=True)
class Reason:
    """One code a rule can emit (or one tenant finding), as the admin reads it."""

    code: str
    severity: Severity
    """How much the condition matters to the admin, from "critical" down to "info"."""
    summary: str
    """One sentence for an admin: what the code says about the user or the tenant."""
    action: str = ""
    """What to do about it; empty when nothing is to be done."""
    link: str = ""
    """The authoritative public documentation (https), or empty where there is none."""


@dataclass(frozen=True)
class Rule:
    name: str
    version: str
    summary: str
    reasons: tuple[Reason, ...]
    """Every reason code this rule can emit, with its metadata."""

    @property
    def codes(self) -> tuple[str, ...]:
        """The declared reason codes, in declaration order."""
        return tuple(reason.code for reason in self.reasons)

    def reason(self, code: str) -> Reason:
        """The metadata of one declared code (KeyError for a code the rule does not declare)."""
        for reason in self.reasons:
            if reason.code == code:
                return reason
        raise KeyError(f"{self.name} declares no reason {code!r}")
