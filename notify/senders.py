"""Where a composed email goes: the outbox folder (dry-run) or Azure Communication Services (live)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from core.retry import RetryPolicy
from notify.compose import OutgoingEmail
from notify.eml import build_eml, write_eml

ACS_API_VERSION = "2025-09-01"


class SendError(RuntimeError):
    """ACS refused or failed the send; the message says why."""


class SendThrottledError(SendError):
    """ACS answered 429 after the SDK's own retries: the quota is used up, try in a later run."""


class SenderRefusedError(SendError):
    """Every message would be refused the same way (bad key, sender domain not linked): stop and tell the admin."""


class RecipientRefusedError(SendError):
    """This recipient is refused for good (rejected, suppressed, not a valid address): never retried blindly."""


SENDER_CODES = frozenset({"denied", "domainnotlinked", "invalidsenderusername", "invalidsenderdomain", "unauthorized"})
"""ACS error codes that refuse the sender, whoever the recipient (the key, the linked domain)."""
RECIPIENT_CODES = frozenset({"emaildroppedallrecipientssuppressed", "invalidrecipient", "invalidemailaddress"})
"""ACS error codes that refuse this recipient only."""


def classify_refusal(status: int | None, code: str) -> str:
    """How a failed send should be treated: "throttled", "sender", "recipient" or "transient".

    By ACS's error code first, then by the status: 401/403 refuse the credentials (every send would
    fail), any other 4xx this message; 5xx, timeouts and unknowns are transient and retried."""
    code = code.casefold()
    if status == 429 or code == "toomanyrequests":
        return "throttled"
    if code in SENDER_CODES or status in (401, 403):
        return "sender"
    if code in RECIPIENT_CODES or (status is not None and 400 <= status < 500):
        return "recipient"
    return "transient"


class Sender(Protocol):
    ledger_state: str

    def send(self, email: OutgoingEmail, operation_id: str) -> None: ...

    def delivered(self, operation_id: str) -> bool | None:
        """Did this operation reach the service? True, False (never arrived), None (cannot tell yet)."""
        ...


class OutboxSender:
    """Dry-run: render to .eml files in the outbox folder, send nothing."""

    ledger_state = "dry-run"

    def __init__(self, outbox: Path, sender_address: str) -> None:
        self._outbox = outbox
        self._sender = sender_address

    def delivered(self, operation_id: str) -> bool | None:
        return (self._outbox / f"{operation_id}.eml").exists()

    def send(self, email: OutgoingEmail, operation_id: str) -> None:
        try:
            message = build_eml(
                self._sender, email.to_address, email.to_name, email.subject, email.text, email.html, operation_id
            )
            write_eml(self._outbox, operation_id, message)
        except (ValueError, TypeError, UnicodeError) as exc:  # a header the email library refuses
            raise RecipientRefusedError(f"cannot write a message to {email.to_address!r}: {exc}") from exc


class AcsSender:
    """Live: the real azure-communication-email SDK, our operation id, no per-send status polling."""

    ledger_state = "sent"

    def __init__(self, client: Any, sender_address: str) -> None:
        self._client = client
        self._sender = sender_address

    @classmethod
    def connect(cls, endpoint: str, credential: Any, sender_address: str, retry: RetryPolicy) -> AcsSender:
        """The SDK's client on ``endpoint`` with an AzureKeyCredential (local) or a token credential; its
        retries (which keep the operation id, and obey Retry-After) follow our one retry policy."""
        from azure.communication.email import EmailClient

        client = EmailClient(
            endpoint,
            credential,
            retry_total=retry.max_retries,
            retry_backoff_factor=retry.base_seconds,
            retry_backoff_max=retry.cap_seconds,
        )
        return cls(client, sender_address)

    def delivered(self, operation_id: str) -> bool | None:
        """Ask ACS for the operation (through the SDK's signed pipeline): 404 means it never arrived."""
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest

        request = HttpRequest("GET", f"/emails/operations/{operation_id}", params={"api-version": ACS_API_VERSION})
        try:
            response = self._client.send_request(request)
        except HttpResponseError:
            return None
        if response.status_code == 404:
            return False
        if response.status_code >= 400:
            return None
        status = str(response.json().get("status", "")).casefold()
        return status not in ("failed", "canceled")

    def send(self, email: OutgoingEmail, operation_id: str) -> None:
        from azure.core.exceptions import AzureError, HttpResponseError

        message = {
            "senderAddress": self._sender,
            "recipients": {"to": [{"address": email.to_address, "displayName": email.to_name}]},
            "content": {"subject": email.subject, "plainText": email.text, "html": email.html},
        }
        try:
            self._client.begin_send(message, operation_id=operation_id, polling=False)
        except HttpResponseError as exc:
            code = str(getattr(exc.error, "code", "") or "")
            kind = classify_refusal(exc.status_code, code)
            what = f"ACS answered {exc.status_code} {code}: {_first_line(exc)}".replace(" :", ":")
            if kind == "throttled":
                raise SendThrottledError(f"ACS throttled the send to {email.to_address}: {what}") from exc
            if kind == "sender":
                raise SenderRefusedError(f"ACS refuses our sender {self._sender}: {what}") from exc
            if kind == "recipient":
                raise RecipientRefusedError(f"ACS refused the recipient {email.to_address}: {what}") from exc
            raise SendError(f"ACS failed the send to {email.to_address}: {what}") from exc
        except AzureError as exc:  # no answer at all (connection, timeout) after the SDK's retries
            raise SendError(f"ACS did not answer the send to {email.to_address}: {_first_line(exc)}") from exc


def _first_line(exc: Exception) -> str:
    """The service's own message, one line (the SDK appends the whole body on later lines)."""
    error = getattr(exc, "error", None)
    text = str(getattr(error, "message", "") or getattr(exc, "message", "") or exc)
    return " ".join(text.split("\n", 1)[0].split())
