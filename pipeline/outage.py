"""One line for the admin when the state tables cannot be reached or refuse us: where, and what to do.

The CLI prints it and exits 2; the admin views answer it as a 503. The line names the setting and the
table endpoint, never the connection string itself (it holds the account key).
"""

from __future__ import annotations

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from pipeline.settings import Settings, connection_string_keys

QUICK_CONNECT_RETRIES = 1
"""Connection retries for the admin views and the CLI's reads: an outage is answered in about a second
(the timers keep the SDK's patient default)."""


def tables_location(settings: Settings) -> str:
    """The setting in use and the table endpoint it names, without any key or signature."""
    if settings.tables_connection_string:
        keys = connection_string_keys(settings.tables_connection_string)
        if keys.get("usedevelopmentstorage", "").casefold() == "true":
            endpoint = "http://127.0.0.1:10002/devstoreaccount1"
        else:
            endpoint = keys.get("tableendpoint") or f"the table endpoint of account {keys.get('accountname', '?')}"
        return f"{endpoint} (LAM_TABLES_CONNECTION_STRING)"
    return f"{settings.tables_endpoint} (LAM_TABLES_ENDPOINT)"


def storage_problem(exc: BaseException, settings: Settings) -> str | None:
    """What went wrong with the state tables, as one line naming the setting; None if ``exc`` is not that."""
    where = tables_location(settings)
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return (
            f"state tables unreachable at {where}: {_reason(exc)}. Start Azurite "
            "(see README.md, 'Run it locally') or correct the setting."
        )
    if isinstance(exc, ClientAuthenticationError) or (isinstance(exc, HttpResponseError) and exc.status_code == 403):
        return (
            f"state tables refused access at {where}: check the account key in the connection string, or "
            "that your identity has the Storage Table Data Reader role (docs/deploy.md)."
        )
    if isinstance(exc, ResourceNotFoundError) and "TableNotFound" in str(getattr(exc, "error_code", None) or exc):
        return f"state tables not created yet at {where}: run `python -m cli run --once` first."
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    for known in ("Connection refused", "Name or service not known", "timed out", "No route to host"):
        if known in text:
            return known.lower()
    return text[:160]
