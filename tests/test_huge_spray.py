"""A spray from more sources than the window's state names, through the real collector against Azurite.

Before: past the 1,000 named sources (rules/spray.py, MAX_SOURCES) the victims of the rest were not marked
as spray, so they were judged as devices and the attacked-account count came out low. The sign-ins are
the simulator's Graph shape (sim/graph_shapes.py); 50126 is Entra ID's "invalid username or password"
(https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from core.constants import EXCHANGE_ACTIVESYNC
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from rules.spray import MAX_SOURCES
from sim.graph_shapes import sign_in
from sim.scenario import Scenario
from store.tenant import TenantRepository
from tests.conftest import NOW, figures, sim_settings
from tests.scenarios import add_user, apple_signins, new_id, tenant
from tests.test_ingest import collect, repos

StartSim = Callable[[Scenario], SimServer]
SOURCES = MAX_SOURCES + 50


def test_every_victim_of_a_spray_past_the_named_sources_is_attacked_and_counted(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    scenario = tenant(tenant_id)
    scenario.page_size = 300
    victims = []
    for source in range(SOURCES):  # each source fails on its own two accounts, all within one hour
        for account in range(2):
            person = add_user(scenario, f"victim{source}.{account}")
            victims.append(person["id"])
            when = NOW - timedelta(minutes=30, seconds=source)
            ip = f"2001:db8:{source:x}::1"
            scenario.sign_ins.append(
                sign_in(new_id(), when, person, client_app=EXCHANGE_ACTIVESYNC, error_code=50126, ip=ip)
            )
    apple_signins(scenario, add_user(scenario, "bystander"), NOW - timedelta(days=1))
    scenario.sort()
    sim = start_sim(scenario)
    settings = sim_settings(  # runs of a second: the window takes several, the spray state travels between them
        sim, azurite, LAM_COLLECT_MAX_SECONDS="1", LAM_CHECKPOINT_PAGES="2", LAM_SPRAY_MIN_ACCOUNTS="2"
    )
    read_over = 0
    for n in range(20):
        run = collect(settings, NOW + timedelta(minutes=n))
        assert run.outcome == "succeeded", run.message
        read_over += 1
        if not figures(run).window_open:
            break
    states = repos(settings)[0].load_all()
    assert {states[v].verdict.status for v in victims} == {"attack_suspected"}
    assert {states[v].evidence.spray_failures for v in victims} == {1}
    finding = TenantRepository(repos(settings)[2].get_table_client("tenant"), tenant_id).load_attack()
    assert finding is not None
    assert (finding.accounts, finding.source_count) == (2 * SOURCES, SOURCES)
    assert len(finding.sources) == 20
    assert read_over > 1, "the window took more than one run"
