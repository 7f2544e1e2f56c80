"""Builders for Graph-shaped payloads, so scenarios read as facts and the JSON matches Graph's resources."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from core.clock import graph_time
from core.constants import APPLE_APP_ID, EXCHANGE_ONLINE_APP_ID

EXO_DISPLAY_NAME = "Office 365 Exchange Online"


def user(
    user_id: str,
    upn: str,
    display_name: str,
    *,
    mail: str | None = "",
    proxy_addresses: list[str] | None = None,
    enabled: bool = True,
    user_type: str = "Member",
    preferred_language: str | None = "en-US",
    usage_location: str | None = "US",
) -> dict[str, Any]:
    address = upn if mail == "" else mail
    return {
        "id": user_id,
        "userPrincipalName": upn,
        "displayName": display_name,
        "mail": address,
        "proxyAddresses": proxy_addresses if proxy_addresses is not None else ([f"SMTP:{address}"] if address else []),
        "preferredLanguage": preferred_language,
        "usageLocation": usage_location,
        "accountEnabled": enabled,
        "userType": user_type,
    }


def sign_in(
    sign_in_id: str,
    when: datetime,
    who: dict[str, Any],
    *,
    client_app: str,
    app_id: str = EXCHANGE_ONLINE_APP_ID,
    app_name: str = EXO_DISPLAY_NAME,
    error_code: int = 0,
    failure_reason: str | None = None,
    ip: str = "203.0.113.10",
    user_agent: str = "",
    operating_system: str = "Ios",
    browser: str = "",
    country: str = "US",
) -> dict[str, Any]:
    """A signIn resource as Graph's beta endpoint returns it (v1.0 drops userAgent and signInEventTypes)."""
    return signin_record(
        sign_in_id,
        graph_time(when),
        who,
        client_app=client_app,
        app_id=app_id,
        app_name=app_name,
        error_code=error_code,
        failure_reason=failure_reason,
        ip=ip,
        user_agent=user_agent,
        operating_system=operating_system,
        browser=browser,
        country=country,
        correlation_id=str(uuid.uuid5(uuid.NAMESPACE_URL, sign_in_id)),
    )


def signin_record(
    sign_in_id: str,
    created: str,
    who: dict[str, Any],
    *,
    client_app: str,
    app_id: str,
    app_name: str,
    error_code: int,
    failure_reason: str | None,
    ip: str,
    user_agent: str,
    operating_system: str,
    country: str,
    correlation_id: str,
    browser: str = "",
) -> dict[str, Any]:
    """Every field of a signIn record as a page carries them (most of them unused by the monitor)."""
    return {
        "id": sign_in_id,
        "createdDateTime": created,
        "userDisplayName": who["displayName"],
        "userPrincipalName": who["userPrincipalName"],
        "userId": who["id"],
        "appId": app_id,
        "appDisplayName": app_name,
        "ipAddress": ip,
        "clientAppUsed": client_app,
        "userAgent": user_agent,
        "correlationId": correlation_id,
        "conditionalAccessStatus": "notApplied",
        "isInteractive": True,
        "signInEventTypes": ["interactiveUser"],
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskState": "none",
        "resourceDisplayName": EXO_DISPLAY_NAME,
        "resourceId": EXCHANGE_ONLINE_APP_ID,
        "status": {
            "errorCode": error_code,
            "failureReason": failure_reason or ("Other." if error_code == 0 else "Sign-in failed."),
            "additionalDetails": None,
        },
        "deviceDetail": {
            "deviceId": "",
            "displayName": "",
            "operatingSystem": operating_system,
            "browser": browser,
            "isCompliant": False,
            "isManaged": False,
            "trustType": "",
        },
        "location": {
            "city": "",
            "state": "",
            "countryOrRegion": country,
            "geoCoordinates": {"altitude": None, "latitude": None, "longitude": None},
        },
        "appliedConditionalAccessPolicies": [],
    }


def service_principal(object_id: str, app_id: str, display_name: str) -> dict[str, Any]:
    return {
        "id": object_id,
        "appId": app_id,
        "displayName": display_name,
        "servicePrincipalType": "Application",
        "accountEnabled": True,
        "appOwnerOrganizationId": "47df5bb7-e6bc-4256-afb0-dd8c8e3c1ce8" if app_id == APPLE_APP_ID else None,
    }


def admin_grant(client_id: str, resource_id: str, scope: str) -> dict[str, Any]:
    return {
        "id": f"grant-{client_id[:8]}-{resource_id[:8]}",
        "clientId": client_id,
        "consentType": "AllPrincipals",
        "principalId": None,
        "resourceId": resource_id,
        "scope": scope,
    }


def legacy_block_policy(name: str, state: str = "enabled") -> dict[str, Any]:
    """A Conditional Access policy blocking legacy clients for everyone, as Graph returns it."""
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        "displayName": name,
        "state": state,
        "conditions": {
            "clientAppTypes": ["exchangeActiveSync", "other"],
            "applications": {"includeApplications": ["All"], "excludeApplications": []},
            "users": {"includeUsers": ["All"], "excludeUsers": [], "includeGroups": [], "excludeGroups": []},
        },
        "grantControls": {"operator": "OR", "builtInControls": ["block"]},
    }


def exchange_mailbox(person: dict[str, Any], name: str, kind: str = "UserMailbox") -> dict[str, Any]:
    """A Get-Mailbox object as Exchange Online's admin API returns it (``kind``: its RecipientTypeDetails)."""
    return {
        "Name": name,
        "Identity": name,
        "DisplayName": person["displayName"],
        "UserPrincipalName": person["userPrincipalName"],
        "PrimarySmtpAddress": person.get("mail") or person["userPrincipalName"],
        "ExternalDirectoryObjectId": person["id"],
        "RecipientTypeDetails": kind,
    }


def exchange_cas_mailbox(mailbox: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """A Get-CASMailbox object: SmtpClientAuthenticationDisabled blank ($null) and EwsEnabled true unless
    set on the mailbox (Set-CASMailbox's documented defaults)."""
    return {
        "Name": mailbox.get("Name"),
        "Identity": mailbox.get("Identity"),
        "PrimarySmtpAddress": mailbox.get("PrimarySmtpAddress"),
        "ExternalDirectoryObjectId": mailbox.get("ExternalDirectoryObjectId"),
        "SmtpClientAuthenticationDisabled": settings.get("SmtpClientAuthenticationDisabled"),
        "EwsEnabled": settings.get("EwsEnabled", True),
        "ImapEnabled": True,
        "PopEnabled": True,
        "ActiveSyncEnabled": True,
    }


def exchange_device(
    mailbox: dict[str, Any],
    device_id: str,
    *,
    first_sync: datetime,
    last_sync: datetime | None,
    model: str = "iPhone10C1",
    friendly_name: str = "iPhone 8",
    device_os: str = "iOS 16.7.10 20H350",
    device_type: str = "iPhone",
    user_agent: str = "Apple-iPhone10C1/2008.350",
    client_type: str = "EAS",
    client_version: str = "16.1",
) -> dict[str, Any]:
    """A Get-MobileDevice object; LastSuccessSync is what Get-MobileDeviceStatistics adds for it."""
    device_guid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{mailbox['Identity']}/{device_id}"))
    return {
        "Guid": device_guid,
        "Identity": f"{mailbox['Identity']}\\ExchangeActiveSyncDevices\\{device_type}§{device_id}",
        "UserDisplayName": mailbox["Identity"],
        "DeviceId": device_id,
        "FriendlyName": friendly_name,
        "DeviceOS": device_os,
        "DeviceType": device_type,
        "DeviceModel": model,
        "DeviceUserAgent": user_agent,
        "ClientType": client_type,
        "ClientVersion": client_version,
        "DeviceAccessState": "Allowed",
        "FirstSyncTime": f"/Date({int(first_sync.timestamp() * 1000)})/",
        "LastSuccessSync": graph_time(last_sync) if last_sync else None,
    }
