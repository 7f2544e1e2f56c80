"""Every code the rules can emit and every tenant finding, as data in one place.

The metadata lives beside each rule (``RULE = Rule(...)`` in its module) and beside ``tenant_findings``
(``readiness.FINDINGS``); this module only gathers it, for whoever explains a code to an admin.
"""

from __future__ import annotations

from rules import readiness, retirements, status, switches
from rules.rule import Reason, Rule

RULES: tuple[Rule, ...] = (*status.RULES, readiness.RULE)
"""Every rule that declares codes: the verdict rules in evaluation order, then readiness (held emails)."""

REASONS: dict[str, Reason] = {reason.code: reason for rule in RULES for reason in rule.reasons}
"""Reason and advice codes → their metadata."""

FINDINGS: dict[str, Reason] = dict(readiness.CATALOG) | retirements.CATALOG | switches.CATALOG
"""Tenant finding ids → their metadata."""


def rule_of(code: str) -> Rule:
    """The rule that declares a reason or advice code (KeyError when none does)."""
    for rule in RULES:
        if code in rule.codes:
            return rule
    raise KeyError(f"no rule declares {code!r}")
