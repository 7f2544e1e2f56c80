"""The public documentation that reasons and tenant findings point the admin to (checked to exist)."""

from __future__ import annotations

BASIC_AUTH_DEPRECATION = (
    "https://learn.microsoft.com/en-us/exchange/clients-and-mobile-in-exchange-online/"
    "deprecation-of-basic-authentication-exchange-online"
)
CA_BLOCK_LEGACY = (
    "https://learn.microsoft.com/en-us/entra/identity/conditional-access/policy-block-legacy-authentication"
)
APPLE_MAIL_MIGRATION = (
    "https://techcommunity.microsoft.com/blog/exchange/"
    "microsoft-and-apple-working-together-to-improve-exchange-online-security/3513846"
)
"""The Exchange team on Apple Mail's switch to modern auth: Apple Internet Accounts, consent, re-adding."""
ADMIN_CONSENT = "https://learn.microsoft.com/en-us/entra/identity/enterprise-apps/grant-admin-consent"
USER_CONSENT = "https://learn.microsoft.com/en-us/entra/identity/enterprise-apps/configure-user-consent"
SPRAY_PLAYBOOK = "https://learn.microsoft.com/en-us/security/operations/incident-response-playbook-password-spray"
SIGNIN_ERROR_CODES = "https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes"
SIGNIN_LOGS = "https://learn.microsoft.com/en-us/entra/identity/monitoring-health/concept-sign-ins"
GET_MOBILE_DEVICE = "https://learn.microsoft.com/en-us/powershell/module/exchange/get-mobiledevice"
REMOVE_MOBILE_DEVICE = "https://learn.microsoft.com/en-us/powershell/module/exchange/remove-mobiledevice"
ACS_CUSTOM_DOMAIN = (
    "https://learn.microsoft.com/en-us/azure/communication-services/quickstarts/email/add-custom-verified-domains"
)
SMTP_AUTH_TIMELINE = (
    "https://techcommunity.microsoft.com/blog/exchange/"
    "updated-exchange-online-smtp-auth-basic-authentication-deprecation-timeline/4489835"
)
"""The Exchange team, 2026-01-27: basic SMTP AUTH off by default for existing tenants at the end of December 2026."""
SMTP_DEVICE_OPTIONS = (
    "https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/"
    "how-to-set-up-a-multifunction-device-or-application-to-send-email-using-microsoft-365-or-office-365"
)
"""Microsoft's ways for a printer, scanner or application to send: SMTP AUTH, Direct Send, a connector relay."""
SMTP_OAUTH = (
    "https://learn.microsoft.com/en-us/exchange/client-developer/legacy-protocols/"
    "how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth"
)
SMTP_AUTH_SWITCHES = (
    "https://learn.microsoft.com/en-us/exchange/clients-and-mobile-in-exchange-online/"
    "authenticated-client-smtp-submission"
)
"""Microsoft's "Enable or disable SMTP AUTH in Exchange Online": the organization switch and the per-mailbox one."""
EWS_TO_GRAPH = "https://learn.microsoft.com/en-us/graph/migrate-exchange-web-services-api-mapping"
"""Microsoft Learn: which Microsoft Graph API replaces each EWS operation (the way out of EWS)."""
