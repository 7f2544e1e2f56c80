"""The runs table: one row per pipeline step run, newest first, feeding the dashboard and alerts."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from azure.data.tables import TableClient

from store.tables import utc_datetime

_MAX_MS = 10**13


@dataclass
class RunRecord:
    step: str
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str = "running"
    pages: int = 0
    events: int = 0
    skipped: int = 0
    users_changed: int = 0
    writes: int = 0
    emails: int = 0
    message: str = ""
    details: dict[str, int] = field(default_factory=dict)


class RunRepository:
    def __init__(self, table: TableClient, tenant_id: str) -> None:
        self._table = table
        self._tenant = tenant_id

    def record(self, run: RunRecord) -> None:
        """RowKey: inverted end time, so a plain query lists the newest run first."""
        inverted = _MAX_MS - int((run.ended_at or run.started_at).timestamp() * 1000)
        entity: dict[str, Any] = {
            "PartitionKey": self._tenant,
            "RowKey": f"{inverted:013d}-{secrets.token_hex(3)}",
        }
        for key, value in asdict(run).items():
            if key == "details":
                entity["Details"] = " ".join(f"{k}={v}" for k, v in sorted(value.items()))
            elif value is not None:
                entity["".join(part.title() for part in key.split("_"))] = value
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


def parse_details(text: str) -> dict[str, int]:
    details: dict[str, int] = {}
    for item in text.split():
        key, _, value = item.partition("=")
        if value.lstrip("-").isdigit():
            details[key] = int(value)
    return details


def _from_row(row: dict[str, Any]) -> RunRecord:
    started = utc_datetime(row.get("StartedAt"))
    if started is None:
        raise ValueError(f"runs row {row.get('RowKey')!r}: StartedAt is missing")
    return RunRecord(
        step=row.get("Step") or "",
        started_at=started,
        ended_at=utc_datetime(row.get("EndedAt")),
        outcome=row.get("Outcome") or "",
        pages=int(row.get("Pages") or 0),
        events=int(row.get("Events") or 0),
        skipped=int(row.get("Skipped") or 0),
        users_changed=int(row.get("UsersChanged") or 0),
        writes=int(row.get("Writes") or 0),
        emails=int(row.get("Emails") or 0),
        message=row.get("Message") or "",
        details=parse_details(row.get("Details") or ""),
    )
