"""What the user should do, by device and iOS version: the codes the email templates are chosen by."""

from __future__ import annotations

from rules.rule import Rule
from rules.user_agent import DeviceInfo

RULE = Rule(
    name="advice",
    version="1",
    summary="Version-aware remediation steps for the device seen in the latest legacy sign-in.",
    reasons=(
        "update_ios_first",
        "remove_and_readd",
        "migration_blocked",
        "clear_safari_data",
        "readd_in_internet_accounts",
        "readd_with_modern_auth",
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
