"""Benchmark: read a large tenant's sign-ins at Graph's ceiling, in flat memory, and re-read for free.

python -m bench.ingest --events 1000000 --time-scale 10 --json

Starts Azurite and the tenant simulator (a generated tenant of --users users and --events legacy
sign-ins over 30 days, served lazily, throttled like Graph: 5 requests per 10 seconds, --time-scale
times faster) in processes of their own, then runs the real collect step twice in a fresh worker
process each time: the first run reads the whole 30-day window and judges every user, the second one
reads the same window again. Prints what each figure means below:

  events                 sign-ins counted by the first run
  events_per_s           events / seconds spent reading (first request to last checkpoint)
  ceiling_events_per_s   the simulator's throttle at full pages (5 × 1000 per 10 s, × time scale)
  ceiling_ratio          events_per_s / ceiling_events_per_s
  cpu_ms_per_1000        our parse + fold CPU (main thread) per 1000 sign-ins
  sdk_cpu_ms_per_1000    the same page bytes through msgraph-sdk's models, per 1000 sign-ins
  peak_rss_mb            the worker's peak resident memory (first run)
  graph_requests         requests the first run sent to Graph
  table_writes           entities the first run wrote (users, staging, checkpoints, findings)
  rerun_table_writes     entities the second run over the same window wrote
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import orjson

from bench import emit
from devstack.azurite import Azurite
from sim.generated import GeneratedTenant

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
GRAPH_LIMIT = (5, 10.0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_sim(args: argparse.Namespace, port: int, outbox: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "cli",
        "sim",
        f"--users={args.users}",
        f"--events={args.events}",
        f"--now={NOW.isoformat()}",
        f"--time-scale={args.time_scale}",
        f"--latency-ms={args.latency_ms}",
        f"--spray-share={args.spray_share}",
        f"--port={port}",
        f"--outbox={outbox}",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            problem = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"the simulator did not start: {problem}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the simulator did not start within 60 s")


def _worker_env(args: argparse.Namespace, tenant_id: str, sim_url: str, tables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAM_")}
    env.update(
        {
            "LAM_TENANT_ID": tenant_id,
            "LAM_GRAPH_BASE_URL": sim_url,
            "LAM_GRAPH_AUTH": "none",
            "LAM_TABLES_CONNECTION_STRING": tables,
            "LAM_NOTIFY_MODE": "off",
            "LAM_SIGNINS_RATE_LIMIT": f"{GRAPH_LIMIT[0]}/{GRAPH_LIMIT[1] / args.time_scale:g}s",
            "LAM_COLLECT_MAX_SECONDS": "86400",
        }
    )
    return env


def _run_worker(env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the collect run failed:\n{result.stderr.decode()[-3000:]}")
    data = orjson.loads(result.stdout.splitlines()[-1])
    return data if isinstance(data, dict) else {}


def worker() -> None:
    """One collect run in this process; prints its figures as JSON."""
    from pipeline.cycle import collect_and_evaluate_step, run_with_settings
    from pipeline.settings import load_settings

    settings = load_settings()
    started = time.perf_counter()
    (run,) = asyncio.run(run_with_settings(settings, [collect_and_evaluate_step], NOW))
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures = {
        "outcome": run.outcome,
        "message": run.message,
        "events": run.events,
        "pages": run.pages,
        "writes": run.writes,
        "seconds": seconds,
        "peak_rss_mb": peak_kb / 1024,
        "figures": msgspec.to_builtins(run.figures),
    }
    sys.stdout.write(orjson.dumps(figures).decode() + "\n")


def sdk_comparison(sim_url: str) -> tuple[float, float]:
    """CPU ms per 1000 sign-ins for one full page: msgraph-sdk's models versus our parse + fold."""
    from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
    from msgraph.generated.models.sign_in_collection_response import SignInCollectionResponse

    from collectors.signins import parse_signins_bytes
    from rules.evidence import fold_legacy

    params = {"$filter": "clientAppUsed eq 'Exchange ActiveSync'", "$top": "1000"}
    raw = httpx.get(f"{sim_url}/beta/auditLogs/signIns", params=params, timeout=60).content
    count = len(orjson.loads(raw)["value"])
    started = time.thread_time()
    node = JsonParseNodeFactory().get_root_parse_node("application/json", raw)
    parsed = node.get_object_value(SignInCollectionResponse)
    sdk = time.thread_time() - started
    assert parsed.value is not None and len(parsed.value) == count
    started = time.thread_time()
    for _ in range(20):
        fold_legacy({}, parse_signins_bytes(raw).events, frozenset({"exchange activesync"}))
    ours = (time.thread_time() - started) / 20
    return sdk * 1000 * 1000 / count, ours * 1000 * 1000 / count


def measure(args: argparse.Namespace) -> dict[str, Any]:
    tenant = GeneratedTenant(args.users, args.events, NOW)
    port = _free_port()
    with tempfile.TemporaryDirectory() as outbox, Azurite() as azurite:
        sim = _start_sim(args, port, Path(outbox))
        sim_url = f"http://127.0.0.1:{port}"
        try:
            env = _worker_env(args, tenant.tenant_id, sim_url, azurite.connection_string)
            first = _run_worker(env)
            rerun = _run_worker(env)
            sdk_ms, ours_ms = sdk_comparison(sim_url)
            throttled = httpx.get(f"{sim_url}/_sim/state", timeout=10).json()["throttled"]
        finally:
            sim.terminate()
            sim.wait(timeout=10)
    figures = first["figures"]
    read_s = figures["read_ms"] / 1000
    ceiling = GRAPH_LIMIT[0] * 1000 / (GRAPH_LIMIT[1] / args.time_scale)
    events = first["events"]
    return {
        "events": events,
        "events_per_s": round(events / read_s, 1),
        "ceiling_events_per_s": ceiling,
        "ceiling_ratio": round(events / read_s / ceiling, 3),
        "cpu_ms_per_1000": round(figures["parse_fold_cpu_ms"] / events * 1000, 2),
        "sdk_cpu_ms_per_1000": round(sdk_ms, 1),
        "peak_rss_mb": round(first["peak_rss_mb"], 1),
        "graph_requests": figures["graph"]["requests"],
        "table_writes": first["writes"],
        "rerun_table_writes": rerun["writes"],
        "same_page_ours_cpu_ms_per_1000": round(ours_ms, 2),
        "read_seconds": round(read_s, 1),
        "evaluate_seconds": round(figures["evaluate_ms"] / 1000, 1),
        "end_to_end_events_per_s": round(events / first["seconds"], 1),
        "users_tracked": sum(figures["statuses"].values()),
        "staged_rows": figures["staged_rows"],
        "checkpoints": figures["checkpoints"],
        "throttled_by_simulator": throttled,
        "rerun_events": rerun["events"],
        "time_scale": args.time_scale,
        "command": f"python -m bench.ingest --events {args.events} --users {args.users} "
        f"--time-scale {args.time_scale:g} --json",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--latency-ms", type=float, default=300.0, help="Graph's time to serve a page (unscaled)")
    parser.add_argument("--spray-share", type=float, default=0.01, help="share of sign-ins that are password spray")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    result = measure(args)
    emit(result, args.json)


if __name__ == "__main__":
    main()
