"""Real devices end to end (Azurite + the tenant simulator): the clients this product exists for, judged right
and mailed the right steps; a real spray still an attack; and the same without any user agent (Graph v1.0).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.config import RuleConfig
from core.constants import EXCHANGE_ACTIVESYNC
from core.records import DeviceRecord, DirectoryUser, Evidence
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.cycle import FULL_CYCLE, collect_and_evaluate_step, run_with_settings
from pipeline.wiring import StateTables
from rules import status
from rules.legacy_activity import classify
from sim.graph_shapes import sign_in
from sim.scenario import Scenario
from tests.conftest import NOW, outbox_messages, plain_text, sim_settings
from tests.scenarios import add_user, new_id, signins, tenant
from tests.test_pipeline import users

StartSim = Callable[[Scenario], SimServer]
EWS = "Exchange Web Services"


def attempts(
    scenario: Scenario,
    person: dict[str, Any],
    count: int,
    *,
    every: timedelta = timedelta(hours=5),
    error_code: int = 53003,
    agent: str = "",
    client_app: str = EXCHANGE_ACTIVESYNC,
    ip: str = "203.0.113.10",
    os_name: str = "Ios",
    country: str = "US",
    last: datetime = NOW - timedelta(hours=1),
) -> None:
    """``count`` legacy attempts of one client, ``every`` apart, the latest at ``last``."""
    signins(
        scenario,
        person,
        last,
        count,
        every=every,
        client_app=client_app,
        error_code=error_code,
        ip=ip,
        user_agent=agent,
        operating_system=os_name,
        country=country,
    )


def spray(scenario: Scenario, victims: list[dict[str, Any]]) -> None:
    """Wrong passwords on many accounts from rotating networks within one hour: no device anywhere."""
    start = NOW - timedelta(days=1)
    for n, person in enumerate(victims):
        for k, (ip, country) in enumerate((("192.0.2.66", "NL"), ("198.18.7.21", "SC"), ("100.64.9.199", "RU"))):
            scenario.sign_ins.append(
                sign_in(
                    new_id(),
                    start + timedelta(minutes=3 * n + k),
                    person,
                    client_app=EXCHANGE_ACTIVESYNC,
                    error_code=50126,
                    ip=ip,
                    country=country,
                    user_agent="BAV2ROPC",
                    operating_system="",
                )
            )
    scenario.sort()


def mail_to(sim: SimServer) -> dict[str, str]:
    return {m["To"].split("<")[1].split("@")[0]: plain_text(m) for m in outbox_messages(sim.state.outbox)}


def test_real_clients_are_legacy_active_and_get_their_own_steps(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    s = tenant(tenant_id)
    p = {n: add_user(s, n) for n in ("iphone6", "iphone4s", "android", "mac", "sprayed0")}
    victims = [p["sprayed0"], *(add_user(s, f"sprayed{n}") for n in range(1, 6))]
    # iOS 9.3.2 refused three times by Conditional Access from one home network: an iPhone 6 can reach iOS 12...
    attempts(s, p["iphone6"], 3, agent="Apple-iPhone7C2/1306.69")
    # ... an iPhone 4s cannot (it stops at 9.3.6)
    attempts(s, p["iphone4s"], 3, agent="Apple-iPhone4C1/1306.69")
    attempts(s, p["android"], 3, agent="Android/4.4.2-EAS-1.3", os_name="Android")  # stock Android client
    mac_agent = "Mac OS X/10.8.2 (12C2034); ExchangeWebServices/3.0 (157); Mail/6.2 (1499)"
    attempts(s, p["mac"], 4, agent=mac_agent, client_app=EWS, error_code=0, os_name="MacOs")
    spray(s, victims)
    sim = start_sim(s)
    settings = sim_settings(sim, azurite, LAM_LEGACY_PROTOCOLS=f"{EXCHANGE_ACTIVESYNC},{EWS}")
    asyncio.run(run_with_settings(settings, FULL_CYCLE, NOW))

    state = {name: users(settings)[str(p[name]["id"])] for name in p}
    verdicts = {name: (st.verdict.status, st.verdict.reasons, st.verdict.advice) for name, st in state.items()}
    assert verdicts["iphone6"] == (
        "legacy_active",
        ("legacy_signin_failed", "stable_device_signature"),
        ("update_ios_first", "remove_and_readd", "path_passwords_and_accounts"),
    )
    assert verdicts["iphone4s"][:2] == ("legacy_active", ("legacy_signin_failed", "stable_device_signature"))
    assert verdicts["iphone4s"][2] == ("replace_device", "path_mail_contacts_calendars")
    assert verdicts["android"][0] == "legacy_active" and verdicts["android"][2] == ("readd_with_modern_auth",)
    assert verdicts["mac"] == (
        "legacy_active",
        ("legacy_signin_succeeded",),
        ("readd_in_internet_accounts", "path_mac_system_preferences"),
    )
    assert verdicts["sprayed0"][0] == "attack_suspected"

    mail = mail_to(sim)
    assert set(mail) == {"iphone6", "iphone4s", "android", "mac"}  # the sprayed accounts are never mailed
    assert "iPhone 6 (iOS 9.3.2)" in mail["iphone6"] and "13F69" not in mail["iphone6"]  # no build numbers (issue 15)
    assert "First update the device" in mail["iphone6"] and "Settings > Passwords & Accounts" in mail["iphone6"]
    assert "iPhone 4s (iOS 9.3.2)" in mail["iphone4s"] and "https://outlook.office.com" in mail["iphone4s"]
    assert "Software Update" not in mail["iphone4s"]
    assert "Microsoft Exchange, Microsoft 365 or Office 365" in mail["android"]
    assert "System Preferences > Internet Accounts" in mail["mac"] and "Settings > Mail" not in mail["mac"]


def test_without_a_user_agent_a_device_is_still_a_device_and_a_spray_still_an_attack(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    """Graph v1.0 carries no userAgent: deviceDetail, the error code, the network and the rhythm judge."""
    s = tenant(tenant_id)
    phone, laptop, brute = (add_user(s, n) for n in ("phone", "oldpassword", "bruteforced"))
    victims = [add_user(s, f"victim{n}") for n in range(6)]
    attempts(s, phone, 6, agent="Apple-iPhone10C1/1907.71")  # beta would show it; v1.0 drops it
    # a phone still holding an old password: wrong passwords, but one home network, every few hours, an iPhone
    attempts(s, laptop, 8, error_code=50126, every=timedelta(hours=3))
    for n in range(6):  # one account, wrong passwords from six networks: brute force
        attempts(s, brute, 1, error_code=50126, ip=f"198.51.{n}.9", os_name="", last=NOW - timedelta(hours=n))
    spray(s, victims)
    sim = start_sim(s)
    settings = sim_settings(sim, azurite, LAM_SIGNINS_API_VERSION="v1.0")
    asyncio.run(run_with_settings(settings, FULL_CYCLE, NOW))

    state = users(settings)
    judged = {person["displayName"]: state[str(person["id"])].verdict for person in (phone, laptop, brute, *victims)}
    assert state[str(phone["id"])].evidence.user_agent == ""  # v1.0 really had none
    assert judged["Phone"].status == "legacy_active"
    assert judged["Phone"].reasons == ("legacy_signin_failed", "device_without_user_agent")
    assert judged["Phone"].advice == ("remove_and_readd",)  # deviceDetail says iOS; its version is unknown
    assert judged["Oldpassword"].status == "legacy_active"
    assert judged["Bruteforced"].status == "attack_suspected"
    assert "many_source_networks" in judged["Bruteforced"].reasons
    assert {judged[v["displayName"]].status for v in victims} == {"attack_suspected"}
    mail = mail_to(sim)
    assert set(mail) == {"phone", "oldpassword"}
    assert "iPhone or iPad" in mail["phone"] and "Tap Add Account > Microsoft Exchange" in mail["phone"]
    assert "Settings > Mail > Accounts (on iOS 12 and 13" in mail["phone"]  # no version: every place named


def test_a_passing_no_licence_refusal_is_asked_again_and_the_run_collects(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    """Graph answers 403 "no premium licence" now and then to tenants that have P1/P2."""
    s = tenant(tenant_id)
    alice = add_user(s, "alice")
    attempts(s, alice, 3, agent="Apple-iPhone14C2/2004.47", error_code=0)
    s.faults["signIns"] = {
        "status": 403,
        "code": "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
        "message": "Neither tenant is B2C or tenant doesn't have premium license",
        "times": 2,
    }
    sim = start_sim(s)
    settings = sim_settings(sim, azurite)
    (run,) = asyncio.run(run_with_settings(settings, [collect_and_evaluate_step], NOW))
    assert run.outcome == "succeeded"
    assert users(settings)[alice["id"]].verdict.status == "legacy_active"
    assert "signin_logs" not in {f.name for f in StateTables.open(settings).findings([])}
    assert sim.state.requests["signIns"] >= 3


# The verdict itself, pure: failures that look like an attack, and a legacy partnership still syncing.
OLD_PROFILE = DeviceRecord(
    user_id="u1",
    device_id="d1",
    friendly_name="iPhone 8",
    device_os="iOS 16.7.10 20H350",
    device_type="iPhone",
    user_agent="Apple-iPhone10C1/2008.350",
    client_type="EAS",
    client_version="16.1",
    first_sync=datetime(2017, 3, 2, tzinfo=UTC),
    last_sync=NOW - timedelta(hours=2),
)


@pytest.mark.parametrize("spray_failures", [0, 4])
def test_a_syncing_legacy_partnership_behind_attack_like_failures_is_legacy_active(spray_failures: int) -> None:
    evidence = Evidence(
        upn="u1@contoso.example",
        legacy_failure=6,
        failure_codes={"50126": 6},
        last_legacy_at=NOW - timedelta(hours=1),
        agents={"BAV2ROPC": 6},
        networks={f"198.51.{n}.0/24": 1 for n in range(6)},
        credential_failures=6,
        spray_failures=spray_failures,
    )
    user = DirectoryUser("u1", "u1@contoso.example", "U1", "u1@contoso.example")
    verdict = status.evaluate(evidence, user, RuleConfig(), NOW, (OLD_PROFILE,))
    targeted = ("also_targeted_by_spray",) if spray_failures else ()
    assert verdict.status == "legacy_active"  # mailed: the phone is real, whatever else hits the account
    assert verdict.reasons == ("legacy_signin_failed", *targeted, "pre_ios12_profile")
    assert verdict.advice == ("migration_blocked", "remove_and_readd", "clear_safari_data", "path_mail_accounts")
    assert "status@2" in status.RULE_VERSION


def no_agent(codes: dict[str, int], *, networks: int = 1, hours: int = 4, system: str = "Ios / ") -> Evidence:
    """Failures as v1.0 shows them: no user agent, only deviceDetail, codes, networks and hours."""
    total = sum(codes.values())
    credential = sum(n for code, n in codes.items() if code == "50126")
    return Evidence(
        legacy_failure=total,
        failure_codes=codes,
        agents={"(none)": total},
        networks={f"198.51.{n}.0/24": 1 for n in range(networks)},
        countries={"US": total},
        systems={system: total} if system else {},
        hours={f"2026-11-19T{h:02d}": 1 for h in range(hours)},
        credential_failures=credential,
    )


@pytest.mark.parametrize(
    ("evidence", "verdict"),
    [
        (no_agent({"53003": 4}), "legacy_active"),  # refused by policy, every few hours, an iPhone
        (no_agent({"53003": 4}, system=""), "legacy_active"),  # no deviceDetail either: policy + rhythm
        (no_agent({"50126": 4}), "legacy_active"),  # an old password, every few hours, an iPhone, one network
        (no_agent({"50126": 4}, hours=1), "attack_suspected"),  # one burst of wrong passwords
        (no_agent({"50126": 4}, system="Windows 10 / Python Requests 2.31"), "attack_suspected"),  # a script
        (no_agent({"53003": 4}, networks=6), "attack_suspected"),  # not one steady network
        (no_agent({"50155": 4}, hours=1, system=""), "attack_suspected"),  # nothing marks a device
    ],
)
def test_a_device_without_a_user_agent_is_judged_by_what_the_sign_in_carries(evidence: Evidence, verdict: str) -> None:
    status_, reasons = classify(evidence, RuleConfig())
    assert status_ == verdict, reasons
    if verdict == "legacy_active":
        assert reasons == ("legacy_signin_failed", "device_without_user_agent")
