"""Tenant readiness: the Apple app and its consent, the user consent policy, the CA legacy block."""

from __future__ import annotations

import asyncio
from datetime import datetime

from collectors.apple_app import check_apple_app
from collectors.tenant_policy import check_legacy_block, check_user_consent
from core.clock import utcnow
from core.records import AppleAppStatus, ConsentPolicy, LegacyBlockPolicy
from core.runs import ReadinessFigures, RunRecord, StepResult
from pipeline.wiring import Services, recorded
from rules.readiness import user_emails_may_go


async def check_apple_app_step(svc: Services, now: datetime | None = None) -> RunRecord:
    """Tenant readiness: the Apple app and its consent, the user consent policy, the CA legacy block."""

    async def body(stamp: datetime) -> StepResult:
        status = await check_apple_app(svc.graph)
        consent = await check_user_consent(svc.graph)
        legacy_block = await check_legacy_block(svc.graph)
        writes = await asyncio.to_thread(_save, svc, status, consent, legacy_block, stamp)
        message = ""
        if not user_emails_may_go(status, consent):
            message = (
                "Apple Internet Accounts is not in the tenant"
                if not status.present
                else "Apple Internet Accounts has no admin consent for EAS.AccessAsUser.All"
            ) + " and users cannot consent themselves: user emails are held until an admin grants consent"
        figures = ReadinessFigures(
            apple_app_present=status.present,
            admin_consent=status.admin_consent,
            users_can_consent=bool(consent.users_can_consent),
            ca_legacy_block_policies=len(legacy_block.blocking),
        )
        return StepResult(figures, message, writes=writes)

    return await recorded(svc, "apple-app", now or utcnow(), body)


def _save(
    svc: Services, status: AppleAppStatus, consent: ConsentPolicy, legacy_block: LegacyBlockPolicy, stamp: datetime
) -> int:
    tenant = svc.tenant
    saved = (tenant.save_apple_app(status, stamp), tenant.save_user_consent(consent, stamp))
    return sum(saved) + tenant.save_legacy_block(legacy_block, stamp)
