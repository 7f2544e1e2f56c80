"""Render the remediation email from Jinja2 templates: HTML (autoescaped) and plain text."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from core.records import UserState
from core.settings import Settings
from rules.devices import legacy_profile_device
from rules.user_agent import parse_user_agent

TEMPLATES = Path(__file__).parent / "templates"
REMEDIATION = "remediation"


@dataclass(frozen=True)
class OutgoingEmail:
    to_address: str
    to_name: str
    subject: str
    text: str
    html: str
    template: str
    locale: str


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def compose_remediation(state: UserState, settings: Settings) -> OutgoingEmail:
    """The first message to a legacy_active user: which device, and how to re-add the account."""
    user = state.directory
    if user is None or not user.mail:
        raise ValueError(f"user {state.user_id} has no mailbox address; it cannot be mailed")
    partnership = legacy_profile_device(state.devices) if "pre_ios12_profile" in state.verdict.reasons else None
    device = parse_user_agent(partnership.user_agent if partnership else state.evidence.user_agent)
    last_seen = state.evidence.last_legacy_at
    context = {
        "display_name": user.display_name or user.upn,
        "upn": user.upn,
        "device": partnership.label if partnership else device.label if device.platform != "unknown" else "",
        "user_agent": state.evidence.user_agent,
        "is_mac": device.platform == "macos",
        "update_first": "update_ios_first" in state.verdict.advice,
        "clear_safari": "clear_safari_data" in state.verdict.advice,
        "last_seen": last_seen.strftime("%Y-%m-%d") if last_seen else "",
        "contact_line": settings.contact_line,
    }
    env = _environment()
    locale = "en"
    return OutgoingEmail(
        to_address=user.mail,
        to_name=user.display_name,
        subject=env.get_template(f"{REMEDIATION}.{locale}.subject.txt").render(context).strip(),
        text=env.get_template(f"{REMEDIATION}.{locale}.txt").render(context),
        html=env.get_template(f"{REMEDIATION}.{locale}.html").render(context),
        template=REMEDIATION,
        locale=locale,
    )
