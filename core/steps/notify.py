"""Send what is due to users (after settling crashed sends), and the admins' daily digest."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from core.clock import utcnow
from core.services import Services, recorded
from notify.digest import DIGEST, build_digest, compose_digest, digest_ledger_user
from notify.notifier import notify_due
from notify.reconcile import reconcile
from rules.readiness import user_emails_may_go
from store.notifications import LedgerConflictError, LedgerEntry
from store.runs import RunRecord


async def notify_step(svc: Services, now: datetime | None = None) -> RunRecord:
    async def body(run: RunRecord) -> None:
        if svc.sender is None:
            run.message = "LAM_NOTIFY_MODE is 'off': nothing sent"
            return
        settled = reconcile(svc.ledger, svc.sender, run.started_at)
        before = svc.users.load_all()
        may_go = user_emails_may_go(svc.tenant.load_apple_app(), svc.tenant.load_user_consent())
        result = notify_due(before.values(), may_go, svc.settings, svc.ledger, svc.sender, run.started_at)
        run.emails = result.delivered
        run.writes = svc.users.save_changed(result.updated, before)
        run.details = {
            "failed": result.failed,
            "unconfirmed": result.unconfirmed,
            "settled_sent": settled.sent,
            "settled_not_sent": settled.not_sent,
            **result.held,
        }
        if result.held.get("held_tenant_not_ready"):
            run.message = "emails held: the Apple app is missing or has no admin consent"
        if result.errors:
            raise SendFailuresError(
                f"{result.failed} of {result.failed + result.delivered} sends failed: {result.errors[0]}"
            )

    return await recorded(svc, "notify", now or utcnow(), body)


class SendFailuresError(RuntimeError):
    pass


async def digest_step(svc: Services, now: datetime | None = None) -> RunRecord:
    """The admin digest, once a day per recipient (the ledger keeps it to one)."""

    async def body(run: RunRecord) -> None:
        settings = svc.settings
        if svc.sender is None or not settings.digest_recipients:
            run.message = "no digest: LAM_DIGEST_RECIPIENTS is empty or LAM_NOTIFY_MODE is 'off'"
            return
        stamp = run.started_at
        states = svc.users.query()
        findings = svc.tenant.findings(sum(1 for s in states if s.verdict.status == "legacy_active"))
        digest = build_digest(
            states, findings, svc.ledger.since(stamp - timedelta(days=1)), svc.runs.recent(200), stamp
        )
        if digest.empty and not settings.digest_send_empty:
            run.message = "nothing new in the last day: digest not sent (LAM_DIGEST_SEND_EMPTY=true to send anyway)"
            return
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
                svc.ledger.begin(entry)
            except LedgerConflictError:
                continue  # today's digest already went (or is being settled) for this recipient
            email = compose_digest(
                digest, recipient, "Details: the dashboard at /api/dashboard, or `python -m cli report`."
            )
            svc.sender.send(email, entry.operation_id)
            svc.ledger.complete(replace(entry, state=svc.sender.ledger_state, completed_at=stamp))
            run.emails += 1

    return await recorded(svc, "digest", now or utcnow(), body)
