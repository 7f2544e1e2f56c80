"""The narrow configuration each floor above needs, with its defaults written once.

Rules get ``RuleConfig`` and the notifier ``MessagePolicy``: only the values they use, no endpoints
and no secrets. The pipeline's Settings (pipeline/settings.py) reads them from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleConfig:
    """What the verdict rules may be tuned with."""

    stale_days: int = 60
    remediation_quiet_hours: int = 24
    spray_min_accounts: int = 5
    device_min_attempts: int = 2
    device_max_networks: int = 3
    excluded_upns: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MessagePolicy:
    """Who is mailed what, when, and how fast: the notifier's whole configuration."""

    contact_line: str = ""
    """The closing line of every user email; empty: the email's own line, in the reader's language."""
    default_locale: str = "en"
    reminder_days: tuple[int, ...] = (3, 7)
    """Days after the first message to remind a user still on legacy; at most 1 + len(...) messages."""
    allowed_recipients: frozenset[str] = frozenset()
    """Pilot allow-list: addresses or @domains; empty means everyone."""
    send_per_minute: int = 5
    send_per_hour: int = 10
    notify_max_seconds: int = 240
    send_confirmation: bool = False
    sender_owners: tuple[tuple[str, str], ...] = ()
    """The owner map (LAM_SENDER_OWNERS): sender account UPN (casefolded) → the address of who must act."""

    @property
    def owners(self) -> dict[str, str]:
        return dict(self.sender_owners)
