"""Users who must never be mailed: on the exclusion list, disabled, guests, not found, or without a mailbox."""

from __future__ import annotations

from core.config import RuleConfig
from core.records import DirectoryUser, Evidence
from rules import links
from rules.rule import Reason, Rule

RULE = Rule(
    name="exclusion",
    version="1",
    summary="Kept for the record, never mailed.",
    reasons=(
        Reason(
            "not_in_directory",
            "info",
            "The signing-in account is not in the directory (deleted since), so there is no one to mail.",
            "None: the record is kept for the audit trail.",
        ),
        Reason(
            "excluded_by_setting",
            "info",
            "The account is on the exclusion list (LAM_EXCLUDED_UPNS), such as a service account or a room.",
            "None; take it off LAM_EXCLUDED_UPNS to have the user judged and mailed like everyone else.",
        ),
        Reason(
            "account_disabled",
            "info",
            "The account is disabled in Entra ID, so it is never mailed.",
            "None while it stays disabled; once re-enabled, the user is judged and mailed as usual.",
        ),
        Reason(
            "guest_account",
            "info",
            "The account is a guest: it has no mailbox of this tenant to write to.",
            "Block legacy authentication with Conditional Access if the guest's legacy sign-ins go on.",
            links.CA_BLOCK_LEGACY,
        ),
        Reason(
            "no_mailbox",
            "info",
            "The account has no mailbox (no mail address), so there is no address to write to.",
            "Find out what signs in with this account (often a shared or service account) and fix it there.",
        ),
    ),
)


def exclusion_reasons(user: DirectoryUser | None, evidence: Evidence, config: RuleConfig) -> tuple[str, ...]:
    if user is None:
        return ("not_in_directory",)
    reasons: list[str] = []
    upns = {user.upn.casefold(), evidence.upn.casefold()} - {""}
    if upns & config.excluded_upns:
        reasons.append("excluded_by_setting")
    if not user.account_enabled:
        reasons.append("account_disabled")
    if user.user_type.casefold() == "guest":
        reasons.append("guest_account")
    if not user.mail:
        reasons.append("no_mailbox")
    return tuple(reasons)
