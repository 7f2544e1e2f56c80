"""The I/O shell every step runs in (Graph, the state tables, the sender), and how a step is recorded.

Each step writes a row to the runs table, succeeded or failed; a failure is raised as StepFailedError
so the caller exits non-zero instead of pretending all is well.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from azure.data.tables import TableServiceClient

from collectors.graph import GraphClient, build_graph_client
from collectors.pacing import RequestPacer, pacer_for
from core.clock import utcnow
from core.settings import Settings
from notify.senders import Sender, build_sender
from store.checkpoints import CheckpointRepository
from store.notifications import NotificationLedger
from store.runs import RunRecord, RunRepository
from store.tables import ensure_tables, table_service
from store.tenant import TenantRepository
from store.users import UserRepository


class StepFailedError(RuntimeError):
    def __init__(self, run: RunRecord) -> None:
        self.run = run
        super().__init__(f"step {run.step!r} failed: {run.message}")


@dataclass
class Services:
    """The I/O shell built from settings: Graph, the state tables, the sender."""

    settings: Settings
    graph: GraphClient
    users: UserRepository
    checkpoints: CheckpointRepository
    runs: RunRepository
    tenant: TenantRepository
    ledger: NotificationLedger
    sender: Sender | None
    tables: TableServiceClient
    signin_pacer: RequestPacer
    """Graph's budget for sign-in logs, shared by every run of this tenant in this process."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        service = table_service(settings)
        ensure_tables(service)
        tid = settings.tenant_id
        return cls(
            settings=settings,
            tables=service,
            signin_pacer=pacer_for(tid, *settings.signins_rate_limit),
            graph=build_graph_client(settings),
            users=UserRepository(service.get_table_client("users"), tid),
            checkpoints=CheckpointRepository(service.get_table_client("checkpoints"), tid),
            runs=RunRepository(service.get_table_client("runs"), tid),
            tenant=TenantRepository(service.get_table_client("tenant"), tid),
            ledger=NotificationLedger(service.get_table_client("notifications"), tid),
            sender=build_sender(settings),
        )

    async def close(self) -> None:
        await self.graph.close()


async def recorded(svc: Services, step: str, now: datetime, body: Callable[[RunRecord], Awaitable[None]]) -> RunRecord:
    run = RunRecord(step=step, started_at=now)
    try:
        await body(run)
    except Exception as exc:
        run.outcome = "failed"
        run.message = f"{type(exc).__name__}: {exc}"
        run.ended_at = utcnow()
        svc.runs.record(run)
        raise StepFailedError(run) from exc
    run.outcome = "succeeded"
    run.ended_at = utcnow()
    svc.runs.record(run)
    return run


Step = Callable[[Services, datetime | None], Awaitable[RunRecord]]


async def run_with_settings(settings: Settings, steps: list[Step], now: datetime | None = None) -> list[RunRecord]:
    """Build the I/O shell, run the steps in order with one clock reading, and always close it."""
    svc = Services.from_settings(settings)
    stamp = now or utcnow()
    try:
        return [await step(svc, stamp) for step in steps]
    finally:
        await svc.close()
