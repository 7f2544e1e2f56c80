"""Readiness per retirement: what breaks on the day Microsoft switches a protocol off, in this tenant.

For each watched protocol with a switch-off date in the registry: the accounts that still succeeded with
basic authentication over it in the last 30 days, the senders in them (one per source network: a scanner
in each of three offices is three senders on one account), by kind, and how many of their owners were
told; and, once a first run was recorded, the progress since: how many accounts would have stopped then,
how many now, and how many of the first ones no longer send with basic authentication. Pure: the states,
today's date and the first run's baseline in, findings out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from core.findings import BASELINE_IDS_KEPT, Finding, RetirementBaseline
from core.records import OTHER, UserState
from rules import links, protocols, senders
from rules.rule import Reason

RECENT_DAYS = 30
"""A sender counts when it succeeded with basic auth within this many days (the sign-in log's reach)."""
UNPROVEN = ("legacy_active", "pending_verification")
"""Statuses that still break at the switch-off: a sender told and quiet since is not fixed until its quiet
period has passed (then it is remediated)."""

FINDINGS: tuple[Reason, ...] = (
    Reason(
        "retirement_authenticated_smtp",
        "high",
        "Senders that still submit mail with basic SMTP AUTH stop when Microsoft disables it by default for "
        "existing tenants at the end of December 2026.",
        "Their owners are emailed the ways out for each kind; check the switches with Get-TransportConfig and "
        "Get-CASMailbox (SmtpClientAuthenticationDisabled) and re-enable only as a stopgap.",
        links.SMTP_AUTH_TIMELINE,
    ),
    Reason(
        "retirement_exchange_web_services",
        "high",
        "Clients that still call Exchange Web Services stop when Microsoft switches EWS off for good on 2027-04-01.",
        "Move each to Microsoft Graph; until then only allow-listed apps work (EWSEnabled, EWSAllowedAppIDs).",
        links.BASIC_AUTH_DEPRECATION,
    ),
)
CATALOG: dict[str, Reason] = {entry.code: entry for entry in FINDINGS}
KIND_WORDS = {
    "person": ("person's app", "people's apps"),
    "device": ("device", "devices"),
    "application": ("application", "applications"),
    "shared": ("shared mailbox", "shared mailboxes"),
    "attack": ("attack", "attacks"),
    "user": ("user", "users"),
}
"""How the finding counts each kind: one and many."""


def finding_name(retirement: protocols.Retirement) -> str:
    return "retirement_" + retirement.client_app.casefold().replace(" ", "_")


def affected_accounts(states: Iterable[UserState], now: datetime, watched: Iterable[str]) -> dict[str, list[UserState]]:
    """Finding name → the accounts that still succeeded with basic auth over it in the last RECENT_DAYS days
    and are not proven fixed, for each watched protocol with a switch-off date."""
    wanted = [r for r in map(protocols.retirement_of, watched) if r is not None and r.deadline is not None]
    since = now - timedelta(days=RECENT_DAYS)
    accounts: dict[str, list[UserState]] = {finding_name(r): [] for r in wanted}
    for state in states:
        ev = state.evidence
        if state.verdict.status not in UNPROVEN or ev.last_success_at is None or ev.last_success_at < since:
            continue
        seen = {p.casefold() for p, n in ev.protocols.items() if n}
        for retirement in wanted:
            if retirement.client_app.casefold() in seen:
                accounts[finding_name(retirement)].append(state)
    return accounts


def baseline_of(affected: dict[str, list[UserState]], now: datetime) -> RetirementBaseline:
    """What the first run saw, to measure progress against: exact counts, the first ids of each."""
    return RetirementBaseline(
        first_run=now,
        accounts={name: len(states) for name, states in affected.items()},
        ids={name: tuple(sorted(s.user_id for s in states)[:BASELINE_IDS_KEPT]) for name, states in affected.items()},
    )


def extend_baseline(stored: RetirementBaseline | None, fresh: RetirementBaseline) -> RetirementBaseline | None:
    """The baseline to keep: the stored one plus a first count for each retirement it lacks (a protocol
    added to the watch list later starts its progress then); None when nothing is new. A count once taken
    is never replaced."""
    if stored is None:
        return fresh
    new = [name for name in fresh.accounts if name not in stored.accounts]
    if not new:
        return None
    return RetirementBaseline(
        first_run=stored.first_run,
        accounts={**stored.accounts, **{name: fresh.accounts[name] for name in new}},
        ids={**stored.ids, **{name: fresh.ids.get(name, ()) for name in new}},
        started={**stored.started, **{name: fresh.first_run for name in new}},
    )


def retirement_findings(
    states: Iterable[UserState], now: datetime, watched: Iterable[str], baseline: RetirementBaseline | None = None
) -> list[Finding]:
    """One finding per watched protocol that has a switch-off date: ok when nothing would break."""
    watched = tuple(watched)
    accounts = affected_accounts(states, now, watched)
    return [
        _finding(r, accounts[finding_name(r)], now, baseline)
        for r in map(protocols.retirement_of, watched)
        if r is not None and r.deadline is not None
    ]


def progress(name: str, affected: list[UserState], baseline: RetirementBaseline | None) -> str:
    """ "Since the first run on 2026-11-20: 9 account(s) then, 4 now, 6 fixed." ("" before a first run)."""
    if baseline is None or name not in baseline.accounts:
        return ""
    then, first = baseline.accounts[name], set(baseline.ids.get(name, ()))
    started = baseline.started.get(name, baseline.first_run)
    since = "watching began" if name in baseline.started else "the first run"
    fixed = len(first - {s.user_id for s in affected})
    at_least = "at least " if then > len(first) else ""
    return (
        f" Since {since} on {started:%Y-%m-%d}: {then} account(s) then, {len(affected)} now, {at_least}{fixed} fixed."
    )


def _finding(
    retirement: protocols.Retirement, affected: list[UserState], now: datetime, baseline: RetirementBaseline | None
) -> Finding:
    name = finding_name(retirement)
    entry = CATALOG[name]
    assert retirement.deadline is not None
    days = max((retirement.deadline - now.date()).days, 0)
    count = sum(max(1, len([n for n in s.evidence.networks if n not in ("unknown", OTHER)])) for s in affected)
    kinds = Counter(senders.kind_of(s.verdict) or "user" for s in affected)
    told = sum(1 for s in affected if s.notified_count)
    by_kind = ", ".join(f"{n} {KIND_WORDS.get(kind, (kind, kind))[n != 1]}" for kind, n in sorted(kinds.items()))
    summary = (
        f"By {retirement.deadline_words} ({days} days left), {count} sender(s) in {len(affected)} account(s) "
        f"that {retirement.used_words or 'signed in over ' + retirement.client_app} in the last {RECENT_DAYS} "
        "days stop" + (f" ({by_kind}; {told} account(s) told so far)." if affected else ".")
    ) + progress(name, affected, baseline)
    return Finding(
        name,
        not affected,
        summary,
        entry.action if affected else "",
        "info" if not affected else entry.severity,
        entry.link,
    )
