"""Render the remediation email from Jinja2 templates: HTML (autoescaped) and plain text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from core.records import UserState
from core.settings import Settings
from rules.devices import describe_device, primary_user_agent
from rules.locale import choose_locale
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


def available_locales() -> frozenset[str]:
    """A locale exists when its whole content file does: a translation is used complete or not at all."""
    return frozenset(p.name.split(".")[1] for p in TEMPLATES.glob("_content.*.j2"))


def compose_remediation(
    state: UserState, settings: Settings, reminder: int = 0, first_sent: datetime | None = None
) -> OutgoingEmail:
    """The message to a legacy_active user: which device, and how to re-add the account.
    ``reminder`` is 0 for the first message, then 1, 2, ..."""
    user = state.directory
    if user is None or not user.mail:
        raise ValueError(f"user {state.user_id} has no mailbox address; it cannot be mailed")
    device = parse_user_agent(primary_user_agent(state))
    last_seen = state.evidence.last_legacy_at
    locale = choose_locale(user.preferred_language, user.usage_location, settings.default_locale, available_locales())
    content = f"_content.{locale}.j2"
    context: dict[str, object] = {
        "display_name": user.display_name or user.upn,
        "upn": user.upn,
        "device": describe_device(state),
        "is_mac": device.platform == "macos",
        "is_other_client": "readd_with_modern_auth" in state.verdict.advice,
        "update_first": "update_ios_first" in state.verdict.advice,
        "clear_safari": "clear_safari_data" in state.verdict.advice,
        "last_seen": last_seen.strftime("%Y-%m-%d") if last_seen else "",
        "contact_line": settings.contact_line,
        "reminder": reminder,
        "first_sent": first_sent.strftime("%Y-%m-%d") if first_sent else "",
        "content": content,
    }
    env = _environment()
    return OutgoingEmail(
        to_address=user.mail,
        to_name=user.display_name,
        subject=str(vars(env.get_template(content).make_module(context))["subject"]).strip(),
        text=env.get_template(f"{REMEDIATION}.txt").render(context),
        html=env.get_template(f"{REMEDIATION}.html").render(context),
        template=REMEDIATION if not reminder else f"{REMEDIATION}-reminder",
        locale=locale,
    )
