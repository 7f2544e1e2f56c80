"""The senders of one legacy protocol as the admin reads them: kind, who must act, last success, days left.

One set of rows for `cli report --protocol P`, `GET /api/senders` and its CSV, and the dashboard: the
same filter gives the same rows everywhere. The owner is the one in the owner map (LAM_SENDER_OWNERS),
else whoever the monitor last mailed about the account (its manager in Entra ID), else "owner unknown"
(rules/owners.py). Filters are checked here and applied in Python: nothing reaches an OData query.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from rich.console import Console
from rich.table import Table

from core.constants import LEGACY_CLIENT_APPS
from core.ports import NotificationLog
from core.records import UserState
from report.terminal import terminal_safe
from report.users import ReportError, csv_cell, validate_status
from rules import owners as owner_rules
from rules.breakdown import protocols_of
from rules.protocols import SENDER_KINDS, Retirement, retirement_of
from rules.recipients import needs_owner

OWNER_UNKNOWN = owner_rules.OWNER_UNKNOWN
SENDER_COLUMNS = ["upn", "status", "kind", "owner", "last_success", "days_to_switch_off", "emails", "user_id"]
MAX_OWNER_CHARS = 320
"""An email address is at most 320 characters; a longer owner filter matches nothing, so it is refused."""


@dataclass(frozen=True)
class SenderFilter:
    protocol: str
    """As the registry spells it (or as given, for a legacy protocol without an entry)."""
    kind: str | None = None
    owner: str | None = None
    """An owner's address, or "owner unknown"; compared case-insensitively."""
    status: str | None = None

    def matches(self, state: UserState, owner: str) -> bool:
        """Status, kind and owner (the protocol is checked before the owner is looked up)."""
        if self.status and state.verdict.status != self.status:
            return False
        if self.kind and owner_rules.account_kind(state) != self.kind:
            return False
        return not (self.owner and owner_rules.owner_address(owner).casefold() != self.owner.casefold())


def parse_sender_filter(params: Mapping[str, str]) -> SenderFilter:
    """Every value checked against what it may be; a bad one names its parameter."""
    protocol = (params.get("protocol") or "").strip()
    if not protocol:
        raise ReportError("protocol: required, a legacy clientAppUsed value such as 'Authenticated SMTP'")
    if protocol.casefold() not in LEGACY_CLIENT_APPS:
        raise ReportError(
            f"protocol: {protocol[:60]!r} is not a legacy clientAppUsed value such as 'Authenticated SMTP'"
        )
    entry = retirement_of(protocol)
    kind = params.get("kind") or None
    if kind is not None and kind not in SENDER_KINDS:
        raise ReportError(f"kind: {kind[:40]!r} is not one of {', '.join(SENDER_KINDS)}")
    owner = (params.get("owner") or "").strip() or None
    if owner is not None and (len(owner) > MAX_OWNER_CHARS or not owner.isprintable()):
        raise ReportError(f"owner: an owner's email address or '{OWNER_UNKNOWN}', at most {MAX_OWNER_CHARS} characters")
    status = validate_status(params.get("status") or None)
    return SenderFilter(entry.client_app if entry else protocol, kind, owner, status)


def sender_rows(
    states: Iterable[UserState], flt: SenderFilter, owners: Mapping[str, str], ledger: NotificationLog, today: date
) -> list[dict[str, Any]]:
    """The matching accounts, the soonest to break (succeeded) first, attacks last."""
    rows = unsorted_rows(states, flt, owners, ledger, today)
    rows.sort(key=lambda r: (r["kind"] == "attack", r["last_success"] == "", r["upn"].casefold()))
    return rows


def unsorted_rows(
    states: Iterable[UserState], flt: SenderFilter, owners: Mapping[str, str], ledger: NotificationLog, today: date
) -> list[dict[str, Any]]:
    """The matching accounts in the order given (a page of the users table keeps its id order)."""
    entry = retirement_of(flt.protocol)
    days = _days_left(entry, today)
    rows = []
    for state in states:
        if flt.protocol not in protocols_of(state):
            continue  # read no ledger for an account of another protocol
        told = [e.recipient for e in ledger.for_user(state.user_id)] if needs_owner(state) else []
        owner = owner_rules.owner_of(state, owners, told)
        if flt.matches(state, owner):
            rows.append(_row(state, owner, days))
    return rows


def _days_left(entry: Retirement | None, today: date) -> int | None:
    days = entry.days_left(today) if entry else None
    return None if days is None else max(days, 0)


def _row(state: UserState, owner: str, days: int | None) -> dict[str, Any]:
    last = state.evidence.last_success_at
    return {
        "upn": state.upn,
        "status": state.verdict.status,
        "kind": owner_rules.account_kind(state),
        "owner": owner,
        "last_success": last.isoformat() if last else "",
        "days_to_switch_off": days,
        "emails": state.notified_count,
        "user_id": state.user_id,
    }


SENDER_TABLE_COLUMNS = (
    ("upn", 16),
    ("kind", 0),
    ("owner", 16),
    ("last success", 0),
    ("days to switch-off", 0),
    ("status", 13),
    ("emails", 0),
)
"""The terminal table's columns and the least width of those that may fold (0: never folded)."""


def render_senders(rows: list[dict[str, Any]], flt: SenderFilter, console: Console) -> None:
    entry = retirement_of(flt.protocol)
    when = f"; basic authentication stops by {entry.deadline_words}" if entry and entry.deadline_words else ""
    table = Table(title=f"{terminal_safe(flt.protocol)} senders ({len(rows)}){when}")
    for column, least in SENDER_TABLE_COLUMNS:  # the addresses fold on a narrow terminal, never vanish
        table.add_column(column, min_width=least, overflow="fold", no_wrap=least == 0)
    for row in rows:
        table.add_row(
            terminal_safe(row["upn"]),
            row["kind"],
            terminal_safe(row["owner"]),
            row["last_success"][:16].replace("T", " ") or "-",
            "-" if row["days_to_switch_off"] is None else str(row["days_to_switch_off"]),
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
