"""What a recipient of ACS mail would receive: each accepted message, as ACS would deliver it, in the outbox.

Built here from the ACS request body alone, with the standard library, not with notify/'s own .eml code:
the tests read these files as the user's inbox, so they must not share the sender's mistakes.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from pathlib import Path
from typing import Any


def deliver(outbox: Path, name: str, request: dict[str, Any], operation_id: str) -> Path:
    """Write the message of one ``POST /emails:send`` body to ``outbox/name.eml`` (atomically)."""
    to = request["recipients"]["to"][0]
    content = request["content"]
    received = EmailMessage(policy=policy.SMTP)
    received["From"] = request["senderAddress"]
    received["To"] = formataddr((to.get("displayName") or "", to["address"]))
    received["Subject"] = content["subject"]
    received["Date"] = formatdate(usegmt=True)
    received["X-Ms-Operation-Id"] = operation_id
    received.set_content(content.get("plainText") or "")
    if content.get("html"):
        received.add_alternative(content["html"], subtype="html")
    outbox.mkdir(parents=True, exist_ok=True)
    partial, path = outbox / f"{name}.eml.part", outbox / f"{name}.eml"
    partial.write_bytes(received.as_bytes(policy=policy.SMTP.clone(max_line_length=998)))
    partial.replace(path)
    return path
