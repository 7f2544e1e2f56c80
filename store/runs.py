"""The runs table: one row per pipeline step run, newest first, feeding the dashboard and alerts."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from azure.data.tables import TableClient

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
        inverted = _MAX_MS - int(run.started_at.timestamp() * 1000)
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

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": self._tenant}, results_per_page=limit
        )
        out = []
        for row in rows:
            out.append(dict(row))
            if len(out) >= limit:
                break
        return out
