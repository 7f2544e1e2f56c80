"""What reading device partnerships costs: our two paged calls vs the per-mailbox report, on the simulator.

    python -m bench.devices_cost [--mailboxes 10000] [--json]

The per-mailbox report (the seed script) lists mailboxes, then runs Get-MobileDevice for each
mailbox and Get-MobileDeviceStatistics for each device. Ours lists mailboxes and devices in two
paged calls and asks for statistics only for devices that could be legacy. Both run against the
same simulated tenant and the simulator counts their requests.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench import emit
from collectors.devices import ExchangeAdminClient, ExchangeTarget, collect_devices
from devstack.simulator import SimServer
from sim.graph_shapes import exchange_device, exchange_mailbox, user
from sim.scenario import Scenario

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def build_tenant(mailboxes: int, seed: int = 7) -> Scenario:
    """60 % of mailboxes have a partnership (a fifth of those two); 15 % of devices are old Apple profiles."""
    rng = random.Random(seed)
    scenario = Scenario(tenant_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
    for i in range(mailboxes):
        person = user(str(uuid.UUID(int=rng.getrandbits(128), version=4)), f"user{i}@contoso.example", f"User {i}")
        box = exchange_mailbox(person, f"mbx{i:06d}")
        scenario.mailboxes.append(box)
        if rng.random() < 0.6:
            for n in range(2 if rng.random() < 0.2 else 1):
                old = rng.random() < 0.15
                first = datetime(2017, 1, 1, tzinfo=UTC) if old else datetime(2022, 1, 1, tzinfo=UTC)
                scenario.devices.append(
                    exchange_device(
                        box,
                        f"D{i}N{n}",
                        first_sync=first + timedelta(days=rng.randint(0, 400)),
                        last_sync=NOW - timedelta(days=rng.randint(0, 90)),
                    )
                )
    return scenario


async def per_mailbox_report(target: ExchangeTarget) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        exo = ExchangeAdminClient(target, http, None)
        boxes = [m async for m in exo.run("Get-Mailbox", {"ResultSize": "Unlimited"})]
        for box in boxes:
            async for device in exo.run("Get-MobileDevice", {"Mailbox": box["UserPrincipalName"]}):
                async for _ in exo.run("Get-MobileDeviceStatistics", {"Identity": device["Guid"]}):
                    pass


def measure(mailboxes: int) -> dict[str, Any]:
    scenario = build_tenant(mailboxes)
    with SimServer(scenario, Path(tempfile.mkdtemp())) as sim:
        target = ExchangeTarget(sim.url, scenario.tenant_id, "contoso.onmicrosoft.com")
        started = time.perf_counter()
        harvest = asyncio.run(collect_devices(target))
        ours_s = time.perf_counter() - started
        ours = sum(v for k, v in sim.state.requests.items() if k == "InvokeCommand")
        sim.state.requests.clear()
        started = time.perf_counter()
        asyncio.run(per_mailbox_report(target))
        report_s = time.perf_counter() - started
        theirs = sim.state.requests.get("InvokeCommand", 0)
    return {
        "mailboxes": mailboxes,
        "devices": len(scenario.devices),
        "devices_read": len(harvest.devices),
        "ours_requests": ours,
        "per_mailbox_requests": theirs,
        "ratio": round(theirs / max(ours, 1), 1),
        "ours_seconds_on_loopback": round(ours_s, 1),
        "per_mailbox_seconds_on_loopback": round(report_s, 1),
        "command": f"python -m bench.devices_cost --mailboxes {mailboxes} --json",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mailboxes", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.mailboxes)
    emit(result, args.json)


if __name__ == "__main__":
    main()
