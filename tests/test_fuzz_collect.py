"""A seeded fuzz of the real collector: hostile pages from a loopback Graph, state in Azurite.

Every page the simulator serves may be changed (random.Random(SEED), so a failure replays): records
that cannot be used are added (each with a defect that makes it unusable by Graph's own schema: no
id, a user id a key cannot hold, an impossible time, an error code that is not a number), the real
records get hostile values in fields that do not decide the count (huge, markup, control characters,
nested deep), and whole answers are replaced by faults (throttling with far Retry-After, 503, a 200
with an error body, a cut body, a nextLink elsewhere). Runs go on until the window closes.

Asserted, as the admin sees it: no run failed because of a record, every row stays bounded, no run
waited past its deadline, and the counts of the real sign-ins are exact.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
from azure.data.tables import TableServiceClient

from core.bounds import MAX_TEXT_CHARS
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.wiring import StepFailedError
from sim.scenario import Scenario
from tests.conftest import NOW, sim_settings
from tests.hostile import Answer, HostileGraph, Rewrite, graph_error
from tests.test_ingest import busy_tenant, collect, counted, truth

StartSim = Callable[[Scenario], SimServer]
SEED = 16
RUNS = 12
DEADLINE_SECONDS = 8
PROPERTY_CHARS = 32 * 1024  # Table Storage: a string property holds 64 KiB (32K UTF-16 units)
ROW_BYTES = 1024 * 1024


def hostile_text(rng: random.Random) -> str:
    pieces = [
        "[/]",
        "[link=http://evil.example]x[/link]",
        '=HYPERLINK("http://evil.example")',
        "\x1b[2J",
        "\x00",
        "\u202e",
        "é",
        "𝔘",
        "'",
        '"',
        "\\",
        "/",
        "#",
        "?",
        "!",
    ]
    text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
    return text + "A" * rng.choice([0, 10, 600, 9000])


def unusable(rng: random.Random, n: int) -> object:
    """A record that cannot be counted: one fatal defect, everything else random."""
    record: dict[str, Any] = {
        "id": f"fuzz-{n}",
        "createdDateTime": (NOW - timedelta(hours=rng.randint(1, 600))).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "userId": f"fuzz-user-{n}",
        "userPrincipalName": hostile_text(rng),
        "clientAppUsed": "Exchange ActiveSync",
        "status": {"errorCode": rng.choice([0, 50126, 53003])},
        "userAgent": hostile_text(rng),
    }
    defect = rng.randrange(6)
    if defect == 0:
        record["id"] = rng.choice([None, "", 7, [], {"x": 1}])
    elif defect == 1:
        record["userId"] = rng.choice(["a/b", "a#b", "a?b", "a\x00b", "a b", "", None, "x" * 400])
    elif defect == 2:
        record["createdDateTime"] = rng.choice(["0001-01-01T00:00:00+01:00", "not a date", 12, None, "2026-13-40"])
    elif defect == 3:
        record["status"] = {"errorCode": rng.choice(["--5", "²", "", None, "1e3", True, 1.5])}
    elif defect == 4:
        record["status"] = rng.choice([None, "failed", [], {"errorCode": {"nested": 1}}])
    else:
        return rng.choice([None, 5, "record", [1, 2]])
    return record


def spoil(rng: random.Random, record: dict[str, Any]) -> None:
    """Hostile values in fields that do not decide whether or how a sign-in counts."""
    choice = rng.randrange(4)
    if choice == 0:
        record["userAgent"] = hostile_text(rng)
    elif choice == 1:
        record["deviceDetail"] = "DEEP"  # replaced by 5,000 levels of nesting in the page's bytes
    elif choice == 2:
        record["location"] = rng.choice([None, 5, "x", [], {"countryOrRegion": hostile_text(rng)}])
    else:
        record["userPrincipalName"] = hostile_text(rng)


def page_fault(rng: random.Random, path: str) -> Answer | None:
    roll = rng.random()
    if roll < 0.05:
        throttled = graph_error(429, "TooManyRequests", "Too many requests. Please try again later.")
        throttled.headers["Retry-After"] = rng.choice(["999999", "1", "Wed, 21 Oct 2099 07:28:00 GMT", "soon"])
        return throttled
    if roll < 0.08:
        return graph_error(503, "ServiceUnavailable", "Service Unavailable")
    if roll < 0.11:
        return graph_error(200, "UnknownError", "")
    if roll < 0.13:
        return Answer(200, b'{"value": [{"id": "cut', {"Content-Type": "application/json"})
    return None


def test_hostile_pages_never_fail_a_run_for_a_record_and_count_the_real_ones_exactly(
    tenant_id: str, start_sim: StartSim, azurite: Azurite
) -> None:
    rng = random.Random(SEED)
    scenario = busy_tenant(tenant_id, NOW, people=6, each=100, page_size=10)
    sim = start_sim(scenario)
    counter = iter(range(10**6))

    def fault(number: int, path: str) -> Answer | Rewrite | None:
        answer = page_fault(rng, path)
        if answer is not None:
            return answer
        foreign = rng.random() < 0.03

        def rewrite(page: dict[str, Any]) -> bytes:
            for record in page["value"]:
                if rng.random() < 0.3:
                    spoil(rng, record)
            page["value"] += [unusable(rng, next(counter)) for _ in range(rng.randint(0, 4))]
            rng.shuffle(page["value"])
            if foreign and page.get("@odata.nextLink"):
                page["@odata.nextLink"] = rng.choice(["http://127.0.0.1:9/beta/x", "/beta/x", "garbage"])
            return orjson.dumps(page).replace(b'"DEEP"', b"[" * 5000 + b"]" * 5000)

        return rewrite

    with HostileGraph(sim.url, fault) as graph:
        settings = sim_settings(
            sim,
            azurite,
            LAM_GRAPH_BASE_URL=graph.url,
            LAM_GRAPH_MAX_RETRIES="2",
            LAM_GRAPH_MAX_RETRY_AFTER_SECONDS="1",
            LAM_GRAPH_TIMEOUT_SECONDS="5",
            LAM_COLLECT_MAX_SECONDS=str(DEADLINE_SECONDS),
            LAM_CHECKPOINT_PAGES="2",
        )
        closed, skipped, failures = False, 0, []
        for n in range(RUNS):
            started = time.monotonic()
            try:
                run = collect(settings, NOW + timedelta(seconds=n))
            except StepFailedError as exc:
                (run,) = exc.failed
                failures.append(run.message)
            assert time.monotonic() - started < DEADLINE_SECONDS + 30, "a run waited past its deadline"
            skipped += run.skipped
            if run.outcome == "succeeded" and not run.figures.window_open:  # type: ignore[union-attr]
                closed = True
                break
    assert closed, f"the window never closed in {RUNS} runs: {failures}"
    record_causes = [m for m in failures if "missing_" in m or "bad_" in m or "Recursion" in m or "Overflow" in m]
    assert record_causes == [], "a run failed because of one record"
    assert all(
        "noValue" in m
        or "invalidJson" in m
        or "foreignNextLink" in m
        or "Retries" in m
        or "ServiceUnavailable" in m
        or "TooManyRequests" in m
        for m in failures
    ), failures
    assert skipped > 0, "the hostile records were skipped and counted"
    assert counted(settings) == truth(scenario, NOW - timedelta(days=30), NOW)
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    for table in ("users", "checkpoints", "runs"):
        for row in service.get_table_client(table).query_entities("PartitionKey eq @pk", parameters={"pk": tenant_id}):
            assert len(orjson.dumps(dict(row), default=str)) < ROW_BYTES
            for name, value in row.items():
                if isinstance(value, str):
                    assert len(value) <= PROPERTY_CHARS, (table, name)
                    if table == "users" and name not in (
                        "Agents",
                        "Devices",
                        "FailureCodes",
                        "Protocols",
                        "Networks",
                        "Countries",
                    ):
                        assert len(value) <= MAX_TEXT_CHARS, (name, len(value))
