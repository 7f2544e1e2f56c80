"""The admin summary from the figures the last collect run kept: no scan of the users table per request.

A collect run judges every tracked user and records the counts by status and the breakdown
(core/runs.py UserBreakdown). Until a run has recorded one (a fresh install, or rows from before it
was kept), the summary is counted from the users table once, and says so in ``source``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from core.ports import RunLog
from core.records import STATUSES, UserState
from core.runs import CollectFigures, StatusCounts, UserBreakdown
from rules.breakdown import breakdown_of

RUNS_LOOKED_AT = 20
"""Collect runs looked back over for the last one that judged every user (failed ones keep no breakdown)."""


@dataclass(frozen=True)
class Kept:
    """The counts the summary shows, and when (and from what) they were counted."""

    statuses: StatusCounts
    breakdown: UserBreakdown
    as_of: datetime | None
    source: str

    @property
    def legacy_active(self) -> int:
        return self.statuses.legacy_active

    def as_json(self) -> dict[str, Any]:
        counts = vars(self.statuses)
        return {
            "tracked": self.statuses.tracked,
            "by_status": {status: counts.get(status, 0) for status in STATUSES},
            "legacy_active_by_platform": self.breakdown.legacy_active_by_platform,
            "legacy_active_by_ios_version": self.breakdown.legacy_active_by_ios_version,
            "by_platform": self.breakdown.tracked_by_platform,
            "notified": self.breakdown.notified,
            "as_of": self.as_of.isoformat().replace("+00:00", "Z") if self.as_of else None,
            "source": self.source,
        }


def kept_figures(runs: RunLog) -> Kept | None:
    """The newest succeeded collect run's counts, if it kept a breakdown."""
    for run in runs.recent(RUNS_LOOKED_AT, step="collect"):
        figures = run.figures
        if run.outcome == "succeeded" and isinstance(figures, CollectFigures) and figures.breakdown is not None:
            return Kept(figures.statuses, figures.breakdown, run.started_at, "last collect run")
    return None


def counted(states: Iterable[UserState]) -> Kept:
    """The same figures counted from the users themselves (before any run kept them, and the CLI's --scan)."""
    listed = list(states)
    statuses = StatusCounts.of({s: sum(1 for u in listed if u.verdict.status == s) for s in STATUSES})
    return Kept(statuses, breakdown_of(listed), None, "users table")


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str, int]]:
    """The summary as (measure, key, count) rows: one shape for CSV and the terminal."""
    rows = [("tracked", "all", int(summary["tracked"])), ("notified", "all", int(summary["notified"]))]
    for measure in ("by_status", "by_platform", "legacy_active_by_platform", "legacy_active_by_ios_version"):
        rows += [(measure, key, int(count)) for key, count in summary[measure].items()]
    return rows


def summary_csv(summary: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["measure", "key", "count"])
    writer.writerows(summary_rows(summary))
    return out.getvalue()


def render_summary_table(summary: dict[str, Any], console: Console) -> None:
    counted_when = f"as of {summary['as_of']}" if summary["as_of"] else "counted now"
    table = Table(title=f"Summary ({summary['source']}, {counted_when})")
    for column, justify in (("measure", "left"), ("key", "left"), ("count", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for measure, key, count in summary_rows(summary):
        table.add_row(measure, key, str(count))
    console.print(table)
