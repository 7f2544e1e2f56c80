"""The SMTP AUTH senders as the admin reads them: kind, who was or must be told, last success, days left.

The owner is the one in the owner map (LAM_SENDER_OWNERS), else whoever the monitor last mailed about the
account (its manager in Entra ID), else "owner unknown"; a person's own app has the person.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from rich.console import Console
from rich.table import Table

from core.ports import NotificationLog
from core.records import UserState
from report.terminal import terminal_safe
from report.users import csv_cell
from rules import protocols, senders

OWNER_UNKNOWN = "owner unknown"
SENDER_COLUMNS = ["upn", "status", "kind", "owner", "last_success", "days_to_switch_off", "emails"]


def sender_rows(
    states: Iterable[UserState], owners: Mapping[str, str], ledger: NotificationLog, today: date
) -> list[dict[str, Any]]:
    """One row per account judged as an SMTP AUTH sender, the soonest to break (succeeded) first."""
    deadline = protocols.SMTP_AUTH.deadline
    rows: list[dict[str, Any]] = []
    for state in states:
        kind = senders.kind_of(state.verdict)
        if kind is None:
            continue
        upn = (state.directory.upn if state.directory else "") or state.evidence.upn
        rows.append(
            {
                "upn": upn,
                "status": state.verdict.status,
                "kind": kind,
                "owner": _owner(state, kind, upn, owners, ledger),
                "last_success": state.evidence.last_success_at.isoformat() if state.evidence.last_success_at else "",
                "days_to_switch_off": (deadline - today).days if deadline else None,
                "emails": state.notified_count,
            }
        )
    rows.sort(key=lambda r: (r["kind"] == "attack", r["last_success"] == "", r["upn"].casefold()))
    return rows


def _owner(state: UserState, kind: str, upn: str, owners: Mapping[str, str], ledger: NotificationLog) -> str:
    if kind == "attack":
        return "nobody (attack)"
    if kind == "person":
        return upn
    mapped = owners.get(upn.casefold())
    if mapped:
        return mapped
    told = [e.recipient for e in ledger.for_user(state.user_id) if e.recipient.casefold() != upn.casefold()]
    return f"{told[-1]} (manager)" if told else OWNER_UNKNOWN


def render_senders(rows: list[dict[str, Any]], console: Console) -> None:
    deadline = protocols.SMTP_AUTH.deadline_words
    table = Table(title=f"SMTP AUTH senders ({len(rows)}); basic SMTP AUTH is disabled by default by {deadline}")
    for column in ("upn", "kind", "owner", "last success", "days to switch-off", "status", "emails"):
        table.add_column(column, no_wrap=column != "owner")
    for row in rows:
        table.add_row(
            terminal_safe(row["upn"]),
            row["kind"],
            terminal_safe(row["owner"]),
            row["last_success"][:16].replace("T", " ") or "-",
            str(row["days_to_switch_off"]),
            row["status"],
            str(row["emails"]),
        )
    console.print(table)


def senders_csv(rows: list[dict[str, Any]]) -> str:
    """CSV of the sender rows; a cell that a spreadsheet would run as a formula is quoted as text."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SENDER_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: csv_cell(value) for key, value in row.items()})
    return out.getvalue()
