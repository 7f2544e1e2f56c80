"""The whole cycle against the simulator and Azurite: what lands in the tables and in the outbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient

from core.ledger import LedgerEntry
from core.records import UserState
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.cycle import (
    FULL_CYCLE,
    Step,
    StepFailedError,
    check_apple_app_step,
    collect_and_evaluate_step,
    notify_step,
    run_with_settings,
)
from pipeline.settings import Settings
from pipeline.wiring import StateTables
from sim.scenario import Scenario
from store.notifications import NotificationLedger
from store.users import UserRepository
from tests.conftest import NOW, outbox_messages, sim_settings
from tests.scenarios import add_user, apple_signins, legacy_signins, new_id, tenant

StartSim = Callable[[Scenario], SimServer]


def cycle(settings: Settings, now: datetime = NOW, steps: list[Step] | None = None) -> list[tuple[str, int, int, int]]:
    runs = asyncio.run(run_with_settings(settings, steps or FULL_CYCLE, now))
    return [(r.step, r.events, r.writes, r.emails) for r in runs]


def users(settings: Settings) -> dict[str, UserState]:
    service = TableServiceClient.from_connection_string(settings.tables_connection_string or "")
    return UserRepository(service.get_table_client("users"), settings.tenant_id).load_all()


def runs_table(settings: Settings) -> list[dict[str, object]]:
    service = TableServiceClient.from_connection_string(settings.tables_connection_string or "")
    table = service.get_table_client("runs")
    return list(table.query_entities("PartitionKey eq @pk", parameters={"pk": settings.tenant_id}))


def ledger(settings: Settings) -> NotificationLedger:
    service = TableServiceClient.from_connection_string(settings.tables_connection_string or "")
    return NotificationLedger(service.get_table_client("notifications"), settings.tenant_id)


@pytest.fixture
def mixed_tenant(tenant_id: str) -> tuple[Scenario, dict[str, dict[str, object]]]:
    scenario = tenant(tenant_id)
    people = {name: add_user(scenario, name) for name in ("legacy", "failing", "fixed", "fixing", "modern", "disabled")}
    people["disabled"]["accountEnabled"] = False
    legacy_signins(scenario, people["legacy"], NOW - timedelta(hours=2), 10)
    legacy_signins(scenario, people["failing"], NOW - timedelta(hours=3), 6, error_code=53003)
    legacy_signins(scenario, people["fixed"], NOW - timedelta(days=5), 10)
    apple_signins(scenario, people["fixed"], NOW - timedelta(days=5) + timedelta(minutes=20), 3)
    legacy_signins(scenario, people["fixing"], NOW - timedelta(hours=6), 4)
    apple_signins(scenario, people["fixing"], NOW - timedelta(hours=5))
    apple_signins(scenario, people["modern"], NOW - timedelta(days=2), 2)
    legacy_signins(scenario, people["disabled"], NOW - timedelta(hours=1), 3)
    return scenario, people


def test_one_cycle_classifies_and_mails_only_the_legacy_users(
    mixed_tenant: tuple[Scenario, dict[str, dict[str, object]]], start_sim: StartSim, azurite: Azurite
) -> None:
    scenario, people = mixed_tenant
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    cycle(settings)

    state = users(settings)
    status = {p: state[str(people[p]["id"])].verdict.status for p in people if str(people[p]["id"]) in state}
    assert status == {
        "legacy": "legacy_active",
        "failing": "legacy_active",
        "fixed": "remediated",
        "fixing": "pending_verification",
        "disabled": "excluded",
    }
    assert state[str(people["failing"]["id"])].evidence.failure_codes == {"53003": 6}
    assert state[str(people["legacy"]["id"])].evidence.legacy_success == 10
    recipients = sorted(m["To"] for m in outbox_messages(sim.state.outbox))
    assert recipients == ["Failing <failing@contoso.example>", "Legacy <legacy@contoso.example>"]
    assert {e.state for e in ledger(settings).all()} == {"sent"}
    assert state[str(people["legacy"]["id"])].notified_count == 1


def test_a_second_run_over_the_same_window_writes_and_sends_nothing(
    mixed_tenant: tuple[Scenario, dict[str, dict[str, object]]], start_sim: StartSim, azurite: Azurite
) -> None:
    scenario, _ = mixed_tenant
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    cycle(settings)
    before = users(settings)
    assert cycle(settings) == [("apple-app", 0, 0, 0), ("collect", 0, 0, 0), ("notify", 0, 0, 0)]
    assert users(settings) == before
    assert len(outbox_messages(sim.state.outbox)) == 2


def test_overlapping_windows_count_each_signin_once(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = tenant(tenant_id)
    alice = add_user(scenario, "alice")
    legacy_signins(scenario, alice, NOW - timedelta(minutes=5), 4)  # one inside the 15-minute overlap
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    cycle(settings, steps=[collect_and_evaluate_step])
    later = NOW + timedelta(hours=1)
    legacy_signins(scenario, alice, later - timedelta(minutes=30), 1)  # new since the watermark
    legacy_signins(scenario, alice, NOW - timedelta(minutes=10), 1)  # arrived late, inside the overlap
    assert cycle(settings, later, steps=[collect_and_evaluate_step])[0][1] == 2
    assert users(settings)[alice["id"]].evidence.legacy_success == 6
    second = max(runs_table(settings), key=lambda r: str(r["StartedAt"]))
    assert json.loads(str(second["Figures"]))["noted"]["duplicate"] == 1


def test_emails_are_held_until_the_apple_app_has_admin_consent(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id, consented=False)
    legacy_signins(scenario, add_user(scenario, "alice"), NOW - timedelta(hours=1), 3)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    cycle(settings)
    assert outbox_messages(sim.state.outbox) == []
    notify_runs = [r for r in runs_table(settings) if r["Step"] == "notify"]
    assert "emails held: the Apple app is missing or has no admin consent" in str(notify_runs[0]["Message"])
    assert json.loads(str(notify_runs[0]["Figures"]))["held"]["held_tenant_not_ready"] == 1

    scenario.grants.append(
        {
            "id": "g",
            "clientId": "11111111-2222-4333-8444-555555555555",
            "consentType": "AllPrincipals",
            "resourceId": "66666666-7777-4888-9999-aaaaaaaaaaaa",
            "scope": "EAS.AccessAsUser.All",
        }
    )
    cycle(settings, NOW + timedelta(minutes=30))
    assert [m["To"] for m in outbox_messages(sim.state.outbox)] == ["Alice <alice@contoso.example>"]


def test_dry_run_writes_the_outbox_folder_and_marks_the_ledger(
    tenant_id: str, start_sim: StartSim, azurite: Azurite, tmp_path: object
) -> None:
    scenario = tenant(tenant_id)
    legacy_signins(scenario, add_user(scenario, "alice"), NOW - timedelta(hours=1), 3)
    sim = start_sim(scenario)
    outbox = sim.state.outbox.parent / "dry-run-outbox"
    settings = sim_settings(sim, azurite, LAM_NOTIFY_MODE="dry-run", LAM_OUTBOX_DIR=str(outbox))
    cycle(settings)
    assert sim.state.sent == []
    (message,) = outbox_messages(outbox)
    assert message["To"] == "Alice <alice@contoso.example>"
    assert message["From"] == "DoNotReply@contoso.example"
    assert [e.state for e in ledger(settings).all()] == ["dry-run"]


def test_a_crash_after_sending_is_repaired_without_a_second_email(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    """The ledger says 'sent' but the user row was never updated (the process died in between)."""
    scenario = tenant(tenant_id)
    alice = add_user(scenario, "alice")
    legacy_signins(scenario, alice, NOW - timedelta(hours=1), 3)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_NOTIFY_MODE="off")
    cycle(settings)
    ledger(settings).begin(
        LedgerEntry(alice["id"], "remediation-1", new_id(), "sent", "remediation", "en", "alice@contoso.example", NOW)
    )
    live = sim_settings(sim, azurite)
    assert cycle(live, steps=[notify_step]) == [("notify", 0, 1, 0)]
    assert sim.state.sent == []
    assert users(live)[alice["id"]].notified_count == 1


def test_an_intent_without_outcome_is_never_resent(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = tenant(tenant_id)
    alice = add_user(scenario, "alice")
    legacy_signins(scenario, alice, NOW - timedelta(hours=1), 3)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    cycle(settings, steps=[check_apple_app_step, collect_and_evaluate_step])
    ledger(settings).begin(
        LedgerEntry(
            alice["id"], "remediation-1", new_id(), "sending", "remediation", "en", "alice@contoso.example", NOW
        )
    )
    cycle(settings, steps=[notify_step])
    assert sim.state.sent == []
    notify_run = next(r for r in runs_table(settings) if r["Step"] == "notify")
    assert json.loads(str(notify_run["Figures"]))["unconfirmed"] == 1


def test_a_wrong_acs_key_fails_the_run_and_records_the_failure(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    legacy_signins(scenario, add_user(scenario, "alice"), NOW - timedelta(hours=1), 3)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite, LAM_ACS_KEY="d3Jvbmcta2V5")
    with pytest.raises(StepFailedError, match="sends failed"):
        cycle(settings)
    assert sim.state.sent == []
    # A refused key is permanent ("refused", requeued by `cli notify --retry-failed`), not a transient "failed".
    assert [e.state for e in ledger(settings).all()] == ["refused"]
    assert users(settings)[scenario.users[0]["id"]].notified_count == 0
    failed = [r for r in runs_table(settings) if r["Outcome"] == "failed"]
    assert failed[0]["Step"] == "notify"


def test_a_graph_failure_is_a_failed_run_never_an_empty_result(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    legacy_signins(scenario, add_user(scenario, "alice"), NOW - timedelta(hours=1), 3)
    scenario.faults["signIns"] = {
        "status": 403,
        "code": "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
        "message": "Neither tenant is B2C or tenant doesn't have premium license",
    }
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    with pytest.raises(StepFailedError) as info:
        cycle(settings, steps=[collect_and_evaluate_step])
    assert "no Microsoft Entra ID P1 or P2 licence" in str(info.value)
    (row,) = runs_table(settings)
    assert (row["Step"], row["Outcome"]) == ("collect", "failed")
    assert users(settings) == {}
    findings = StateTables.open(settings).findings([])
    assert findings[0].name == "signin_logs" and "License Entra ID P1/P2" in findings[0].action
    del scenario.faults["signIns"]  # licensed now: the next run collects and the finding goes away
    cycle(settings, NOW + timedelta(minutes=30), steps=[collect_and_evaluate_step])
    assert "signin_logs" not in {f.name for f in StateTables.open(settings).findings([])}


def test_a_failed_apple_app_check_does_not_stop_the_cycle(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    """Graph refuses the Apple-app check (the identity lacks Application.Read.All): the sign-ins are still
    collected and the users judged; no email goes out while the app's consent is unknown; the cycle fails."""
    scenario = tenant(tenant_id)
    alice = add_user(scenario, "alice")
    legacy_signins(scenario, alice, NOW - timedelta(hours=1), 3)
    scenario.faults["servicePrincipals"] = {
        "status": 403,
        "code": "Authorization_RequestDenied",
        "message": "Insufficient privileges to complete the operation.",
    }
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    with pytest.raises(StepFailedError) as info:
        cycle(settings)
    assert str(info.value).startswith("step 'apple-app' failed: GraphError: Graph answered 403 Authorization_Request")
    assert [(r.step, r.outcome) for r in info.value.runs] == [
        ("apple-app", "failed"),
        ("collect", "succeeded"),
        ("notify", "succeeded"),
    ]
    assert users(settings)[alice["id"]].verdict.status == "legacy_active"
    assert outbox_messages(sim.state.outbox) == []
    assert info.value.runs[2].message.endswith("; emails held: the Apple app is missing or has no admin consent")
