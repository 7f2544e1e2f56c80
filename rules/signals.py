"""Small pure facts about one sign-in that several rules share."""

from __future__ import annotations

import functools
import ipaddress
from datetime import datetime

from rules.user_agent import parse_user_agent, platform_of_system

CREDENTIAL_ERROR_CODES = frozenset(
    {
        50126,  # invalid username or password
        50034,  # the account does not exist in the directory
        50053,  # account locked, or sign-in blocked from a malicious IP
        50055,  # password expired
        50056,  # invalid or missing password
    }
)
"""Errors of a wrong credential: what a password spray produces, unlike a policy refusal (e.g. 53003)."""

POLICY_ERROR_CODES = frozenset(
    {
        53000,  # the device is not compliant
        53001,  # the device is not domain-joined
        53002,  # the app is not an approved client app
        53003,  # access blocked by Conditional Access
        53004,  # proof-up (MFA registration) blocked
        50097,  # device authentication required
        50131,  # the device is not in the required state
        530003,  # the device must be managed
        50076,  # multi-factor authentication required (after the password was accepted)
        50079,  # the user must enrol for multi-factor authentication
        50158,  # an external security challenge was not satisfied
    }
)
"""Refusals decided by policy after the password was checked: whoever sent it knew the password."""

NO_AGENT = "(none)"
"""The key under which attempts without a user agent are counted (v1.0 has no userAgent at all)."""
SCRIPT_BROWSERS = (
    "python",
    "curl",
    "go-http-client",
    "okhttp",
    "java/",
    "powershell",
    "wget",
    "axios",
    "node",
    "exchangeservicesclient",
)
"""deviceDetail.browser values and agents of scripts and HTTP libraries: not a phone's mail app. The EWS Managed
API's default agent is "ExchangeServicesClient/" + its build (OfficeDev/ews-managed-api Core/ExchangeServiceBase.cs)."""


def refused_by_policy(failure_codes: dict[str, int], credential_failures: int) -> bool:
    """Failures that policy refused after the password was accepted, and none that guessed it wrong."""
    return credential_failures == 0 and any(
        code.isdigit() and int(code) in POLICY_ERROR_CODES for code in failure_codes
    )


@functools.lru_cache(maxsize=1 << 16)
def network_of(ip: str) -> str:
    """The source network used as the "IP family" of a device: IPv4 /24, IPv6 /48."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return "unknown"
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def is_mail_client(user_agent: str) -> bool:
    """A user agent that a real mail app sends (Apple Mail, Android and vendor clients, Windows Mail, ...)."""
    return parse_user_agent(user_agent).is_mail_client


def hour_of(moment: datetime) -> str:
    """The UTC hour an attempt falls in, the key of ``Evidence.hours``."""
    return f"{moment:%Y-%m-%dT%H}"


def system_key(operating_system: str, browser: str) -> str:
    """deviceDetail's "operatingSystem / browser", the key of ``Evidence.systems`` ("" when both are empty)."""
    system, client = operating_system.strip(), browser.strip()
    return f"{system} / {client}" if system or client else ""


@functools.lru_cache(maxsize=1 << 12)
def system_platform(key: str) -> str | None:
    """The mail platform a deviceDetail key names ("Ios / Mobile Safari" → ios); None for a script, a
    desktop browser OS we cannot tie to a mail app, or nothing at all."""
    system, _, browser = key.partition(" / ")
    if any(marker in browser.casefold() for marker in SCRIPT_BROWSERS):
        return None
    return platform_of_system(system)
