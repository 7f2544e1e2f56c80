"""Users who must never be mailed: on the exclusion list, disabled, guests, not found, or without a mailbox."""

from __future__ import annotations

from core.records import DirectoryUser, Evidence
from core.settings import Settings
from rules.rule import Rule

RULE = Rule(
    name="exclusion",
    version="1",
    summary="Kept for the record, never mailed.",
    reasons=("not_in_directory", "excluded_by_setting", "account_disabled", "guest_account", "no_mailbox"),
)


def exclusion_reasons(user: DirectoryUser | None, evidence: Evidence, settings: Settings) -> tuple[str, ...]:
    if user is None:
        return ("not_in_directory",)
    reasons: list[str] = []
    upns = {user.upn.casefold(), evidence.upn.casefold()} - {""}
    if upns & settings.excluded_upns:
        reasons.append("excluded_by_setting")
    if not user.account_enabled:
        reasons.append("account_disabled")
    if user.user_type.casefold() == "guest":
        reasons.append("guest_account")
    if not user.mail:
        reasons.append("no_mailbox")
    return tuple(reasons)
