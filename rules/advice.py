"""What the user should do, by device, OS version and hardware: the codes the email templates are chosen by.

The steps and where they live:
- iOS below 12 cannot sign in with modern authentication: update first, if the hardware can reach iOS 12
  (iPhone 5s and 6 can; iPhone 5, 5c, 4s and older cannot: they get what works instead, a newer device or
  Outlook on the web);
- iOS 12 to 15.5: remove the account and add it again;
- iOS 15.6 on would have migrated the profile itself: something blocked it (consent, MDM, a restore);
- where the account settings are depends on the version the steps are done on (``path_*``);
- macOS Mail re-adds the account in Internet Accounts; other clients re-add it with a Microsoft sign-in.
"""

from __future__ import annotations

from rules import links
from rules.devices import MODERN_AUTH_IOS, reaches_modern_auth
from rules.rule import Reason, Rule
from rules.user_agent import APPLE_PLATFORMS, DeviceInfo

RULE = Rule(
    name="advice",
    version="2",
    summary="Version- and hardware-aware remediation steps for the device seen in the latest legacy sign-in.",
    reasons=(
        Reason(
            "update_ios_first",
            "low",
            "The device runs iOS below 12, which cannot do modern authentication, and its hardware can be "
            "updated: it must be updated first.",
            "The user updates iOS, then removes and re-adds the account (the email gives the steps).",
            links.APPLE_MAIL_MIGRATION,
        ),
        Reason(
            "replace_device",
            "medium",
            "The device runs iOS below 12 and its hardware cannot be updated to iOS 12 (iPhone 5, 5c, 4s or "
            "older, iPad 4 or older): its Mail can never sign in with modern authentication.",
            "The user removes the account from that device and reads mail on a newer device or in Outlook on "
            "the web (the email says so); consider a replacement device.",
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
            "Another Exchange client (Android's or a vendor's mail app, Windows Mail, a third-party app): the "
            "account is re-added with a modern (Microsoft) sign-in.",
            "The user re-adds the account choosing the modern sign-in, or switches to Outlook Mobile.",
            links.BASIC_AUTH_DEPRECATION,
        ),
        Reason(
            "path_mail_contacts_calendars",
            "info",
            "The accounts are under Settings > Mail, Contacts, Calendars (iOS 9 and older).",
            "None for the admin: the email walks the user through that place.",
        ),
        Reason(
            "path_passwords_and_accounts",
            "info",
            "The accounts are under Settings > Passwords & Accounts (iOS 12 and 13).",
            "None for the admin: the email walks the user through that place.",
        ),
        Reason(
            "path_mail_accounts",
            "info",
            "The accounts are under Settings > Mail > Accounts (iOS 10, and iOS 14 to 17).",
            "None for the admin: the email walks the user through that place.",
        ),
        Reason(
            "path_apps_mail_accounts",
            "info",
            "The accounts are under Settings > Apps > Mail > Mail Accounts (iOS 18 and 26 on).",
            "None for the admin: the email walks the user through that place.",
        ),
        Reason(
            "path_mac_system_preferences",
            "info",
            "macOS 12 or older: Internet Accounts is in System Preferences (System Settings from macOS 13).",
            "None for the admin: the email walks the user through that place.",
        ),
    ),
)


def settings_path(ios_major: int) -> str:
    """The advice code naming where the accounts are on the iOS version the steps are done on: 9 or older
    (a device that cannot be updated), 10 (idem), or 12 on. Nobody does them on iOS 11 (Settings > Accounts
    & Passwords): it updates first."""
    if ios_major <= 9:
        return "path_mail_contacts_calendars"
    if ios_major == 10 or 14 <= ios_major <= 17:
        return "path_mail_accounts"
    if ios_major <= 13:
        return "path_passwords_and_accounts"
    return "path_apps_mail_accounts"


def advice_for(device: DeviceInfo) -> tuple[str, ...]:
    if device.platform == "macos":
        if device.client not in ("Apple Mail", "Apple Mail (EWS)", ""):
            return ("readd_with_modern_auth",)  # Outlook for Mac and other Mac clients
        older = device.os_major is not None and (device.os_major, device.os_minor or 0) < (13, 0)
        return ("readd_in_internet_accounts", *(("path_mac_system_preferences",) if older else ()))
    if device.platform not in APPLE_PLATFORMS:
        return ("readd_with_modern_auth",)
    reachable = reaches_modern_auth(device)
    if reachable is False:  # the hardware stops below iOS 12: nothing to update to
        now = device.os_major if device.os_major is not None else (device.max_os or (0,))[0]
        return ("replace_device", *((settings_path(now),) if now else ()))
    if device.os_major is None:
        return ("remove_and_readd",)
    if device.os_major < MODERN_AUTH_IOS:
        # The steps happen after the update, on the newest iOS the hardware gets (unknown: no path given).
        after = device.max_os[0] if device.max_os else None
        return ("update_ios_first", "remove_and_readd", *((settings_path(after),) if after else ()))
    path = settings_path(device.os_major)
    if (device.os_major, device.os_minor or 0) < (15, 6):
        return ("remove_and_readd", path)
    # iOS 15.6+ would have migrated the profile itself: consent, an MDM profile forcing basic
    # auth, or a restored profile blocked it. Re-adding works; a stuck sign-in page is Safari data.
    return ("migration_blocked", "remove_and_readd", "clear_safari_data", path)
