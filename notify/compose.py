"""Render the remediation email from Jinja2 templates: HTML (autoescaped) and plain text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from core.config import MessagePolicy
from core.records import DirectoryUser, UserState
from notify.labels import device_words, local_date, local_month
from rules import protocols, senders
from rules.cadence import CONFIRMATION, REMEDIATION
from rules.devices import primary_user_agent
from rules.locale import choose_locale
from rules.user_agent import parse_user_agent

TEMPLATES = Path(__file__).parent / "templates"
SENDER = "sender"
"""The email about a sender (SMTP AUTH, or a device or application on IMAP, POP or EWS), to the person or to
its owner (sender.txt/.html, _smtp.*.j2)."""
CONTENT = {REMEDIATION: "_content", CONFIRMATION: "_confirm", SENDER: "_smtp"}


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
def template_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["one_line"] = one_line  # text bodies: a value from outside cannot forge a line of its own
    return env


def available_locales(kind: str = REMEDIATION) -> frozenset[str]:
    """A locale exists when its whole content file does: a translation is used complete or not at all."""
    return frozenset(p.name.split(".")[1] for p in TEMPLATES.glob(f"{CONTENT[kind]}.*.j2"))


def _recipient(state: UserState) -> DirectoryUser:
    user = state.directory
    if user is None or not user.mail:
        raise ValueError(f"user {state.user_id} has no mailbox address; it cannot be mailed")
    return user


def _locale(kind: str, user: DirectoryUser, policy: MessagePolicy) -> str:
    return choose_locale(user.preferred_language, user.usage_location, policy.default_locale, available_locales(kind))


def _render(
    kind: str,
    template: str,
    user: DirectoryUser,
    policy: MessagePolicy,
    context: dict[str, object],
    locale: str | None = None,
) -> OutgoingEmail:
    locale = locale or _locale(kind, user, policy)
    content = f"{CONTENT[kind]}.{locale}.j2"
    context = {
        "display_name": one_line(user.display_name or user.upn),
        "upn": one_line(user.upn),
        "contact_line": policy.contact_line,
        "content": content,
        **context,
    }
    env = template_environment()
    return OutgoingEmail(
        to_address=user.mail or "",
        to_name=one_line(user.display_name),
        subject=one_line(str(vars(env.get_template(content).make_module(context))["subject"])),
        text=env.get_template(f"{kind}.txt").render(context),
        html=env.get_template(f"{kind}.html").render(context),
        template=template,
        locale=locale,
    )


def one_line(value: str) -> str:
    """``value`` on one line: a CR/LF in a UPN, a name or an error text from outside must not start a new
    header (nor make the mail library refuse the message), nor a line of its own in a text body."""
    return " ".join(str(value).split())


def compose_confirmation(state: UserState, policy: MessagePolicy) -> OutgoingEmail:
    """The optional thank-you once a user is remediated."""
    return _render(CONFIRMATION, CONFIRMATION, _recipient(state), policy, {})


def compose_remediation(
    state: UserState, policy: MessagePolicy, reminder: int = 0, first_sent: datetime | None = None
) -> OutgoingEmail:
    """The message to a legacy_active user: which device, and how to re-add the account.
    ``reminder`` is 0 for the first message, then 1, 2, ..."""
    user = _recipient(state)
    device = parse_user_agent(primary_user_agent(state))
    locale = _locale(REMEDIATION, user, policy)
    words = device_words(state)
    context: dict[str, object] = {
        "device": words.name,
        "device_short": words.short,
        "account_since": local_date(words.account_since, locale),
        "came_by_backup": words.came_by_backup,
        "is_mac": device.platform == "macos",
        "is_other_client": "readd_with_modern_auth" in state.verdict.advice,
        "update_first": "update_ios_first" in state.verdict.advice,
        "clear_safari": "clear_safari_data" in state.verdict.advice,
        "advice": state.verdict.advice,
        "last_seen": local_date(state.evidence.last_legacy_at, locale),
        "reminder": reminder,
        "first_sent": local_date(first_sent, locale),
    }
    template = REMEDIATION if not reminder else f"{REMEDIATION}-reminder"
    return _render(REMEDIATION, template, user, policy, context)


def compose_sender_notice(
    state: UserState,
    to: DirectoryUser,
    role: str,
    policy: MessagePolicy,
    today: date,
    reminder: int = 0,
    first_sent: datetime | None = None,
) -> OutgoingEmail:
    """The message about a sender: an SMTP AUTH sender to the person (``role`` "user") about their own mail
    app, or to the owner or manager of a device's, an application's or a shared mailbox's account (on SMTP
    AUTH, IMAP, POP or EWS), with the ways out its advice codes name."""
    if not to.mail:
        raise ValueError(f"the recipient for {state.user_id} has no mailbox address; it cannot be mailed")
    kind = senders.wording_kind(state.verdict)
    if kind not in ("person", "device", "application"):
        raise ValueError(f"user {state.user_id} is not a sender to mail about")
    retirement = senders.sender_protocol(state.evidence) or protocols.SMTP_AUTH
    deadline = retirement.deadline
    locale = _locale(SENDER, to, policy)
    last_success = state.evidence.last_success_at
    context: dict[str, object] = {
        "account": one_line(state.upn),
        "kind": kind,
        "shared": senders.kind_of(state.verdict) == "shared",
        "role": role,
        "protocol": retirement.client_app,
        "advice": state.verdict.advice,
        "succeeded": state.evidence.legacy_success > 0,
        "last_success": local_date(last_success, locale),
        "deadline_month": local_month(deadline or today, locale),
        "deadline_day": local_date(deadline, locale),
        "days_left": max((deadline - today).days, 0) if deadline else 0,
        "refusal": retirement.refusal,
        "reminder": reminder,
        "first_sent": local_date(first_sent, locale),
    }
    template = SENDER if not reminder else f"{SENDER}-reminder"
    return _render(SENDER, template, to, policy, context, locale)
