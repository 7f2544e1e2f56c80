"""Small, readable tenants for tests, built with the simulator's Graph-shaped builders."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from core.constants import APPLE_APP_ID, AUTHENTICATED_SMTP, EXCHANGE_ACTIVESYNC, EXCHANGE_ONLINE_APP_ID
from sim.graph_shapes import admin_grant, service_principal, sign_in, user
from sim.scenario import Scenario

APPLE_SP = "11111111-2222-4333-8444-555555555555"
EXO_SP = "66666666-7777-4888-9999-aaaaaaaaaaaa"
IPHONE_UA = "Apple-iPhone14C2/2004.47"


def new_id() -> str:
    return str(uuid.uuid4())


TIME_SCALE = 20.0
"""Graph's throttle shape (5 requests per 10 s), twenty times faster, so tests wait half a second."""


def tenant(tenant_id: str, *, apple_present: bool = True, consented: bool = True) -> Scenario:
    scenario = Scenario(tenant_id=tenant_id, time_scale=TIME_SCALE)
    scenario.service_principals = [service_principal(EXO_SP, EXCHANGE_ONLINE_APP_ID, "Office 365 Exchange Online")]
    if apple_present:
        scenario.service_principals.append(service_principal(APPLE_SP, APPLE_APP_ID, "Apple Internet Accounts"))
        if consented:
            scenario.grants.append(admin_grant(APPLE_SP, EXO_SP, "EAS.AccessAsUser.All EWS.AccessAsUser.All"))
    return scenario


def add_user(scenario: Scenario, name: str, **kwargs: Any) -> dict[str, Any]:
    person = user(new_id(), f"{name}@contoso.example", name.replace(".", " ").title(), **kwargs)
    scenario.users.append(person)
    return person


def signins(
    scenario: Scenario,
    person: dict[str, Any],
    last: datetime,
    count: int,
    *,
    every: timedelta,
    client_app: str = EXCHANGE_ACTIVESYNC,
    **fields: Any,
) -> list[dict[str, Any]]:
    """``count`` sign-ins of one client, ``every`` apart, the latest at ``last``; ``fields`` as sign_in takes them."""
    events = [sign_in(new_id(), last - every * i, person, client_app=client_app, **fields) for i in range(count)]
    scenario.sign_ins.extend(events)
    scenario.sort()
    return events


def legacy_signins(
    scenario: Scenario, person: dict[str, Any], last: datetime, count: int, *, error_code: int = 0, ua: str = IPHONE_UA
) -> list[dict[str, Any]]:
    """``count`` legacy EAS sign-ins, one every 6 hours, the latest at ``last``."""
    return signins(scenario, person, last, count, every=timedelta(hours=6), error_code=error_code, user_agent=ua)


def apple_signins(scenario: Scenario, person: dict[str, Any], first: datetime, count: int = 1) -> None:
    for i in range(count):
        scenario.sign_ins.append(
            sign_in(
                new_id(),
                first + timedelta(hours=i),
                person,
                client_app="Browser" if i == 0 else "Mobile Apps and Desktop clients",
                app_id=APPLE_APP_ID,
                app_name="Apple Internet Accounts",
            )
        )
    scenario.sort()


def unattended_signins(
    scenario: Scenario,
    account: dict[str, Any],
    client_app: str,
    last: datetime,
    count: int,
    *,
    every: timedelta,
    ip: str,
    error_code: int = 53003,
    ua: str = "",
) -> None:
    """``count`` sign-ins of a device or application (SMTP AUTH, IMAP4, POP3, EWS), one every ``every``, the
    latest at ``last``; refused by default (basic auth for IMAP and POP is off), no device details."""
    signins(
        scenario,
        account,
        last,
        count,
        every=every,
        client_app=client_app,
        error_code=error_code,
        ip=ip,
        user_agent=ua,
        operating_system="",
    )


def smtp_signins(
    scenario: Scenario,
    person: dict[str, Any],
    last: datetime,
    count: int,
    *,
    every: timedelta = timedelta(hours=1),
    ip: str = "198.51.100.20",
    error_code: int = 0,
    ua: str = "",
) -> None:
    """``count`` basic SMTP AUTH submissions (clientAppUsed "Authenticated SMTP"), one every ``every``, the
    latest at ``last``; no user agent and no device details, as a scanner or a script has none to give."""
    unattended_signins(
        scenario, person, AUTHENTICATED_SMTP, last, count, every=every, ip=ip, error_code=error_code, ua=ua
    )
