"""Identifiers and vocabularies fixed by Microsoft, kept in one place."""

from typing import Final

APPLE_APP_ID: Final = "f8d98a96-0999-43f5-8af3-69971c7bb423"
"""Apple's multi-tenant app, shown as "Apple Internet Accounts" (before 2020: "iOS Accounts")."""
APPLE_APP_NAMES: Final = ("Apple Internet Accounts", "iOS Accounts")

EXCHANGE_ONLINE_APP_ID: Final = "00000002-0000-0ff1-ce00-000000000000"
EAS_SCOPE: Final = "EAS.AccessAsUser.All"

EXCHANGE_ACTIVESYNC: Final = "Exchange ActiveSync"
AUTHENTICATED_SMTP: Final = "Authenticated SMTP"
"""SMTP AUTH client submission. Not "SMTP": a filter on that value never matches a sign-in."""
EXCHANGE_WEB_SERVICES: Final = "Exchange Web Services"

LEGACY_CLIENT_APPS: Final = frozenset(
    name.casefold()
    for name in (
        "Exchange ActiveSync",
        "Authenticated SMTP",
        "IMAP4",
        "POP3",
        "Exchange Web Services",
        "Autodiscover",
        "MAPI over HTTP",
        "Offline Address Book",
        "Outlook Anywhere (RPC over HTTP)",
        "Outlook Service",
        "Reporting Web Services",
        "Exchange Online PowerShell",
        "Other clients",
    )
)
"""clientAppUsed values that mean basic (legacy) authentication, compared case-insensitively."""

MODERN_CLIENT_APPS: Final = frozenset(("browser", "mobile apps and desktop clients"))
"""clientAppUsed values of modern authentication. The Apple app's first sign-in may be "Browser"."""
