"""The one wiring of the I/O shell from settings: the state tables, Graph, the sender.

Timers, the admin app, the CLI and the demo all build what they use here, so a credential or a
table is chosen in one place. Each step records one row in the runs table, succeeded or failed; a
failure is raised as StepFailedError so the caller exits non-zero instead of pretending all is well.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from azure.core.exceptions import AzureError
from azure.data.tables import TableServiceClient

from collectors.devices import ExchangeTarget
from collectors.graph import GraphClient, build_graph_client
from collectors.pacing import RequestPacer, pacer_for
from core.bounds import bounded
from core.clock import utcnow
from core.findings import Finding, SenderSetup
from core.records import UserState
from core.retry import RetryPolicy
from core.runs import RunRecord, StepError, StepResult
from notify.senders import AcsSender, OutboxSender, Sender
from pipeline.credentials import acs_credential, async_credential, sync_credential
from pipeline.settings import Settings
from rules.readiness import tenant_findings, tenant_findings_counted
from rules.retirements import RECENT_DAYS, retirement_findings
from rules.switches import switch_findings
from store.checkpoints import CheckpointRepository
from store.notifications import NotificationLedger
from store.runs import RunRepository
from store.tables import ensure_tables, table_service
from store.tenant import TenantRepository
from store.users import UserRepository


class StepFailedError(RuntimeError):
    """One or more steps failed; ``runs`` are all the runs made (each recorded), failed or not."""

    def __init__(self, runs: list[RunRecord], storage_down: bool = False) -> None:
        self.runs = runs
        self.failed = [run for run in runs if run.outcome == "failed"]
        self.storage_down = storage_down
        """The state tables failed, not the steps' own work (the CLI's exit code tells them apart)."""
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
    exchange_on: bool
    """The Exchange collector is on (LAM_COLLECT_DEVICES): the switch findings say so when it is not."""
    owners: dict[str, str]
    """The owner map (LAM_SENDER_OWNERS) the admin views show senders' owners from."""

    @classmethod
    def open(cls, settings: Settings, create: bool = False, connect_retries: int | None = None) -> StateTables:
        """``connect_retries``: fewer than the SDK's default where someone waits for the answer (admin views)."""
        local = settings.tables_connection_string
        credential = None if local else sync_credential(settings)
        options = {} if connect_retries is None else {"retry_connect": connect_retries, "retry_backoff_factor": 0.2}
        service = table_service(local, settings.tables_endpoint, credential, **options)
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
            exchange_on=settings.collect_devices,
            owners=settings.messages.owners,
        )

    def findings(
        self,
        states: list[UserState] | None = None,
        legacy_active: int | None = None,
        recent: list[UserState] | None = None,
    ) -> list[Finding]:
        """The tenant's findings as the admin reads them everywhere (dashboard, digest, CLI); given the
        count of legacy_active users (kept by the last collect run), no user is read but the few that still
        succeed with basic auth (``recent``, when the caller has read them already)."""
        snapshot = replace(self.tenant.snapshot(), sender=self.mail_from)
        now = utcnow()
        switches = switch_findings(snapshot.switches, self.exchange_on, self.watched)
        if legacy_active is not None:  # the retirements need only the accounts that still succeed
            if recent is None:
                recent = self.users.succeeded_since(now - timedelta(days=RECENT_DAYS))
            retiring = retirement_findings(recent, now, self.watched, snapshot.baseline)
            return tenant_findings_counted(snapshot, legacy_active) + retiring + switches
        states = self.users.query() if states is None else states
        retiring = retirement_findings(states, now, self.watched, snapshot.baseline)
        return tenant_findings(snapshot, states) + retiring + switches


def sender_setup(settings: Settings) -> SenderSetup | None:
    if settings.notify_mode == "off" or not settings.sender_address:
        return None
    messages = settings.messages
    return SenderSetup(settings.sender_address, messages.send_per_hour, 1 + len(messages.reminder_days))


def retry_policy(settings: Settings) -> RetryPolicy:
    """The one retry policy of Graph, Exchange and ACS calls."""
    return RetryPolicy(max_retries=settings.graph_max_retries, max_retry_after=settings.graph_max_retry_after_seconds)


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
    """Run a step's body and record its result once, succeeded or failed (with what it did before failing).

    With storage down the row cannot be written: it waits in memory and is written by the next step
    that can (a log line says so either way), and the step still fails with one line."""
    await asyncio.to_thread(_write_unrecorded, svc)
    try:
        result = await body(now)
    except Exception as exc:
        partial = exc.partial if isinstance(exc, StepError) else StepResult()
        failed = replace(partial, message=f"{type(exc).__name__}: {one_line(exc)}")
        run = RunRecord.of(step, now, utcnow(), "failed", failed)
        await asyncio.to_thread(_record, svc, run)
        raise StepFailedError([run], storage_down=isinstance(exc, AzureError)) from exc
    run = RunRecord.of(step, now, utcnow(), "succeeded", result)
    await asyncio.to_thread(_record, svc, run)
    return run


log = logging.getLogger(__name__)
UNRECORDED_KEPT = 20
"""Run rows kept in memory while storage is down (the oldest go first; each was logged)."""
_unrecorded: deque[tuple[str, RunRecord]] = deque(maxlen=UNRECORDED_KEPT)
"""(tenant id, run): a row goes to its own tenant's runs table only."""


def one_line(exc: BaseException) -> str:
    """An error's first line, cut: the Storage SDK's messages carry whole HTTP exchanges."""
    return bounded((str(exc).splitlines() or [""])[0], 500)


def _record(svc: Services, run: RunRecord) -> None:
    try:
        svc.runs.record(run)
    except AzureError as exc:
        _unrecorded.append((svc.settings.tenant_id, run))
        log.error(
            "the %s run's row (%s) could not be written, storage is unreachable (%s: %s); it is written once "
            "storage is back, if this process lives",
            run.step,
            run.outcome,
            type(exc).__name__,
            one_line(exc),
        )


def _write_unrecorded(svc: Services) -> None:
    for kept in [k for k in _unrecorded if k[0] == svc.settings.tenant_id]:
        try:
            svc.runs.record(kept[1])
        except AzureError:
            return
        _unrecorded.remove(kept)
        log.warning("wrote the %s run's row kept while storage was down", kept[1].step)


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
        raise StepFailedError(runs, any(f.storage_down for f in failures)) from failures[0]
    return runs
