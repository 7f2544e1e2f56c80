"""What one run of a pipeline step did, with typed figures: returned once by the step, recorded once.

Each step builds a StepResult (the common counts, a message for the admin, and the figures of its
own kind); the pipeline stamps it into a RunRecord and the runs table keeps it. The dashboard, the
digest and the benchmarks read the named figures, never string keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Literal

from core.ingest import UnreadSpan

Outcome = Literal["succeeded", "failed"]


@dataclass(frozen=True)
class GraphCost:
    """What talking to Graph cost one run."""

    requests: int = 0
    throttled: int = 0
    retries: int = 0
    retry_wait_ms: int = 0
    pacing_wait_ms: int = 0


@dataclass(frozen=True)
class StatusCounts:
    """Tracked users by status after a collect run: a point of the dashboard's trend."""

    legacy_active: int = 0
    attack_suspected: int = 0
    pending_verification: int = 0
    remediated: int = 0
    stale: int = 0
    excluded: int = 0

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> StatusCounts:
        return cls(**{name: counts.get(name, 0) for name in cls.__dataclass_fields__})

    @property
    def tracked(self) -> int:
        return sum(vars(self).values())


@dataclass(frozen=True)
class UserBreakdown:
    """What the admin summary shows beyond the status counts, counted while a collect run judges every
    user: the summary and dashboard read it back instead of scanning the users table per request."""

    legacy_active_by_platform: dict[str, int] = field(default_factory=dict)
    legacy_active_by_ios_version: dict[str, int] = field(default_factory=dict)
    tracked_by_platform: dict[str, int] = field(default_factory=dict)
    notified: int = 0
    """Users emailed at least once, as the run left them (a later notify run is counted by the next collect)."""
    open_by_protocol: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    """Accounts still open (legacy_active or attack_suspected) per protocol they used, by sender kind, by
    outcome: "succeeding" (a basic sign-in succeeded: it stops at the switch-off) or "failing"."""


@dataclass(frozen=True)
class CollectFigures:
    graph: GraphCost = field(default_factory=GraphCost)
    statuses: StatusCounts = field(default_factory=StatusCounts)
    window_open: bool = False
    """The window needs more runs: this one saved its place."""
    window_pages: int = 0
    window_events: int = 0
    read_ms: int = 0
    evaluate_ms: int = 0
    parse_fold_cpu_ms: int = 0
    checkpoints: int = 0
    staged_rows: int = 0
    modern_only_users: int = 0
    exchange_requests: int = 0
    staging_leftovers_dropped: int = 0
    noted: dict[str, int] = field(default_factory=dict)
    """Records skipped or set aside, by reason (missing_user_id, duplicate, cursor_expired, …)."""
    samples: dict[str, str] = field(default_factory=dict)
    """For each reason a record was skipped, the id of one such record (cut to 80 characters)."""
    breakdown: UserBreakdown | None = None
    """None in runs recorded before it was kept (and in a run that failed before judging)."""
    unread: tuple[UnreadSpan, ...] = ()
    """Spans of the log this run skipped as poison pages (not counted; the admin's findings list them)."""


HELD_LABELS = {
    "quota_hour": "hourly send budget",
    "quota_minute": "per-minute send budget",
    "quota_throttled": "ACS throttling",
    "held_tenant_not_ready": "Apple app not consented",
    "held_not_in_allow_list": "not in the pilot allow-list",
    "held_single_attempt": "single attempt",
    "held_sender_refused": "sender refused",
    "no_mailbox": "no mailbox",
    "bad_recipient": "unusable address",
    "refused": "permanent failure",
    "retry_later": "failed, retried later",
    "owner_unknown": "SMTP AUTH sender, owner unknown",
    "attack_not_mailed": "attack, not mailed",
    "no_confirmation_for_senders": "SMTP AUTH sender fixed (no thank-you)",
}
"""What each reason a message is held means to an admin (run output, dashboard, digest)."""
CARRIED = frozenset({"quota_hour", "quota_minute", "quota_throttled"})
"""Reasons whose messages simply go out in a later run."""


@dataclass(frozen=True)
class NotifyFigures:
    failed: int = 0
    unconfirmed: int = 0
    settled_sent: int = 0
    settled_not_sent: int = 0
    held: dict[str, int] = field(default_factory=dict)
    """Messages not sent this run, by reason (quota_hour, held_not_in_allow_list, no_mailbox, …)."""
    sent: int = 0
    rendered: int = 0
    """Dry-run: messages rendered to the outbox, none sent (the users' cadence untouched)."""
    refused: int = 0
    carried_over: int = 0
    held_users: dict[str, list[str]] = field(default_factory=dict)
    """Who is held, by reason (the first few of each)."""
    owner_lookups: dict[str, int] = field(default_factory=dict)
    """SMTP AUTH senders' manager lookups in Entra ID that found no one, by reason (no_manager, …)."""
    templates: dict[str, int] = field(default_factory=dict)
    """Sent (or rendered) by template."""

    def summary(self) -> str:
        """One line an admin reads: sent, held by reason, carried over."""
        parts = [f"dry-run: would send {self.rendered}, sent 0" if self.rendered else f"sent {self.sent}"]
        if self.templates:
            parts[0] += " (" + ", ".join(f"{k} {v}" for k, v in sorted(self.templates.items())) + ")"
        for reason, count in sorted(self.held.items(), key=lambda kv: (-kv[1], kv[0])):
            names = self.held_users.get(reason, [])
            shown = f": {', '.join(names)}" if names and count <= 3 else ""
            parts.append(f"held {count} ({HELD_LABELS.get(reason, reason)}){shown}")
        if self.carried_over:
            parts.append(f"{self.carried_over} carried over to the next run")
        if self.refused:
            parts.append(f"{self.refused} refused: fix the cause, then `python -m cli notify --retry-failed`")
        return "; ".join(parts)


@dataclass(frozen=True)
class ReadinessFigures:
    apple_app_present: bool = False
    admin_consent: bool = False
    users_can_consent: bool = False
    ca_legacy_block_policies: int = 0


@dataclass(frozen=True)
class DigestFigures:
    recipients: int = 0
    already_sent: int = 0


Figures = CollectFigures | NotifyFigures | ReadinessFigures | DigestFigures


@dataclass(frozen=True)
class StepResult:
    """What a step did: the common counts, one line for the admin, and the figures of its kind."""

    figures: Figures | None = None
    message: str = ""
    pages: int = 0
    events: int = 0
    skipped: int = 0
    users_changed: int = 0
    writes: int = 0
    emails: int = 0


@dataclass(frozen=True, kw_only=True)
class RunRecord(StepResult):
    """One row of the runs table: a step's result, stamped with when it ran and how it ended."""

    step: str
    started_at: datetime
    ended_at: datetime
    outcome: Outcome

    @classmethod
    def of(cls, step: str, started_at: datetime, ended_at: datetime, outcome: Outcome, result: StepResult) -> RunRecord:
        kept = {f.name: getattr(result, f.name) for f in fields(StepResult)}
        return cls(step=step, started_at=started_at, ended_at=ended_at, outcome=outcome, **kept)


class StepError(RuntimeError):
    """A step failed after doing part of its work: ``partial`` is what it did, recorded with the failure."""

    def __init__(self, message: str, partial: StepResult | None = None) -> None:
        super().__init__(message)
        self.partial = partial or StepResult()
