"""Exchange device partnerships: the collector against the simulator, the rules, the 403 path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from azure.data.tables import TableServiceClient

from collectors.devices import exchange_time
from core.records import DeviceRecord
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.cycle import FULL_CYCLE, collect_and_evaluate_step, run_with_settings
from pipeline.wiring import StateTables
from rules.devices import judge_device
from sim.graph_shapes import exchange_device, exchange_mailbox
from sim.scenario import Scenario
from store.users import UserRepository
from tests.conftest import NOW, outbox_messages, plain_text, sim_settings
from tests.scenarios import add_user, legacy_signins, tenant

StartSim = Callable[[Scenario], SimServer]
OLD = datetime(2017, 3, 2, 9, 30, tzinfo=UTC)
DEVICE_SETTINGS = {"LAM_COLLECT_DEVICES": "true", "LAM_EXO_ORGANIZATION": "contoso.onmicrosoft.com"}


def device(**overrides: Any) -> DeviceRecord:
    base: dict[str, Any] = {
        "user_id": "u",
        "device_id": "d",
        "device_type": "iPhone",
        "device_os": "iOS 16.7",
        "client_type": "EAS",
        "client_version": "16.1",
        "first_sync": OLD,
        "last_sync": NOW - timedelta(days=1),
    }
    return DeviceRecord(**{**base, **overrides})


def test_device_rules() -> None:
    assert judge_device(device(), 60, NOW).reasons == ("pre_ios12_profile",)
    assert judge_device(device(first_sync=datetime(2019, 1, 1, tzinfo=UTC)), 60, NOW).reasons == ()
    assert judge_device(
        device(device_type="SAMSUNG", device_os="Android 13", client_version="14.1"), 60, NOW
    ).reasons == ("eas_protocol_below_16_1",)
    obsolete = judge_device(device(last_sync=NOW - timedelta(days=61)), 60, NOW)
    assert (obsolete.active, obsolete.reasons) == (False, ())
    assert judge_device(device(client_type="Outlook"), 60, NOW).reasons == ()
    assert device(friendly_name="iPhone 8").label == "iPhone 8, first synced 2017-03-02"


def test_exchange_dates() -> None:
    assert exchange_time("/Date(1488447000000)/") == OLD
    assert exchange_time("2017-03-02T09:30:00Z") == OLD
    assert exchange_time("yesterday") is None and exchange_time(None) is None


def tenant_with_devices(tenant_id: str) -> tuple[Scenario, dict[str, dict[str, Any]]]:
    s = tenant(tenant_id)
    people = {n: add_user(s, n) for n in ("oldphone", "oldproto", "debris", "both", "modern")}
    boxes = {n: exchange_mailbox(p, f"mbx-{n}") for n, p in people.items()}
    s.mailboxes = list(boxes.values())
    s.devices = [
        exchange_device(boxes["oldphone"], "A1", first_sync=OLD, last_sync=NOW - timedelta(hours=3)),
        exchange_device(
            boxes["oldproto"],
            "B1",
            first_sync=datetime(2021, 5, 1, tzinfo=UTC),
            last_sync=NOW - timedelta(days=2),
            device_type="SAMSUNGSMG991B",
            device_os="Android 13",
            friendly_name="Galaxy S21",
            user_agent="Android-SAMSUNG-SM-G991B/102.60101",
            client_version="14.1",
        ),
        exchange_device(boxes["debris"], "C1", first_sync=OLD, last_sync=NOW - timedelta(days=100)),
        exchange_device(boxes["both"], "D1", first_sync=OLD, last_sync=NOW - timedelta(hours=1)),
        exchange_device(
            boxes["modern"],
            "E1",
            first_sync=OLD,
            last_sync=NOW,
            client_type="Outlook",
            device_type="Outlook",
            user_agent="Outlook-iOS/2.0",
        ),
        exchange_device(boxes["modern"], "T1", first_sync=OLD, last_sync=NOW, device_type="TestActiveSyncConnectivity"),
    ]
    legacy_signins(s, people["both"], NOW - timedelta(hours=2), 3)
    return s, people


def test_partnerships_raise_and_explain_verdicts(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario, people = tenant_with_devices(tenant_id)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_EXO_BASE_URL=sim.url, **DEVICE_SETTINGS)
    asyncio.run(run_with_settings(settings, FULL_CYCLE, NOW))
    service = TableServiceClient.from_connection_string(settings.tables_connection_string or "")
    states = UserRepository(service.get_table_client("users"), tenant_id).load_all()
    verdict = {name: states[p["id"]].verdict for name, p in people.items() if p["id"] in states}
    assert {n: (v.status, v.reasons) for n, v in verdict.items()} == {
        "oldphone": ("legacy_active", ("pre_ios12_profile",)),
        "oldproto": ("legacy_active", ("eas_protocol_below_16_1",)),
        "debris": ("stale", ("obsolete_device_only",)),
        "both": (
            "legacy_active",
            ("legacy_signin_succeeded", "pre_ios12_profile"),
        ),
    }
    assert [d.device_id for d in states[people["oldphone"]["id"]].devices] == ["A1"]
    mails = {m["To"].split("<")[1].split("@")[0]: m for m in outbox_messages(sim.state.outbox)}
    assert sorted(mails) == ["both", "oldphone", "oldproto"]
    # Issue 15: the subject names the device as its owner does; the old profile's date is in the text, explained.
    assert mails["oldphone"]["Subject"] == "Action needed: reconnect your work email on your iPhone 8"
    assert "first set up on 2 March 2017, before your iPhone 8 came out" in plain_text(mails["oldphone"])
    # One paged call per cmdlet, statistics only for the four devices that could be legacy.
    assert sim.state.requests["InvokeCommand:Get-Mailbox"] == 1
    assert sim.state.requests["InvokeCommand:Get-MobileDevice"] == 1
    assert sim.state.requests["InvokeCommand:Get-MobileDeviceStatistics"] == 4
    text = "\n".join(f.summary for f in StateTables.open(settings).findings())
    assert (
        "Exchange device partnerships: 5 read in 6 request(s); 3 still sync with a legacy profile; 1 obsolete" in text
    )


def test_without_the_exchange_role_the_finding_says_what_to_grant(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario, people = tenant_with_devices(tenant_id)
    scenario.faults["InvokeCommand"] = {"status": 403, "code": "Forbidden", "message": "Access denied"}
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_EXO_BASE_URL=sim.url, **DEVICE_SETTINGS)
    (run,) = asyncio.run(run_with_settings(settings, [collect_and_evaluate_step], NOW))
    assert run.outcome == "succeeded"
    service = TableServiceClient.from_connection_string(settings.tables_connection_string or "")
    states = UserRepository(service.get_table_client("users"), tenant_id).load_all()
    assert states[people["both"]["id"]].verdict.status == "legacy_active"  # sign-ins still count
    assert people["oldphone"]["id"] not in states
    text = "\n".join(f.summary for f in StateTables.open(settings).findings())
    assert "Exchange.ManageAsApp application role and an Exchange role that can read mobile devices" in text


def test_exchange_throttling_with_an_http_date_retry_after_is_waited_out(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    """Retry-After may be an HTTP date (RFC 9110); the device collector shares Graph's retry policy."""
    scenario, _ = tenant_with_devices(tenant_id)
    retry_at = format_datetime(datetime.now(UTC) + timedelta(seconds=1), usegmt=True)
    scenario.faults["InvokeCommand"] = {"status": 429, "code": "TooManyRequests", "retry_after": retry_at, "times": 1}
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_EXO_BASE_URL=sim.url, **DEVICE_SETTINGS)
    (run,) = asyncio.run(run_with_settings(settings, [collect_and_evaluate_step], NOW))
    assert run.outcome == "succeeded"
    text = "\n".join(f.summary for f in StateTables.open(settings).findings())
    assert (
        "Exchange device partnerships: 5 read in 7 request(s); 3 still sync with a legacy profile; 1 obsolete" in text
    )
