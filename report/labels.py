"""Plain-language names for the codes an admin meets on the dashboard; the code stays on hover."""

from __future__ import annotations

import re

from core.findings import SEVERITIES, Finding
from rules.catalog import REASONS

STATUS_LABELS: dict[str, str] = {
    "legacy_active": "Still on legacy authentication",
    "attack_suspected": "Under attack, not emailed",
    "pending_verification": "Fixed, being verified",
    "remediated": "Remediated",
    "stale": "No recent legacy sign-in",
    "excluded": "Not emailed (excluded)",
}
KIND_LABELS = {
    "person": "a person's mail app",
    "device": "printer or scanner",
    "application": "application or script",
    "shared": "shared or resource mailbox",
    "attack": "attack (password guessing)",
}
"""The sender kinds of rules/protocols.py in words."""
PLATFORM_LABELS = {
    "ios": "iPhone (iOS)",
    "ipados": "iPad (iPadOS)",
    "macos": "Mac (macOS Mail)",
    "android": "Android",
    "outlook": "Outlook mobile",
    "unknown": "Unknown device",
}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def reason_label(code: str) -> str:
    """The first clause of the code's catalog summary ("Legacy (basic authentication) sign-ins succeeded")."""
    reason = REASONS.get(code)
    if reason is None:
        return code
    clause = re.split(r"(?<=[a-z)])(?:: |; |\. |, so | \(LAM_)", reason.summary, maxsplit=1)[0]
    if len(clause) < 20:  # "macOS Mail: the account is re-added…": the clause alone says too little
        clause = reason.summary.split(". ", 1)[0]
    return clause.rstrip(".")


def reason_title(code: str) -> str:
    """The hover text: the code, then the whole summary."""
    reason = REASONS.get(code)
    return f"{code}: {reason.summary}" if reason else code


def by_urgency(findings: list[Finding]) -> list[Finding]:
    """What needs doing first: failing checks before passing ones, then by severity (critical first);
    the tenant's order is kept among equals."""
    return sorted(findings, key=lambda f: (f.ok, SEVERITIES.index(f.severity)))
