"""Build RFC 5322 messages (.eml) with a plain-text and an HTML part, for the outbox and the simulator."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from pathlib import Path

WIRE = policy.SMTP.clone(max_line_length=998)
"""CRLF line ends, and headers folded only past RFC 5322's hard limit: subjects stay readable."""


def build_eml(
    sender: str, to_address: str, to_name: str, subject: str, text: str, html: str, message_id: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((to_name, to_address)) if to_name else to_address
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["X-LAM-Operation-Id"] = message_id
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def write_eml(folder: Path, name: str, message: EmailMessage) -> Path:
    """Write atomically (temp file + rename) so a reader never sees half a message."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.eml"
    temp = path.with_suffix(".eml.part")
    temp.write_bytes(message.as_bytes(policy=WIRE))
    temp.replace(path)
    return path
