"""The state tables in Azurite: round trips, change-only writes, big batches, the ledger's guard."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from azure.data.tables import TableServiceClient

from core.dedupe import id_key
from core.ingest import Checkpoint
from core.ledger import LedgerConflictError, LedgerEntry
from core.records import DirectoryUser, Evidence, Status, UserState, Verdict
from devstack.azurite import Azurite
from store.checkpoints import CheckpointRepository
from store.notifications import NotificationLedger
from store.tables import ensure_tables
from store.users import UserRepository
from tests.conftest import NOW


def state(user_id: str, status: Status = "legacy_active") -> UserState:
    return UserState(
        user_id=user_id,
        evidence=Evidence(
            upn=f"{user_id}@contoso.example",
            legacy_success=3,
            legacy_failure=1,
            failure_codes={"53003": 1},
            protocols={"Exchange ActiveSync": 4},
            first_legacy_at=NOW - timedelta(days=3, microseconds=7),
            last_legacy_at=NOW - timedelta(hours=1),
            user_agent="Apple-iPhone14C2/2004.47",
            device_os="Ios",
        ),
        verdict=Verdict(status, ("legacy_signin_succeeded", "legacy_signin_failed")),
        rule_version="1",
        status_since=NOW,
        directory=DirectoryUser(
            id=user_id,
            upn=f"{user_id}@contoso.example",
            display_name="Zoë <O'Brien>",
            mail=f"{user_id}@contoso.example",
        ),
    )


@pytest.fixture
def service(azurite: Azurite) -> TableServiceClient:
    client = TableServiceClient.from_connection_string(azurite.connection_string)
    ensure_tables(client)
    return client


def test_user_state_round_trips_exactly(service: TableServiceClient, tenant_id: str) -> None:
    repo = UserRepository(service.get_table_client("users"), tenant_id)
    original = state("u1")
    assert repo.save_changed([original], {}) == 1
    assert repo.load_all() == {"u1": original}


def test_only_changed_rows_are_written(service: TableServiceClient, tenant_id: str) -> None:
    repo = UserRepository(service.get_table_client("users"), tenant_id)
    states = [state(f"u{i}") for i in range(250)]  # more than two batch transactions' worth
    assert repo.save_changed(states, {}) == 250
    stored = repo.load_all()
    assert len(stored) == 250
    assert repo.save_changed(states, stored) == 0
    changed = [*states[:249], replace(states[249], notified_count=1)]
    assert repo.save_changed(changed, stored) == 1
    assert repo.load_all()["u249"].notified_count == 1


def test_status_filter_is_a_parameter_not_pasted_text(service: TableServiceClient, tenant_id: str) -> None:
    repo = UserRepository(service.get_table_client("users"), tenant_id)
    repo.save_changed([state("u1"), state("u2", "remediated")], {})
    assert [s.user_id for s in repo.query("remediated")] == ["u2"]
    assert repo.query("remediated' or Status ne 'x") == []


def test_other_tenants_rows_stay_apart(service: TableServiceClient, tenant_id: str) -> None:
    table = service.get_table_client("users")
    UserRepository(table, tenant_id).save_changed([state("mine")], {})
    UserRepository(table, tenant_id + "-other").save_changed([state("theirs")], {})
    assert list(UserRepository(table, tenant_id).load_all()) == ["mine"]


def test_checkpoint_fence_round_trips(service: TableServiceClient, tenant_id: str) -> None:
    repo = CheckpointRepository(service.get_table_client("checkpoints"), tenant_id)
    assert repo.load("signins-legacy") == Checkpoint("signins-legacy")
    fence = {id_key(f"id-{i}") for i in range(20000)}  # spans several 64 KiB properties
    repo.save(Checkpoint("signins-legacy", watermark=NOW, fence=fence))
    loaded = repo.load("signins-legacy")
    assert loaded.watermark == NOW
    assert loaded.fence == fence


def test_the_ledger_refuses_a_second_intent_for_the_same_message(service: TableServiceClient, tenant_id: str) -> None:
    ledger = NotificationLedger(service.get_table_client("notifications"), tenant_id)
    entry = LedgerEntry("u1", "remediation-1", "op-1", "sending", "remediation", "en", "u1@contoso.example", NOW)
    started = ledger.begin(entry)
    with pytest.raises(LedgerConflictError):
        ledger.begin(replace(entry, operation_id="op-2"))
    ledger.complete(replace(started, state="sent", completed_at=NOW))
    assert ledger.get("u1", "remediation-1") == replace(entry, state="sent", completed_at=NOW)
    with pytest.raises(LedgerConflictError):  # moved since `started` was read: a second move is refused
        ledger.complete(replace(started, state="throttled"))
    assert ledger.get("u1", "remediation-1") == replace(entry, state="sent", completed_at=NOW)
