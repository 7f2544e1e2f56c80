"""The admin's daily digest: what changed, what is open, what the admin must do. Never empty unless asked."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.findings import Finding
from core.ledger import LedgerEntry
from core.records import UserState
from core.runs import HELD_LABELS, NotifyFigures, RunRecord
from notify.compose import OutgoingEmail, template_environment
from rules.breakdown import protocols_of
from rules.owners import OWNED_KINDS, account_kind, owner_of
from rules.protocols import SENDER_KINDS, retirement_of

DIGEST = "digest"
KIND_WORDS = {
    "person": "people's own mail apps (each person is told)",
    "device": "printers and scanners",
    "application": "applications and scripts",
    "shared": "shared or resource mailboxes",
    "attack": "attacks",
}
LISTED = 25
"""Senders listed per kind; the count says how many more there are."""


@dataclass(frozen=True)
class KindGroup:
    kind: str
    words: str
    count: int
    senders: list[tuple[str, str]]
    """(account, owner) of the first LISTED, for the kinds whose owner must act; empty for people."""


@dataclass(frozen=True)
class ProtocolSection:
    protocol: str
    accounts: int
    deadline_words: str
    days_left: int | None
    kinds: list[KindGroup]


@dataclass
class Digest:
    day: str
    new_legacy: list[UserState] = field(default_factory=list)
    open_legacy: int = 0
    remediated_this_week: list[UserState] = field(default_factory=list)
    attack_accounts: int = 0
    findings: list[Finding] = field(default_factory=list)
    emails: Counter[str] = field(default_factory=Counter)
    held: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """Emails refused for good and waiting for the admin (fix, then `cli notify --retry-failed`)."""
    protocols: list[ProtocolSection] = field(default_factory=list)
    """Accounts still on legacy authentication per protocol (one account may use several), by sender kind."""
    owner_unknown: list[str] = field(default_factory=list)
    """Senders (SMTP AUTH, IMAP, POP, EWS) nobody could be told about: no owner in LAM_SENDER_OWNERS, no manager
    in Entra ID."""

    @property
    def empty(self) -> bool:
        """Nothing new in the last day worth an admin's attention."""
        return not (
            self.new_legacy
            or self.remediated_this_week
            or self.emails
            or self.failures
            or self.attack_accounts
            or self.refused
            or self.owner_unknown
        )


def build_digest(
    states: list[UserState],
    findings: list[Finding],
    ledger: list[LedgerEntry],
    runs: list[RunRecord],
    now: datetime,
    refused: list[LedgerEntry] | None = None,
    owners: Mapping[str, str] | None = None,
    told: Mapping[str, list[str]] | None = None,
) -> Digest:
    """Pure: the state, the tenant findings, the last day's ledger rows and runs (newest first), the
    refused emails, the owner map and who was told about each sender (user id → recipients, oldest first)
    → the digest."""
    day_ago, week_ago = now - timedelta(days=1), now - timedelta(days=7)
    legacy = [s for s in states if s.verdict.status == "legacy_active"]
    digest = Digest(
        day=now.strftime("%Y-%m-%d"),
        new_legacy=sorted((s for s in legacy if s.status_since >= day_ago), key=lambda s: s.status_since),
        open_legacy=len(legacy),
        remediated_this_week=[s for s in states if s.verdict.status == "remediated" and s.status_since >= week_ago],
        attack_accounts=sum(1 for s in states if s.verdict.status == "attack_suspected" and s.status_since >= day_ago),
        findings=[f for f in findings if not f.ok],
        protocols=protocol_sections(legacy, now, owners or {}, told or {}),
    )
    for entry in ledger:
        if entry.created_at >= day_ago and entry.template != DIGEST:
            digest.emails[entry.state] += 1
            if entry.state == "failed":
                digest.failures.append(f"email to {entry.recipient}: {entry.error}")
    digest.refused = [f"{e.recipient} ({e.template}): {e.error}" for e in refused or []]
    latest_notify = True
    for run in runs:
        if run.started_at < day_ago:
            continue
        if run.outcome == "failed":
            digest.failures.append(f"{run.step} run at {run.started_at:%Y-%m-%d %H:%M} UTC: {run.message}")
        if isinstance(run.figures, NotifyFigures) and latest_notify:  # what is held now, not summed over runs
            digest.held.update({HELD_LABELS.get(k, k): v for k, v in run.figures.held.items()})
            digest.owner_unknown = list(run.figures.held_users.get("owner_unknown", []))
            latest_notify = False
    return digest


def protocol_sections(
    legacy: list[UserState], now: datetime, owners: Mapping[str, str], told: Mapping[str, list[str]]
) -> list[ProtocolSection]:
    """The legacy_active accounts per protocol, the soonest switch-off first, then the most accounts."""
    by_protocol: dict[str, list[UserState]] = {}
    for state in legacy:
        for protocol in protocols_of(state):
            by_protocol.setdefault(protocol, []).append(state)
    sections = []
    for protocol, states in by_protocol.items():
        entry = retirement_of(protocol)
        days = entry.days_left(now.date()) if entry else None
        kinds = []
        for kind in SENDER_KINDS:
            of_kind = sorted((s for s in states if account_kind(s) == kind), key=lambda s: s.upn.casefold())
            if of_kind:
                shown = [(s.upn, owner_of(s, owners, told.get(s.user_id, ()))) for s in of_kind[:LISTED]]
                kinds.append(KindGroup(kind, KIND_WORDS[kind], len(of_kind), shown if kind in OWNED_KINDS else []))
        words = entry.deadline_words if entry else ""
        sections.append(ProtocolSection(protocol, len(states), words, None if days is None else max(days, 0), kinds))
    return sorted(sections, key=lambda p: (p.days_left is None, p.days_left or 0, -p.accounts, p.protocol))


def digest_ledger_user(recipient: str) -> str:
    """The ledger's user id for an admin recipient: stable, and no address in a RowKey."""
    return "admin-" + hashlib.sha256(recipient.casefold().encode()).hexdigest()[:16]


def compose_digest(digest: Digest, recipient: str, dashboard_hint: str) -> OutgoingEmail:
    env = template_environment()
    context: dict[str, Any] = {"d": digest, "dashboard_hint": dashboard_hint, "row": _row}
    return OutgoingEmail(
        to_address=recipient,
        to_name="",
        subject=f"Legacy Auth Monitor {digest.day}: {digest.open_legacy} on legacy authentication, "
        f"{len(digest.new_legacy)} new, {len(digest.remediated_this_week)} remediated this week",
        text=env.get_template("digest.txt").render(context),
        html=env.get_template("digest.html").render(context),
        template=DIGEST,
        locale="en",
    )


def _row(state: UserState) -> str:
    return f"{state.upn} — {', '.join(state.verdict.reasons)}"
