"""Tenant readiness against the simulator: consent, Conditional Access, and what the admin is told."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from azure.data.tables import TableServiceClient

from core.pipeline import FULL_CYCLE, check_apple_app_step, collect_and_evaluate_step, run_with_settings
from core.settings import Settings
from devstack.azurite import Azurite
from rules.status import RULE_VERSION
from sim.graph_shapes import legacy_block_policy
from sim.scenario import Scenario, authorization_policy
from sim.server import SimServer
from store.tenant import TenantRepository
from store.users import UserRepository
from tests.conftest import NOW, outbox_messages, sim_settings
from tests.scenarios import add_user, legacy_signins, tenant

StartSim = Callable[[Scenario], SimServer]


def repos(settings: Settings) -> tuple[TenantRepository, UserRepository]:
    service = TableServiceClient.from_connection_string(settings.tables_connection_string or "")
    return (
        TenantRepository(service.get_table_client("tenant"), settings.tenant_id),
        UserRepository(service.get_table_client("users"), settings.tenant_id),
    )


def findings_text(settings: Settings) -> str:
    tenant_repo, users = repos(settings)
    legacy = sum(1 for s in users.load_all().values() if s.verdict.status == "legacy_active")
    found = tenant_repo.findings(legacy)
    return "\n".join(f"{f.name}|{f.ok}|{f.summary}|{f.action}" for f in found)


def test_users_who_may_consent_themselves_are_mailed_without_admin_consent(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id, consented=False)
    scenario.authorization_policy = authorization_policy(user_consent=True)
    legacy_signins(scenario, add_user(scenario, "alice"), NOW - timedelta(hours=1), 3)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    asyncio.run(run_with_settings(settings, FULL_CYCLE, NOW))
    assert [m["To"] for m in outbox_messages(sim.state.outbox)] == ["Alice <alice@contoso.example>"]
    assert "apple_app|True|Apple Internet Accounts has no admin consent" in findings_text(settings)


def test_a_missing_apple_app_is_a_finding_with_the_consent_to_grant(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id, apple_present=False)
    legacy_signins(scenario, add_user(scenario, "alice"), NOW - timedelta(hours=1), 3)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    asyncio.run(run_with_settings(settings, FULL_CYCLE, NOW))
    assert outbox_messages(sim.state.outbox) == []
    text = findings_text(settings)
    assert "apple_app|False|Apple Internet Accounts is not in the tenant; user emails are held." in text
    assert "appId f8d98a96-0999-43f5-8af3-69971c7bb423" in text


def test_conditional_access_readiness_counts_who_would_break(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    scenario.ca_policies = [legacy_block_policy("Block legacy auth", "enabledForReportingButNotEnforced")]
    for name in ("alice", "bob"):
        legacy_signins(scenario, add_user(scenario, name), NOW - timedelta(hours=1), 3)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    asyncio.run(run_with_settings(settings, FULL_CYCLE, NOW))
    text = findings_text(settings)
    assert "(report-only: Block legacy auth); enabling one today would cut off 2 user(s)" in text

    scenario.ca_policies = [legacy_block_policy("Block legacy auth", "enabled")]
    asyncio.run(run_with_settings(settings, [check_apple_app_step], NOW + timedelta(hours=1)))
    assert "ca_legacy_block|True|Legacy authentication is blocked by: Block legacy auth" in findings_text(settings)


def test_without_policy_read_the_check_reports_what_to_grant(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    denied = {"status": 403, "code": "Authorization_RequestDenied", "message": "Insufficient privileges"}
    scenario.faults = {"authorizationPolicy": dict(denied), "conditionalAccessPolicies": dict(denied)}
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    (run,) = asyncio.run(run_with_settings(settings, [check_apple_app_step], NOW))
    assert run.outcome == "succeeded"
    text = findings_text(settings)
    assert (
        "user_consent|False|User consent policy unknown: "
        "Authorization_RequestDenied: grant the monitor's identity Policy.Read.All" in text
    )
    assert "ca_legacy_block|False|Conditional Access unknown" in text


def test_a_new_rule_version_re_evaluates_stored_users(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> None:
    scenario = tenant(tenant_id)
    alice = add_user(scenario, "alice")
    legacy_signins(scenario, alice, NOW - timedelta(hours=1), 3)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    asyncio.run(run_with_settings(settings, [collect_and_evaluate_step], NOW))
    _, users = repos(settings)
    stored = users.load_all()
    wrong = replace(
        stored[alice["id"]],
        rule_version="legacy_activity@0",
        verdict=replace(stored[alice["id"]].verdict, status="stale"),
    )
    users.save_changed([wrong], stored)
    asyncio.run(run_with_settings(settings, [collect_and_evaluate_step], NOW + timedelta(minutes=5)))
    again = users.load_all()[alice["id"]]
    assert (again.verdict.status, again.rule_version) == ("legacy_active", RULE_VERSION)
