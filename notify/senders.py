"""Where a composed email goes: the outbox folder (dry-run) or Azure Communication Services (live)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from core.settings import Settings
from notify.compose import OutgoingEmail
from notify.eml import build_eml, write_eml

ACS_API_VERSION = "2025-09-01"


class SendError(RuntimeError):
    """ACS refused or failed the send; the message says why."""


class SendThrottledError(SendError):
    """ACS answered 429 after the SDK's own retries: the quota is used up, try in a later run."""


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
        message = build_eml(
            self._sender, email.to_address, email.to_name, email.subject, email.text, email.html, operation_id
        )
        write_eml(self._outbox, operation_id, message)


class AcsSender:
    """Live: the real azure-communication-email SDK, our operation id, no per-send status polling."""

    ledger_state = "sent"

    def __init__(self, client: Any, sender_address: str) -> None:
        self._client = client
        self._sender = sender_address

    @classmethod
    def from_settings(cls, settings: Settings) -> AcsSender:
        from azure.communication.email import EmailClient

        endpoint = settings.acs_endpoint or ""
        credential: Any
        if settings.acs_key:
            from azure.core.credentials import AzureKeyCredential

            credential = AzureKeyCredential(settings.acs_key)
        else:
            from azure.identity import ManagedIdentityCredential

            credential = ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
        return cls(EmailClient(endpoint, credential), settings.sender_address or "")

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
        from azure.core.exceptions import HttpResponseError

        message = {
            "senderAddress": self._sender,
            "recipients": {"to": [{"address": email.to_address, "displayName": email.to_name}]},
            "content": {"subject": email.subject, "plainText": email.text, "html": email.html},
        }
        try:
            self._client.begin_send(message, operation_id=operation_id, polling=False)
        except HttpResponseError as exc:
            if exc.status_code == 429:
                raise SendThrottledError(f"ACS throttled the send to {email.to_address}: {exc.message}") from exc
            raise SendError(f"ACS refused the message for {email.to_address}: {exc.message}") from exc


def build_sender(settings: Settings) -> Sender | None:
    if settings.notify_mode == "live":
        return AcsSender.from_settings(settings)
    if settings.notify_mode == "dry-run":
        return OutboxSender(settings.outbox_dir, settings.sender_address or "")
    return None
