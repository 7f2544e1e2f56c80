"""Tenant readiness against the simulator: consent, Conditional Access, and what the admin is told."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from core.records import Verdict
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.cycle import FULL_CYCLE, check_apple_app_step, collect_and_evaluate_step, run_with_settings
from pipeline.settings import Settings
from pipeline.wiring import StateTables
from rules.status import RULE_VERSION
from sim.graph_shapes import legacy_block_policy
from sim.scenario import Scenario, authorization_policy
from store.users import to_entity
from tests.conftest import NOW, outbox_messages, sim_settings
from tests.scenarios import add_user, legacy_signins, tenant

StartSim = Callable[[Scenario], SimServer]


def findings_text(settings: Settings) -> str:
    found = StateTables.open(settings).findings()
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
    """A row judged by an older rule set, with a verdict the current rules would not give, is judged again
    by the next collect run even though that run reads no new sign-in for the user."""
    scenario = tenant(tenant_id)
    alice = add_user(scenario, "alice")
    legacy_signins(scenario, alice, NOW - timedelta(hours=1), 3)
    sim = start_sim(scenario)
    settings = sim_settings(sim, azurite)
    asyncio.run(run_with_settings(settings, [collect_and_evaluate_step], NOW))
    users = StateTables.open(settings).users
    judged = users.get(alice["id"])
    assert judged is not None and (judged.verdict.status, judged.rule_version) == ("legacy_active", RULE_VERSION)

    # The row as an older rule set left it, written straight into the users table: that set's version and
    # a verdict (status, reasons, advice) that today's rules would never give for this evidence.
    stale = Verdict("stale", ("no_legacy_signin_in_stale_window",))
    old_row = replace(judged, rule_version="legacy_activity@0", verdict=stale)
    users.table.upsert_entity(to_entity(tenant_id, old_row))
    assert users.get(alice["id"]) == old_row, "the old rule set's row is what the next run finds"

    (run,) = asyncio.run(run_with_settings(settings, [collect_and_evaluate_step], NOW + timedelta(minutes=5)))
    assert run.outcome == "succeeded"
    assert run.events == 0, "no new sign-ins: only re-judging the stored row can change it"
    again = users.get(alice["id"])
    assert again is not None
    assert again.evidence == judged.evidence
    assert (again.verdict.status, again.rule_version) == ("legacy_active", RULE_VERSION)
    assert again.verdict == judged.verdict, "status, reasons and advice as the current rules give them"
    assert run.users_changed == 1, "the re-judged row is written back"
