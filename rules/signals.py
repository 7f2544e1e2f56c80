"""Small pure facts about one sign-in that several rules share."""

from __future__ import annotations

import functools
import ipaddress

from rules.user_agent import parse_user_agent

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

MAIL_CLIENT_PLATFORMS = frozenset({"ios", "ipados", "macos", "android"})


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
    """A user agent that a real EAS mail app sends (Apple Mail, Android vendor clients)."""
    return parse_user_agent(user_agent).platform in MAIL_CLIENT_PLATFORMS
