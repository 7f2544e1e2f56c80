"""One row shape per user for every admin view, and its JSON, CSV and table renderings."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

from core.records import STATUSES, DeviceRecord, UserState
from rules.devices import describe_device

COLUMNS = [
    "user_id",
    "upn",
    "display_name",
    "status",
    "reasons",
    "advice",
    "device",
    "devices",
    "user_agent",
    "legacy_success",
    "legacy_failure",
    "first_legacy_at",
    "last_legacy_at",
    "last_apple_app_at",
    "status_since",
    "notified_count",
    "last_notified_at",
]


class ReportError(ValueError):
    """A report parameter is wrong; the message names it."""


def validate_status(status: str | None) -> str | None:
    if status is not None and status not in STATUSES:
        raise ReportError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    return status


def user_rows(states: Iterable[UserState]) -> list[dict[str, Any]]:
    rows = [user_row(state) for state in states]
    rows.sort(key=lambda r: (STATUSES.index(r["status"]), r["upn"].casefold()))
    return rows


def user_row(state: UserState) -> dict[str, Any]:
    ev = state.evidence
    user = state.directory
    return {
        "user_id": state.user_id,
        "upn": (user.upn if user else "") or ev.upn,
        "display_name": user.display_name if user else "",
        "status": state.verdict.status,
        "reasons": list(state.verdict.reasons),
        "advice": list(state.verdict.advice),
        "device": describe_device(state),
        "devices": [_partnership(d) for d in state.devices],
        "user_agent": ev.user_agent,
        "legacy_success": ev.legacy_success,
        "legacy_failure": ev.legacy_failure,
        "first_legacy_at": _iso(ev.first_legacy_at),
        "last_legacy_at": _iso(ev.last_legacy_at),
        "last_apple_app_at": _iso(ev.last_apple_at),
        "status_since": _iso(state.status_since),
        "notified_count": state.notified_count,
        "last_notified_at": _iso(state.last_notified_at),
    }


def _partnership(device: DeviceRecord) -> str:
    last = f", last sync {device.last_sync:%Y-%m-%d}" if device.last_sync else ""
    return f"{device.label} ({device.client_type} {device.client_version}{last})"


def status_counts(states: Iterable[UserState]) -> dict[str, int]:
    counts = Counter(state.verdict.status for state in states)
    return {status: counts.get(status, 0) for status in STATUSES}


def to_json(rows: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(rows, option=orjson.OPT_INDENT_2)


def to_csv(rows: list[dict[str, Any]], header: bool = True) -> str:
    """Every cell neutralised against formula injection: Excel and Sheets never evaluate what we export."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    if header:
        writer.writeheader()
    for row in rows:
        cells = {
            **row,
            "reasons": " ".join(row["reasons"]),
            "advice": " ".join(row["advice"]),
            "devices": "; ".join(row["devices"]),
        }
        writer.writerow({name: csv_cell(value) for name, value in cells.items()})
    return out.getvalue()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""What makes a spreadsheet read a cell as a formula (OWASP's list, with the full-width forms)."""


def csv_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, prefixed with ' so it shows as text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
