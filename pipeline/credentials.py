"""The one place that picks how the monitor proves who it is, for Graph, Exchange, the tables and ACS.

In Azure: the user-assigned managed identity (LAM_MANAGED_IDENTITY_CLIENT_ID); on an admin's machine:
DefaultAzureCredential (LAM_GRAPH_AUTH=default); against the loopback simulator: no token at all
(LAM_GRAPH_AUTH=none), with Azurite's connection string and the simulator's ACS key instead.
"""

from __future__ import annotations

from typing import Any

from pipeline.settings import Settings


def async_credential(settings: Settings) -> Any | None:
    """For Graph and Exchange (async clients); None when no token is to be sent (loopback)."""
    if settings.graph_auth == "none":
        return None
    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

    if settings.graph_auth == "managed-identity":
        return ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
    return DefaultAzureCredential()


def sync_credential(settings: Settings) -> Any:
    """For the tables and ACS (sync clients) when no local key or connection string is set."""
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if settings.graph_auth == "managed-identity":
        return ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
    return DefaultAzureCredential()


def acs_credential(settings: Settings) -> Any:
    """The simulator's access key locally; the identity in Azure."""
    if settings.acs_key:
        from azure.core.credentials import AzureKeyCredential

        return AzureKeyCredential(settings.acs_key)
    return sync_credential(settings)
