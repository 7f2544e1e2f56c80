"""The one wiring of the I/O shell from settings: the state tables, Graph, the sender.

Timers, the admin app, the CLI and the demo all build what they use here, so a credential or a
table is chosen in one place. Each step records one row in the runs table, succeeded or failed; a
failure is raised as StepFailedError so the caller exits non-zero instead of pretending all is well.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from azure.data.tables import TableServiceClient

from collectors.devices import ExchangeTarget
from collectors.graph import GraphClient, build_graph_client
from collectors.pacing import RequestPacer, pacer_for
from core.clock import utcnow
from core.findings import Finding, SenderSetup
from core.records import UserState
from core.retry import RetryPolicy
from core.runs import RunRecord, StepError, StepResult
from notify.senders import AcsSender, OutboxSender, Sender
from pipeline.credentials import acs_credential, async_credential, sync_credential
from pipeline.settings import Settings
from rules.readiness import tenant_findings
from rules.retirements import retirement_findings
from store.checkpoints import CheckpointRepository
from store.notifications import NotificationLedger
from store.runs import RunRepository
from store.tables import ensure_tables, table_service
from store.tenant import TenantRepository
from store.users import UserRepository


class StepFailedError(RuntimeError):
    """One or more steps failed; ``runs`` are all the runs made (each recorded), failed or not."""

    def __init__(self, runs: list[RunRecord]) -> None:
        self.runs = runs
        self.failed = [run for run in runs if run.outcome == "failed"]
        super().__init__("; ".join(f"step {run.step!r} failed: {run.message}" for run in self.failed))


@dataclass
class StateTables:
    """The state tables of one tenant: what the admin views, the CLI and every step read and write."""

    service: TableServiceClient
    users: UserRepository
    checkpoints: CheckpointRepository
    runs: RunRepository
    tenant: TenantRepository
    ledger: NotificationLedger
    mail_from: SenderSetup | None
    """Who user emails come from (None when they are off): judged by the sender-domain finding."""
    watched: tuple[str, ...]
    """The watched legacy protocols: each with a switch-off date gets its readiness finding."""

    @classmethod
    def open(cls, settings: Settings, create: bool = False) -> StateTables:
        local = settings.tables_connection_string
        service = table_service(local, settings.tables_endpoint, None if local else sync_credential(settings))
        if create:
            ensure_tables(service)
        tid = settings.tenant_id
        return cls(
            service=service,
            users=UserRepository(service.get_table_client("users"), tid),
            checkpoints=CheckpointRepository(service.get_table_client("checkpoints"), tid),
            runs=RunRepository(service.get_table_client("runs"), tid),
            tenant=TenantRepository(service.get_table_client("tenant"), tid),
            ledger=NotificationLedger(service.get_table_client("notifications"), tid),
            mail_from=sender_setup(settings),
            watched=settings.legacy_protocols,
        )

    def findings(self, states: list[UserState] | None = None) -> list[Finding]:
        """The tenant's findings as the admin reads them everywhere (dashboard, digest, CLI)."""
        snapshot = replace(self.tenant.snapshot(), sender=self.mail_from)
        states = self.users.query() if states is None else states
        return tenant_findings(snapshot, states) + retirement_findings(states, utcnow(), self.watched)


def sender_setup(settings: Settings) -> SenderSetup | None:
    if settings.notify_mode == "off" or not settings.sender_address:
        return None
    messages = settings.messages
    return SenderSetup(settings.sender_address, messages.send_per_hour, 1 + len(messages.reminder_days))


def retry_policy(settings: Settings) -> RetryPolicy:
    """The one retry policy of Graph, Exchange and ACS calls."""
    return RetryPolicy(max_retries=settings.graph_max_retries)


def graph_client(settings: Settings) -> GraphClient:
    return build_graph_client(
        settings.graph_base_url,
        async_credential(settings),
        timeout_seconds=settings.graph_timeout_seconds,
        retry=retry_policy(settings),
    )


def build_sender(settings: Settings) -> Sender | None:
    if settings.notify_mode == "live":
        endpoint, sender = settings.acs_endpoint or "", settings.sender_address or ""
        return AcsSender.connect(endpoint, acs_credential(settings), sender, retry_policy(settings))
    if settings.notify_mode == "dry-run":
        return OutboxSender(settings.outbox_dir, settings.sender_address or "")
    return None


def exchange_target(settings: Settings) -> ExchangeTarget:
    return ExchangeTarget(settings.exo_base_url, settings.tenant_id, settings.exo_organization or "")


@dataclass
class Services(StateTables):
    """Everything a step needs: the state tables, Graph, the sender, Graph's budget for sign-in logs."""

    settings: Settings
    graph: GraphClient
    sender: Sender | None
    signin_pacer: RequestPacer
    """Graph's budget for sign-in logs, shared by every run of this tenant in this process."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        tables = StateTables.open(settings, create=True)
        return cls(
            **vars(tables),
            settings=settings,
            signin_pacer=pacer_for(settings.tenant_id, *settings.signins_rate_limit),
            graph=graph_client(settings),
            sender=build_sender(settings),
        )

    async def close(self) -> None:
        await self.graph.close()


async def recorded(
    svc: Services, step: str, now: datetime, body: Callable[[datetime], Awaitable[StepResult]]
) -> RunRecord:
    """Run a step's body and record its result once, succeeded or failed (with what it did before failing)."""
    try:
        result = await body(now)
    except Exception as exc:
        partial = exc.partial if isinstance(exc, StepError) else StepResult()
        failed = replace(partial, message=f"{type(exc).__name__}: {exc}")
        run = RunRecord.of(step, now, utcnow(), "failed", failed)
        svc.runs.record(run)
        raise StepFailedError([run]) from exc
    run = RunRecord.of(step, now, utcnow(), "succeeded", result)
    svc.runs.record(run)
    return run


Step = Callable[[Services, datetime | None], Awaitable[RunRecord]]


async def run_with_settings(settings: Settings, steps: list[Step], now: datetime | None = None) -> list[RunRecord]:
    """Build the I/O shell, run the steps in order with one clock reading, and always close it.

    A failed step does not stop the ones after it (each works from what is stored: a failed Apple-app
    check still lets the sign-ins be collected); the failures are raised together at the end."""
    svc = Services.from_settings(settings)
    stamp = now or utcnow()
    runs: list[RunRecord] = []
    failures: list[StepFailedError] = []
    try:
        for step in steps:
            try:
                runs.append(await step(svc, stamp))
            except StepFailedError as exc:
                runs.extend(exc.runs)
                failures.append(exc)
    finally:
        await svc.close()
    if failures:
        raise StepFailedError(runs) from failures[0]
    return runs
