"""The built-in demo tenant: a few hundred users, each group with a known right answer.

Deterministic (fixed seed) and anchored on ``now`` so every run sees recent, in-window activity.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from core.constants import APPLE_APP_ID, AUTHENTICATED_SMTP, EXCHANGE_ACTIVESYNC, EXCHANGE_ONLINE_APP_ID
from sim.graph_shapes import (
    admin_grant,
    exchange_device,
    exchange_mailbox,
    legacy_block_policy,
    service_principal,
    sign_in,
    user,
)
from sim.scenario import Scenario

DEMO_TENANT_ID = "5b1d7a0e-3c39-4f0e-9a8e-4d2c6f1b7a90"
DOMAIN = "contoso.example"
APPLE_SP_ID = "0b8c4f2e-6a1d-4e3b-9c7a-2f5d8e1a3b6c"
EXCHANGE_SP_ID = "9e2f7a1c-4b8d-4c6e-a3f5-1d7b9c2e8a40"

FIRST = [
    "Ava",
    "Ben",
    "Chloé",
    "Dario",
    "Emma",
    "Finn",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kai",
    "Lena",
    "Mia",
    "Noah",
    "Olga",
    "Paul",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
]
LAST = [
    "Adams",
    "Becker",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "García",
    "Hansen",
    "Ito",
    "Jensen",
    "Kowalski",
    "López",
    "Müller",
    "Nguyen",
    "Peters",
]

# EAS user agents of Apple Mail: the number after the slash encodes the iOS build (2004.47 = 20D47).
IPHONE_AGENTS = [
    "Apple-iPhone9C3/1604.57",
    "Apple-iPhone10C1/1705.65",
    "Apple-iPhone11C8/1807.61",
    "Apple-iPhone12C1/1907.71",
    "Apple-iPhone14C2/2004.47",
    "Apple-iPhone15C2/2106.5",
]
IPAD_AGENTS = ["Apple-iPad7C3/1702.112", "Apple-iPad8C1/1807.61", "Apple-iPad13C2/2006.5"]
APPLE_MODERN_AGENT = "iOS/17.5 (21F79) accountsd/1.0"
MAC_MAIL_EWS_AGENT = "Mac OS X/10.8.2 (12C2034); ExchangeWebServices/3.0 (157); Mail/6.2 (1499)"
EXCHANGE_WEB_SERVICES = "Exchange Web Services"
IMAP4 = "IMAP4"
POP3 = "POP3"
# Real devices beyond the current iPhones (agents as public sources show them; see tests/corpus/):
REAL_DEVICES: dict[str, tuple[str, str, str, str]] = {
    # group: (user agent, deviceDetail.operatingSystem, clientAppUsed, the advice code its steps need)
    "legacy_ios9_iphone6": ("Apple-iPhone7C2/1306.69", "Ios", EXCHANGE_ACTIVESYNC, "update_ios_first"),
    "legacy_ios9_iphone4s": ("Apple-iPhone4C1/1306.69", "Ios", EXCHANGE_ACTIVESYNC, "replace_device"),
    "legacy_android_stock": ("Android/4.4.2-EAS-1.3", "Android", EXCHANGE_ACTIVESYNC, "readd_with_modern_auth"),
    "legacy_android_samsung": ("SAMSUNG-SM-N900V/101.403", "Android", EXCHANGE_ACTIVESYNC, "readd_with_modern_auth"),
    "legacy_mac_mail": (MAC_MAIL_EWS_AGENT, "MacOs", EXCHANGE_WEB_SERVICES, "readd_in_internet_accounts"),
    "legacy_no_user_agent": ("", "Ios", EXCHANGE_ACTIVESYNC, "remove_and_readd"),
}

GROUPS: list[tuple[str, int, str]] = [
    # (group, how many, the status a correct monitor reaches)
    ("legacy_iphone", 34, "legacy_active"),
    ("legacy_ipad", 8, "legacy_active"),
    ("legacy_proxy_only_mail", 1, "legacy_active"),
    ("remediated", 15, "remediated"),
    ("pending", 5, "pending_verification"),
    ("disabled", 2, "excluded"),
    ("guest", 1, "excluded"),
    ("no_mailbox", 1, "excluded"),
    ("sprayed", 12, "attack_suspected"),
    ("sprayed_with_iphone", 1, "legacy_active"),
    ("readded_but_old_ipad", 1, "legacy_active"),
    ("single_failed_attempt", 1, "legacy_active"),
    ("device_only_pre_ios12", 2, "legacy_active"),
    ("device_debris_only", 2, "stale"),
    # refused by Conditional Access from one home network, or (Mac Mail) still let in over EWS
    ("legacy_ios9_iphone6", 1, "legacy_active"),
    ("legacy_ios9_iphone4s", 1, "legacy_active"),
    ("legacy_android_stock", 1, "legacy_active"),
    ("legacy_android_samsung", 1, "legacy_active"),
    ("legacy_mac_mail", 1, "legacy_active"),
    ("legacy_no_user_agent", 1, "legacy_active"),
    ("modern_only", 30, "untracked"),
    ("bystander", 203, "untracked"),
]


NOT_MAILED = {"single_failed_attempt"}
"""legacy_active groups whose evidence is too thin to mail about."""

# Password spray sources (documentation ranges stand in for the attacker's addresses).
SPRAY_SOURCES = [("192.0.2.66", "NL"), ("100.64.9.199", "RU"), ("198.18.7.21", "SC")]


def build_demo_tenant(now: datetime, seed: int = 20261122, consented: bool = True) -> Scenario:
    """The demo tenant; ``consented=False`` is the same people in a tenant where users cannot finish the re-add."""
    rng = random.Random(seed)
    scenario = Scenario(tenant_id=DEMO_TENANT_ID)
    scenario.service_principals = [
        service_principal(APPLE_SP_ID, APPLE_APP_ID, "Apple Internet Accounts"),
        service_principal(EXCHANGE_SP_ID, EXCHANGE_ONLINE_APP_ID, "Office 365 Exchange Online"),
    ]
    if consented:
        scenario.grants = [admin_grant(APPLE_SP_ID, EXCHANGE_SP_ID, "EAS.AccessAsUser.All EWS.AccessAsUser.All")]
    scenario.ca_policies = [
        legacy_block_policy("Block legacy authentication (pilot)", "enabledForReportingButNotEnforced")
    ]
    spray_hour = (now - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    index = 0
    for group, count, expected in GROUPS:
        for _ in range(count):
            index += 1
            person = _person(rng, index, group)
            scenario.users.append(person)
            scenario.sign_ins.extend(_activity(rng, person, group, now))
            if person["mail"] and group != "guest":
                mailbox = exchange_mailbox(person, f"mbx{index:05d}")
                scenario.mailboxes.append(mailbox)
                scenario.devices.extend(_partnerships(rng, mailbox, group, now))
            if group.startswith("sprayed"):
                scenario.sign_ins.extend(_spray(rng, person, index, spray_hour))
            if expected != "untracked":
                scenario.expected[person["id"]] = expected
            if expected == "legacy_active" and group not in NOT_MAILED and consented:
                scenario.mailed.add(person["id"])
            if group in REAL_DEVICES:
                scenario.advice[person["id"]] = REAL_DEVICES[group][3]
    _smtp_senders(rng, scenario, now, index, consented)
    _mailbox_clients(rng, scenario, now, index + 2 * len(SMTP_SENDERS) + 1)
    scenario.sort()
    return scenario


SMTP_SENDERS: list[tuple[str, str, str]] = [
    # (account alias, what sends with it, who must be told: "map" owner, "manager", "self" or "" for nobody)
    ("scanner.floor2", "device", "map"),  # a multifunction printer's scan to email
    ("scans.shared", "shared", "map"),  # a shared mailbox (Exchange says so) a scanner sends as: its owner
    ("printer.lab", "device", "manager"),
    ("invoicing", "application", "manager"),  # a line-of-business app: invoices in bulk
    ("alerts", "application", ""),  # a monitoring script, nobody mapped, no manager: the digest lists it
    ("old.mail.app", "person", "self"),  # a person's old mail app
]
SMTP_SPRAY_SOURCE = "203.0.113.99"
SMTP_ADVICE = {
    "device": "smtp_device_ways_out",
    "shared": "smtp_device_ways_out",
    "application": "smtp_app_ways_out",
    "person": "smtp_person_modern_auth",
}
"""The advice each kind's email needs: the demo's check that each sender was judged the right kind."""
SMTP_EXPLICITLY_ENABLED = "scanner.floor2"
"""A sender whose mailbox has SMTP AUTH switched on by hand (Set-CASMailbox -SmtpClientAuthenticationDisabled
$false): the switch finding names it. The organization keeps SMTP AUTH on (the default before 2020)."""


def _smtp_senders(rng: random.Random, scenario: Scenario, now: datetime, index: int, consented: bool) -> None:
    """SMTP AUTH senders and their owners, and an SMTP AUTH spray; their ground truth beside them.
    A sender's email does not wait for Apple's consent, so ``consented`` does not change who is mailed."""
    del consented
    for n, (alias, kind, told) in enumerate(SMTP_SENDERS):
        sender = user(_uuid(rng), f"{alias}@{DOMAIN}", alias.replace(".", " ").title())
        owner = _person(rng, index + 1 + 2 * n, "bystander")
        scenario.users += [sender, owner]
        ip = f"198.51.100.{200 + n}"
        mailbox_kind = "SharedMailbox" if kind == "shared" else "UserMailbox"
        scenario.mailboxes.append(exchange_mailbox(sender, alias.replace(".", ""), mailbox_kind))
        if alias == SMTP_EXPLICITLY_ENABLED:
            scenario.cas[sender["userPrincipalName"].casefold()] = {"SmtpClientAuthenticationDisabled": False}
        if kind in ("device", "shared"):  # a scan every few hours from the office network, no agent
            times = [now - timedelta(hours=1 + 5 * i) for i in range(20)]
        elif kind == "application":  # bursts: sixty messages in half an hour, every day
            times = [now - timedelta(days=d, seconds=30 * (2 + m)) for d in range(5) for m in range(60)]
        else:  # a person's Android mail app (a real agent: tests/corpus/user_agents.csv)
            times = [now - timedelta(hours=2 + 9 * i) for i in range(6)]
        agent = "Android/4.4.2-EAS-1.3" if kind == "person" else ""
        scenario.sign_ins += [
            sign_in(_uuid(rng), t, sender, client_app=AUTHENTICATED_SMTP, ip=ip, user_agent=agent, operating_system="")
            for t in times
        ]
        scenario.expected[sender["id"]] = "legacy_active"
        scenario.advice[sender["id"]] = SMTP_ADVICE[kind]
        scenario.sender_kinds[sender["id"]] = kind
        if told == "map":
            scenario.owners[sender["userPrincipalName"]] = owner["mail"]
        elif told == "manager":
            scenario.managers[sender["id"]] = owner["id"]
        address = {"map": owner["mail"], "manager": owner["mail"], "self": sender["mail"]}.get(told, "")
        scenario.mail_to[sender["id"]] = address
        if address:
            scenario.mailed.add(sender["id"])
    hour = (now - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    for n in range(6):  # an SMTP AUTH spray: wrong passwords on six accounts from one source within the hour
        victim = user(_uuid(rng), f"smtp.victim{n}@{DOMAIN}", f"Smtp Victim {n}")
        scenario.users.append(victim)
        scenario.sign_ins += [
            sign_in(
                _uuid(rng),
                hour + timedelta(minutes=5 * n + k),
                victim,
                client_app=AUTHENTICATED_SMTP,
                error_code=50126,
                ip=SMTP_SPRAY_SOURCE,
                country="NL",
                operating_system="",
            )
            for k in range(2)
        ]
        scenario.expected[victim["id"]] = "attack_suspected"
        scenario.sender_kinds[victim["id"]] = "attack"


EWS_MANAGED_API_AGENT = "ExchangeServicesClient/15.00.0913.015"
"""The EWS Managed API's agent in Microsoft's own request sample to outlook.office365.com with Basic authorization
(MicrosoftDocs/office-developer-exchange-docs, docs/exchange-web-services/
how-to-route-public-folder-content-requests.md)."""
MAILBOX_CLIENTS: list[tuple[str, str, str, str]] = [
    # (account alias, clientAppUsed, what signs in with it, who must be told: "map" owner or "manager")
    ("fax.inbox", POP3, "device", "map"),  # a fax or printer fetching jobs by POP3 every 15 minutes, still retrying
    ("helpdesk", IMAP4, "application", "manager"),  # a ticketing system polling its mailbox over IMAP, refused
    ("crm.sync", EXCHANGE_WEB_SERVICES, "application", "map"),  # a line-of-business app on the EWS Managed API
]
MAILBOX_CLIENT_ADVICE = {POP3: "collect_with_oauth", IMAP4: "collect_with_oauth", EXCHANGE_WEB_SERVICES: "ews_to_graph"}


def _mailbox_clients(rng: random.Random, scenario: Scenario, now: datetime, index: int) -> None:
    """Devices and applications on POP3, IMAP4 and EWS, and who is told about each. Basic authentication for
    IMAP and POP is off, so those still retry and fail (refused by the tenant's legacy block); the EWS app
    still gets in until EWS goes."""
    for n, (alias, client_app, kind, told) in enumerate(MAILBOX_CLIENTS):
        account = user(_uuid(rng), f"{alias}@{DOMAIN}", alias.replace(".", " ").title())
        owner = _person(rng, index + n, "bystander")
        scenario.users += [account, owner]
        ews = client_app == EXCHANGE_WEB_SERVICES
        every = {"device": timedelta(minutes=15), "application": timedelta(minutes=2)}[kind]
        times = [now - timedelta(minutes=7) - every * i for i in range(40 if ews else 120)]
        scenario.sign_ins += [
            sign_in(
                _uuid(rng),
                moment,
                account,
                client_app=client_app,
                error_code=0 if ews else 53003,
                ip=f"198.51.100.{220 + n}",
                user_agent=EWS_MANAGED_API_AGENT if ews else "",
                operating_system="",
            )
            for moment in times
        ]
        scenario.expected[account["id"]] = "legacy_active"
        scenario.advice[account["id"]] = MAILBOX_CLIENT_ADVICE[client_app]
        if told == "map":
            scenario.owners[account["userPrincipalName"]] = owner["mail"]
        else:
            scenario.managers[account["id"]] = owner["id"]
        scenario.mail_to[account["id"]] = owner["mail"]
        scenario.mailed.add(account["id"])


PRE_IOS12 = datetime(2016, 9, 20, tzinfo=UTC)


def _partnerships(rng: random.Random, mailbox: dict[str, Any], group: str, now: datetime) -> list[dict[str, Any]]:
    """Exchange's view of the same people: old profiles still syncing, debris, re-added accounts, Outlook."""

    def old_iphone(last: datetime) -> dict[str, Any]:
        first = PRE_IOS12 + timedelta(days=rng.randint(0, 600))
        return exchange_device(
            mailbox,
            f"OLD{rng.getrandbits(32):08X}",
            first_sync=first,
            last_sync=last,
            friendly_name=rng.choice(["iPhone 7", "iPhone 8", "iPhone X"]),
        )

    def new_iphone(first: datetime) -> dict[str, Any]:
        return exchange_device(
            mailbox,
            f"NEW{rng.getrandbits(32):08X}",
            first_sync=first,
            last_sync=now - timedelta(hours=1),
            friendly_name="iPhone 15",
            model="iPhone16C1",
            user_agent="Apple-iPhone16C1/2201.7",
        )

    if group in ("legacy_iphone", "sprayed_with_iphone", "device_only_pre_ios12"):
        if group == "device_only_pre_ios12" or rng.random() < 0.35:
            return [old_iphone(now - timedelta(hours=rng.randint(1, 30)))]
        return [new_iphone(datetime(2021, 1, 1, tzinfo=UTC) + timedelta(days=rng.randint(0, 1000)))]
    if group in ("remediated", "pending"):
        fixed = now - timedelta(days=25)
        return [old_iphone(fixed - timedelta(days=1)), new_iphone(now - timedelta(days=1))]
    if group == "device_debris_only":
        return [old_iphone(now - timedelta(days=rng.randint(90, 400)))]
    if group == "modern_only":
        return [
            exchange_device(
                mailbox,
                f"OUT{rng.getrandbits(32):08X}",
                first_sync=now - timedelta(days=300),
                last_sync=now,
                client_type="Outlook",
                device_type="Outlook",
                friendly_name="Outlook for iOS",
                user_agent="Outlook-iOS/2.0",
                device_os="iOS 18.1",
            )
        ]
    return []


def _spray(rng: random.Random, person: dict[str, Any], index: int, hour: datetime) -> list[dict[str, Any]]:
    """Two wrong-password attempts from two of the spray sources, inside the same hour."""
    attempts = []
    for ip, country in (SPRAY_SOURCES[index % 3], SPRAY_SOURCES[(index + 1) % 3]):
        attempts.append(
            sign_in(
                _uuid(rng),
                hour + timedelta(minutes=rng.randint(0, 55), seconds=rng.randint(0, 59)),
                person,
                client_app=EXCHANGE_ACTIVESYNC,
                error_code=50126,
                ip=ip,
                country=country,
                user_agent=rng.choice(["BAV2ROPC", ""]),
                operating_system="",
                failure_reason="Error validating credentials due to invalid username or password.",
            )
        )
    return attempts


def build_empty_tenant(now: datetime) -> Scenario:
    """A tenant with the Apple app consented and no activity at all."""
    scenario = build_demo_tenant(now)
    scenario.users, scenario.sign_ins, scenario.expected = [], [], {}
    return scenario


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _person(rng: random.Random, index: int, group: str) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    alias = f"{first}.{last}{index}".lower().replace("'", "")
    alias = unicodedata.normalize("NFKD", alias).encode("ascii", "ignore").decode() or f"user{index}"
    upn = f"{alias}@{DOMAIN}"
    german = rng.random() < 0.3
    kwargs: dict[str, Any] = {
        "preferred_language": "de-DE" if german else "en-US",
        "usage_location": "DE" if german else "US",
    }
    if group == "disabled":
        kwargs["enabled"] = False
    elif group == "guest":
        upn = f"{alias}_partner.example#EXT#@{DOMAIN}"
        kwargs.update(user_type="Guest", mail=f"{alias}@partner.example")
    elif group == "no_mailbox":
        kwargs.update(mail=None, proxy_addresses=[])
    elif group == "legacy_proxy_only_mail":
        kwargs.update(mail=None, proxy_addresses=[f"smtp:{alias}@old.{DOMAIN}", f"SMTP:{alias}@{DOMAIN}"])
    return user(_uuid(rng), upn, f"{first} {last}", **kwargs)


def _activity(rng: random.Random, person: dict[str, Any], group: str, now: datetime) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    ip = f"198.51.100.{rng.randint(2, 254)}"

    def legacy(until: datetime, days: int, agents: list[str]) -> None:
        agent = rng.choice(agents)
        fails = rng.random() < 0.4  # since 2023 most legacy EAS attempts are refused and retried
        moment = until
        for _ in range(days * rng.randint(1, 3)):
            events.append(
                sign_in(
                    _uuid(rng),
                    moment,
                    person,
                    client_app=EXCHANGE_ACTIVESYNC,
                    error_code=53003 if fails else 0,
                    ip=ip,
                    user_agent=agent,
                    operating_system="Ios" if "iPhone" in agent else "iPadOS",
                )
            )
            moment -= timedelta(hours=rng.randint(6, 20), minutes=rng.randint(0, 59))

    def apple(since: datetime, count: int) -> None:
        moment = since
        for i in range(count):
            events.append(
                sign_in(
                    _uuid(rng),
                    moment,
                    person,
                    app_id=APPLE_APP_ID,
                    app_name="Apple Internet Accounts",
                    client_app="Browser" if i == 0 else "Mobile Apps and Desktop clients",
                    ip=ip,
                    user_agent=APPLE_MODERN_AGENT,
                    browser="Mobile Safari" if i == 0 else "",
                )
            )
            moment += timedelta(hours=rng.randint(8, 30))
            if moment >= now:
                break

    recent = now - timedelta(minutes=rng.randint(20, 600))
    if group in ("legacy_iphone", "legacy_proxy_only_mail", "disabled", "guest", "no_mailbox", "sprayed_with_iphone"):
        legacy(recent, rng.randint(5, 25), IPHONE_AGENTS)
    elif group == "readded_but_old_ipad":
        fixed = now - timedelta(days=10)
        legacy(fixed, 6, ["Apple-iPhone12C1/1907.71"])
        apple(fixed + timedelta(minutes=15), 3)
        legacy(recent, 8, ["Apple-iPad7C3/1702.112"])
    elif group == "single_failed_attempt":
        events.append(
            sign_in(
                _uuid(rng),
                now - timedelta(days=2, hours=3),
                person,
                client_app=EXCHANGE_ACTIVESYNC,
                error_code=53003,
                ip=ip,
                user_agent="Apple-iPhone11C8/1807.61",
            )
        )
    elif group in REAL_DEVICES:
        agent, system, client_app, _ = REAL_DEVICES[group]
        moment = recent
        for _ in range(rng.randint(4, 9)):  # a device retrying on its own, every few hours, from home
            events.append(
                sign_in(
                    _uuid(rng),
                    moment,
                    person,
                    client_app=client_app,
                    error_code=0 if client_app == EXCHANGE_WEB_SERVICES else 53003,
                    ip=ip,
                    user_agent=agent,
                    operating_system=system,
                )
            )
            moment -= timedelta(hours=rng.randint(3, 9), minutes=rng.randint(0, 59))
    elif group == "legacy_ipad":
        legacy(recent, rng.randint(5, 25), IPAD_AGENTS)
    elif group == "remediated":
        fixed = now - timedelta(days=rng.randint(2, 20), hours=rng.randint(0, 12))
        legacy(fixed, rng.randint(3, 8), IPHONE_AGENTS)
        apple(fixed + timedelta(minutes=rng.randint(5, 60)), rng.randint(2, 6))
    elif group == "pending":
        fixed = now - timedelta(hours=rng.randint(3, 18))
        legacy(fixed, rng.randint(3, 8), IPHONE_AGENTS)
        apple(fixed + timedelta(minutes=rng.randint(5, 60)), 1)
    elif group == "modern_only":
        apple(now - timedelta(days=rng.randint(1, 25)), rng.randint(1, 5))
    else:
        for _ in range(rng.randint(0, 6)):
            events.append(
                sign_in(
                    _uuid(rng),
                    now - timedelta(hours=rng.randint(1, 700)),
                    person,
                    client_app=rng.choice(["Browser", "Mobile Apps and Desktop clients"]),
                    app_id="00000003-0000-0ff1-ce00-000000000000",
                    app_name="Office 365 SharePoint Online",
                    ip=ip,
                    operating_system="Windows 10",
                    browser="Edge 140.0.0",
                )
            )
    return events
