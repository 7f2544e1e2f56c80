"""What the admin views cost on a large tenant: latency of each view over real HTTP, against Azurite.

    python -m bench.admin_views [--users 100000] [--requests 10] [--json]

Seeds --users tracked users (legacy_active, remediated, stale, attack_suspected in a fixed mix, with
real-looking Apple agents) into Azurite's users table, serves the admin app (the same one the HTTP
function serves) with uvicorn on loopback, and asks each view --requests times. Prints, per view:

  <view>_p50_ms, <view>_p95_ms   latency over the requests (the first one, which opens the tables, included)
  <view>_bytes                   size of one answer
  seed_seconds                   how long writing the users took (transactions of 100)
  breakdown_ms                   what counting the summary's figures adds to a collect run over these users

After seeding, one collect run is recorded with the figures a collect run keeps for these users (status
counts and the breakdown), as the summary and dashboard read them.

Views: summary (/api/summary), dashboard (/api/dashboard, its table a page of 100), users
(/api/users?limit=100), csv (/api/users?format=csv, streamed), protocols (/api/protocols), senders
(/api/senders?protocol=Exchange ActiveSync&limit=100). The issue's target: p95 under 300 ms for all but the CSV.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx

from bench import emit
from core.records import DirectoryUser, Evidence, Status, UserState, Verdict
from core.runs import CollectFigures, RunRecord, StepResult
from devstack.asgi_server import AsgiServer
from devstack.azurite import Azurite
from pipeline.admin import admin_app
from pipeline.settings import load_settings
from pipeline.wiring import StateTables
from report.summary import counted

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
VIEWS = {
    "summary": "/api/summary",
    "dashboard": "/api/dashboard",
    "users": "/api/users?limit=100",
    "csv": "/api/users?format=csv",
    "protocols": "/api/protocols",
    "senders": "/api/senders?protocol=Exchange%20ActiveSync&limit=100",
}
MIX = (("legacy_active", 0.4), ("remediated", 0.3), ("stale", 0.2), ("attack_suspected", 0.1))
AGENTS = ("Apple-iPhone10C1/1604.57", "Apple-iPhone14C2/2004.47", "Apple-iPad7C5/1907.71", "Apple-iPhone9C3/1803.73")


def tracked_user(rng: random.Random, number: int) -> UserState:
    status = rng.choices([s for s, _ in MIX], [w for _, w in MIX])[0]
    user_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    upn = f"user{number}@contoso.example"
    last = NOW - timedelta(hours=rng.randint(1, 24 * 30))
    evidence = Evidence(
        upn=upn,
        legacy_success=rng.randint(0, 20),
        legacy_failure=rng.randint(0, 20),
        protocols={"Exchange ActiveSync": 5},
        first_legacy_at=last - timedelta(days=rng.randint(0, 20)),
        last_legacy_at=last,
        user_agent=rng.choice(AGENTS),
        agents={rng.choice(AGENTS): 5},
        networks={"203.0.113.0/24": 5},
        countries={"DE": 5},
    )
    return UserState(
        user_id=user_id,
        evidence=evidence,
        verdict=Verdict(cast(Status, status), ("legacy_signin_succeeded",), ("remove_and_readd",)),
        rule_version="bench",
        status_since=last,
        directory=DirectoryUser(user_id, upn, f"User {number}", upn, "en-US", "DE"),
        notified_count=rng.randint(0, 3) if status == "legacy_active" else 0,
    )


def measure(users: int, requests: int) -> dict[str, Any]:
    rng = random.Random(7)
    with Azurite() as azurite:
        settings = load_settings(
            {
                "LAM_TENANT_ID": "5b1d7a0e-3c39-4f0e-9a8e-4d2c6f1b7a90",
                "LAM_TABLES_CONNECTION_STRING": azurite.connection_string,
                "LAM_NOTIFY_MODE": "off",
            }
        )
        tables = StateTables.open(settings, create=True)
        states = [tracked_user(rng, n) for n in range(users)]
        started = time.perf_counter()
        tables.users.write_if_changed((state, None) for state in states)
        seeded = time.perf_counter() - started
        counting = time.perf_counter()
        kept = counted(states)  # what the collect run counts while it judges these users, and records
        breakdown_ms = (time.perf_counter() - counting) * 1000
        figures = CollectFigures(statuses=kept.statuses, breakdown=kept.breakdown)
        tables.runs.record(RunRecord.of("collect", NOW, NOW, "succeeded", StepResult(figures)))
        server = AsgiServer(admin_app(lambda: settings), name="admin-bench").start()
        result: dict[str, Any] = {
            "users": users,
            "requests": requests,
            "seed_seconds": round(seeded, 1),
            "breakdown_ms": round(breakdown_ms, 1),
        }
        try:
            with httpx.Client(base_url=server.url, timeout=600) as client:
                for name, path in VIEWS.items():
                    times, size = [], 0
                    for _ in range(requests):
                        began = time.perf_counter()
                        response = client.get(path)
                        times.append((time.perf_counter() - began) * 1000)
                        response.raise_for_status()
                        size = len(response.content)
                    result[f"{name}_p50_ms"] = round(statistics.median(times), 1)
                    result[f"{name}_p95_ms"] = round(statistics.quantiles(times, n=20)[-1], 1)
                    result[f"{name}_bytes"] = size
        finally:
            server.stop()
    result["command"] = f"python -m bench.admin_views --users {users} --requests {requests} --json"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    emit(measure(args.users, max(args.requests, 2)), args.json)


if __name__ == "__main__":
    main()
