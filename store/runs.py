"""The runs table: one row per pipeline step run, newest first, feeding the dashboard, digest and alerts.

The common counts are columns; the step's typed figures are one JSON column, read back into the
figures of the step's kind. Rows written before figures were typed ("Details": k=v pairs) are read
into the same figures, so the dashboard's trend keeps its history.
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec
from azure.data.tables import TableClient

from core.runs import (
    CollectFigures,
    DigestFigures,
    Figures,
    NotifyFigures,
    Outcome,
    ReadinessFigures,
    RunRecord,
    StatusCounts,
    StepResult,
)
from store.tables import utc_datetime

_MAX_MS = 10**13
FIGURES_OF_STEP: dict[str, type[Figures]] = {
    "collect": CollectFigures,
    "notify": NotifyFigures,
    "apple-app": ReadinessFigures,
    "digest": DigestFigures,
}
_COUNTS = ("Pages", "Events", "Skipped", "UsersChanged", "Writes", "Emails")


class RunRepository:
    def __init__(self, table: TableClient, tenant_id: str) -> None:
        self._table = table
        self._tenant = tenant_id

    def record(self, run: RunRecord) -> None:
        """RowKey: inverted end time, so a plain query lists the newest run first."""
        inverted = _MAX_MS - int(run.ended_at.timestamp() * 1000)
        result = run
        entity: dict[str, Any] = {
            "PartitionKey": self._tenant,
            "RowKey": f"{inverted:013d}-{secrets.token_hex(3)}",
            "Step": run.step,
            "StartedAt": run.started_at,
            "EndedAt": run.ended_at,
            "Outcome": run.outcome,
            "Message": result.message[:8000],
            "Figures": msgspec.json.encode(result.figures).decode() if result.figures is not None else "",
        }
        entity.update(
            zip(
                _COUNTS,
                (result.pages, result.events, result.skipped, result.users_changed, result.writes, result.emails),
                strict=True,
            )
        )
        self._table.create_entity(entity)

    def recent(self, limit: int = 50, step: str | None = None) -> list[RunRecord]:
        """Newest first (the RowKey is an inverted timestamp)."""
        query, params = "PartitionKey eq @pk", {"pk": self._tenant}
        if step is not None:
            query, params = query + " and Step eq @step", {**params, "step": step}
        out: list[RunRecord] = []
        for row in self._table.query_entities(query, parameters=params, results_per_page=min(limit, 1000)):
            out.append(_from_row(row))
            if len(out) >= limit:
                break
        return out


def _from_row(row: dict[str, Any]) -> RunRecord:
    started = utc_datetime(row.get("StartedAt"))
    if started is None:
        raise ValueError(f"runs row {row.get('RowKey')!r}: StartedAt is missing")
    step = str(row.get("Step") or "")
    pages, events, skipped, users_changed, writes, emails = (int(row.get(name) or 0) for name in _COUNTS)
    result = StepResult(
        figures=_figures(step, row),
        message=str(row.get("Message") or ""),
        pages=pages,
        events=events,
        skipped=skipped,
        users_changed=users_changed,
        writes=writes,
        emails=emails,
    )
    outcome: Outcome = "succeeded" if row.get("Outcome") == "succeeded" else "failed"
    return RunRecord.of(step, started, utc_datetime(row.get("EndedAt")) or started, outcome, result)


def _figures(step: str, row: dict[str, Any]) -> Figures | None:
    kind = FIGURES_OF_STEP.get(step)
    if kind is None:
        return None
    if row.get("Figures"):
        try:
            return msgspec.json.decode(row["Figures"], type=kind)
        except msgspec.ValidationError:
            return None
    return _from_details(kind, parse_details(str(row.get("Details") or "")))


def _from_details(kind: type[Figures], details: dict[str, int]) -> Figures:
    """A row written before figures were typed: the figures the dashboard and the digest read."""
    if kind is CollectFigures:
        statuses = {k.removeprefix("status_"): v for k, v in details.items() if k.startswith("status_")}
        return CollectFigures(statuses=StatusCounts.of(statuses), window_open=bool(details.get("window_open")))
    if kind is NotifyFigures:
        return NotifyFigures(held={k: v for k, v in details.items() if k.startswith(("held_", "quota_"))})
    return kind()


def parse_details(text: str) -> dict[str, int]:
    details: dict[str, int] = {}
    for item in text.split():
        key, _, value = item.partition("=")
        if value.lstrip("-").isdigit():
            details[key] = int(value)
    return details
