"""Build RFC 5322 messages (.eml) with a plain-text and an HTML part, for the outbox and the simulator."""

from __future__ import annotations

from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

WIRE = policy.SMTP.clone(max_line_length=998)
"""CRLF line ends, and headers folded only past RFC 5322's hard limit: subjects stay readable."""
WIRE_UTF8 = policy.SMTPUTF8.clone(max_line_length=998)
"""The same for an internationalized address (jürgen.müller@…), written as UTF-8 (RFC 6532)."""


def build_eml(
    sender: str, to_address: str, to_name: str, subject: str, text: str, html: str, message_id: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = _mailbox(to_name, to_address)
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["X-LAM-Operation-Id"] = message_id
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def _mailbox(name: str, address: str) -> str:
    """``Name <address>``: the name on one line (a CR/LF in a directory name must not add a header),
    quoted by the email library; an internationalized address kept as it is (SMTPUTF8)."""
    name = " ".join(name.split())
    if address.isascii():
        return str(Address(display_name=name, addr_spec=address)) if name else address
    quoted = str(Address(display_name=name, addr_spec="x@x")).rsplit(" <", 1)[0] if name else ""
    return f"{quoted} <{address}>" if quoted else address


def write_eml(folder: Path, name: str, message: EmailMessage) -> Path:
    """Write atomically (temp file + rename) so a reader never sees half a message."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.eml"
    temp = path.with_suffix(".eml.part")
    ascii_only = all(a.addr_spec.isascii() for a in message["To"].addresses)
    temp.write_bytes(message.as_bytes(policy=WIRE if ascii_only else WIRE_UTF8))
    temp.replace(path)
    return path
