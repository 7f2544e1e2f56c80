"""Tenant readiness: the Apple app and its consent, the user consent policy, the CA legacy block."""

from __future__ import annotations

from datetime import datetime

from collectors.apple_app import check_apple_app
from collectors.tenant_policy import check_legacy_block, check_user_consent
from core.clock import utcnow
from core.services import Services, recorded
from rules.readiness import user_emails_may_go
from store.runs import RunRecord


async def check_apple_app_step(svc: Services, now: datetime | None = None) -> RunRecord:
    """Tenant readiness: the Apple app and its consent, the user consent policy, the CA legacy block."""

    async def body(run: RunRecord) -> None:
        stamp = run.started_at
        status = await check_apple_app(svc.graph)
        consent = await check_user_consent(svc.graph)
        legacy_block = await check_legacy_block(svc.graph)
        run.writes = sum(
            (
                svc.tenant.save_apple_app(status, stamp),
                svc.tenant.save_user_consent(consent, stamp),
                svc.tenant.save_legacy_block(legacy_block, stamp),
            )
        )
        run.details = {
            "present": int(status.present),
            "admin_consent": int(status.admin_consent),
            "users_can_consent": int(bool(consent.users_can_consent)),
            "ca_legacy_block": len(legacy_block.blocking),
        }
        if not user_emails_may_go(status, consent):
            run.message = (
                "Apple Internet Accounts is not in the tenant"
                if not status.present
                else "Apple Internet Accounts has no admin consent for EAS.AccessAsUser.All"
            ) + " and users cannot consent themselves: user emails are held until an admin grants consent"

    return await recorded(svc, "apple-app", now or utcnow(), body)
