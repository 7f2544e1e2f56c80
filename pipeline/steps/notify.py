"""Send what is due to users (after settling crashed sends), and the admins' daily digest."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from collectors.managers import fetch_managers
from core.clock import utcnow
from core.ledger import LedgerConflictError, LedgerEntry
from core.records import DirectoryUser, UserState
from core.runs import DigestFigures, NotifyFigures, RunRecord, StepError, StepResult
from notify.digest import DIGEST, build_digest, compose_digest, digest_ledger_user
from notify.notifier import notify_due
from notify.reconcile import reconcile
from pipeline.wiring import Services, recorded
from rules.cadence import due_messages
from rules.readiness import user_emails_may_go
from rules.recipients import needs_owner

DIGEST_FOOTER = "Details: the dashboard at /api/dashboard, or `python -m cli report`."


async def notify_step(svc: Services, now: datetime | None = None) -> RunRecord:
    """Settle crashed sends, then send what is due within the budget.

    The sender and the tables are synchronous SDKs and the budget may wait minutes for the next slot:
    the whole step runs in a worker thread, so the event loop (timers, the admin API) never waits."""

    async def body(stamp: datetime) -> StepResult:
        if svc.sender is None:
            return StepResult(NotifyFigures(), "LAM_NOTIFY_MODE is 'off': nothing sent")
        before = await asyncio.to_thread(svc.users.load_all)
        managers, noted = await fetch_managers(svc.graph, _unowned_senders(svc, before.values(), stamp))
        done = await asyncio.to_thread(_send_due, svc, stamp, before, managers)
        if isinstance(done.figures, NotifyFigures) and noted:
            return replace(done, figures=replace(done.figures, owner_lookups=dict(noted)))
        return done

    return await recorded(svc, "notify", now or utcnow(), body)


def _unowned_senders(svc: Services, states: Iterable[UserState], now: datetime) -> list[str]:
    """SMTP AUTH senders due a message whose owner must act and whom the owner map does not name: the
    ones to ask Entra ID about (a sender with nothing due costs no request)."""
    policy = svc.settings.messages
    owners = policy.owners
    return [
        s.user_id
        for s in (message.state for message in due_messages(states, policy, now) if not message.is_confirmation)
        if needs_owner(s) and s.upn.casefold() not in owners
    ]


def _send_due(
    svc: Services, stamp: datetime, before: dict[str, UserState], managers: dict[str, DirectoryUser]
) -> StepResult:
    assert svc.sender is not None
    settled = reconcile(svc.ledger, svc.sender, stamp)
    may_go = user_emails_may_go(svc.tenant.load_apple_app(), svc.tenant.load_user_consent())
    policy = svc.settings.messages
    result = notify_due(before.values(), may_go, policy, svc.ledger, svc.sender, stamp, managers=managers)
    figures = NotifyFigures(
        failed=result.failed,
        unconfirmed=result.unconfirmed,
        settled_sent=settled.sent,
        settled_not_sent=settled.not_sent,
        held=dict(result.held),
        sent=result.delivered,
        rendered=result.rendered,
        refused=result.refused,
        carried_over=result.carried_over,
        held_users=result.named,
        templates=dict(result.templates),
    )
    consent = (
        "; emails held: the Apple app is missing or has no admin consent"
        if result.held.get("held_tenant_not_ready")
        else ""
    )
    done = StepResult(
        figures,
        figures.summary() + consent,
        writes=svc.users.save_changed(result.updated, before),
        emails=result.delivered,
    )
    if result.errors:
        tried = result.failed + result.refused + result.delivered + result.rendered
        raise SendFailuresError(
            f"{len(result.errors)} of {tried} sends failed: {result.errors[0]} ({figures.summary()})", done
        )
    return done


class SendFailuresError(StepError):
    """Some sends failed; the run is recorded as failed with what did go out."""


async def digest_step(svc: Services, now: datetime | None = None) -> RunRecord:
    """The admin digest, once a day per recipient (the ledger keeps it to one)."""

    async def body(stamp: datetime) -> StepResult:
        return await asyncio.to_thread(_send_digest, svc, stamp)

    return await recorded(svc, "digest", now or utcnow(), body)


def _told_about_senders(svc: Services, states: list[UserState]) -> dict[str, list[str]]:
    """Who the ledger says was mailed about each open sender an owner must fix (few: one query each)."""
    owned = (s for s in states if s.verdict.status == "legacy_active" and needs_owner(s))
    return {s.user_id: [e.recipient for e in svc.ledger.for_user(s.user_id)] for s in owned}


def _send_digest(svc: Services, stamp: datetime) -> StepResult:
    settings = svc.settings
    if svc.sender is None or not settings.digest_recipients:
        return StepResult(DigestFigures(), "no digest: LAM_DIGEST_RECIPIENTS is empty or LAM_NOTIFY_MODE is 'off'")
    states = svc.users.query()
    digest = build_digest(
        states,
        svc.findings(states),
        svc.ledger.since(stamp - timedelta(days=1)),
        svc.runs.recent(200),
        stamp,
        svc.ledger.in_state("refused"),
        settings.messages.owners,
        _told_about_senders(svc, states),
    )
    if digest.empty and not settings.digest_send_empty:
        return StepResult(
            DigestFigures(),
            "nothing new in the last day: digest not sent (LAM_DIGEST_SEND_EMPTY=true to send anyway)",
        )
    sent = already = 0
    for recipient in settings.digest_recipients:
        entry = LedgerEntry(
            user_id=digest_ledger_user(recipient),
            message_id=f"digest-{digest.day}",
            operation_id=str(uuid.uuid4()),
            state="sending",
            template=DIGEST,
            locale="en",
            recipient=recipient,
            created_at=stamp,
        )
        try:
            entry = svc.ledger.begin(entry)
        except LedgerConflictError:
            already += 1  # today's digest already went (or is being settled) for this recipient
            continue
        email = compose_digest(digest, recipient, DIGEST_FOOTER)
        svc.sender.send(email, entry.operation_id)
        svc.ledger.complete(replace(entry, state=svc.sender.ledger_state, completed_at=stamp))
        sent += 1
    return StepResult(DigestFigures(recipients=sent, already_sent=already), emails=sent)
