"""What the user should do, by device and iOS version: the codes the email templates are chosen by."""

from __future__ import annotations

from rules import links
from rules.rule import Reason, Rule
from rules.user_agent import DeviceInfo

RULE = Rule(
    name="advice",
    version="1",
    summary="Version-aware remediation steps for the device seen in the latest legacy sign-in.",
    reasons=(
        Reason(
            "update_ios_first",
            "low",
            "The device runs iOS below 12, which cannot do modern authentication: it must be updated first.",
            "The user updates iOS, then removes and re-adds the account (the email gives the steps).",
            links.APPLE_MAIL_MIGRATION,
        ),
        Reason(
            "remove_and_readd",
            "info",
            "Removing the Exchange account from the device and adding it again sets it up with modern authentication.",
            "The user removes and re-adds the account (the email gives the steps).",
            links.APPLE_MAIL_MIGRATION,
        ),
        Reason(
            "migration_blocked",
            "medium",
            "iOS 15.6 or later would have migrated the profile itself: consent, an MDM profile forcing basic "
            "authentication, or a restored profile blocked it.",
            "Check that Apple Internet Accounts has admin consent and that no MDM profile forces basic "
            "authentication; the user re-adds the account.",
            links.APPLE_MAIL_MIGRATION,
        ),
        Reason(
            "clear_safari_data",
            "info",
            "A sign-in page that gets stuck while re-adding the account is stale Safari data.",
            "The user clears Safari's history and website data, then re-adds the account.",
        ),
        Reason(
            "readd_in_internet_accounts",
            "info",
            "macOS Mail: the account is re-added in Internet Accounts.",
            "The user removes the Exchange account in Internet Accounts and adds it again.",
            links.APPLE_MAIL_MIGRATION,
        ),
        Reason(
            "readd_with_modern_auth",
            "info",
            "Another Exchange ActiveSync client: the account is re-added with a modern (OAuth) sign-in.",
            "The user re-adds the account choosing the modern sign-in, or switches to Outlook Mobile.",
            links.BASIC_AUTH_DEPRECATION,
        ),
    ),
)


def advice_for(device: DeviceInfo) -> tuple[str, ...]:
    if device.platform == "macos":
        return ("readd_in_internet_accounts",)
    if device.platform in ("ios", "ipados") and device.os_major is not None:
        if device.os_major < 12:
            return ("update_ios_first", "remove_and_readd")
        if (device.os_major, device.os_minor or 0) < (15, 6):
            return ("remove_and_readd",)
        # iOS 15.6+ would have migrated the profile itself: consent, an MDM profile forcing basic
        # auth, or a restored profile blocked it. Re-adding works; a stuck sign-in page is Safari data.
        return ("migration_blocked", "remove_and_readd", "clear_safari_data")
    if device.platform in ("ios", "ipados"):
        return ("remove_and_readd",)
    return ("readd_with_modern_auth",)
