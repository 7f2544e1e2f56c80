"""The users as the terminal shows them, fitted to its width: a table when it is wide, a compact list
of one block per user when it is not. Nothing is cut: long values wrap (the full data is in json/csv)."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

WIDE = 120
"""Below this many columns the six-column table squeezes the reasons and device to nothing: list instead."""


def render_users(rows: list[dict[str, Any]], console: Console) -> None:
    """Every value as plain text (no console markup from stored data), wrapped to the console's width."""
    if console.width >= WIDE:
        console.print(_table(rows))
    else:
        console.print(_compact(rows))


def _when(row: dict[str, Any]) -> str:
    return (row["last_legacy_at"] or "")[:16].replace("T", " ")


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title=f"Tracked users ({len(rows)})", expand=True, show_lines=True)
    table.add_column("upn", overflow="fold", ratio=3)
    table.add_column("status", no_wrap=True)
    table.add_column("reasons", overflow="fold", ratio=3)
    table.add_column("device", overflow="fold", ratio=3)
    table.add_column("last legacy sign-in", no_wrap=True, min_width=16)
    table.add_column("emails", justify="right", no_wrap=True)
    for row in rows:
        table.add_row(
            Text(row["upn"]),
            Text(row["status"]),
            Text("\n".join(row["reasons"])),  # one code per line
            Text(row["device"]),
            Text(_when(row)),
            Text(str(row["notified_count"])),
        )
    return table


def _compact(rows: list[dict[str, Any]]) -> Group:
    """One block per user: the who/status/when/emails line, then reasons and device, indented."""
    blocks: list[Text | Padding] = [Text(f"Tracked users ({len(rows)})", style="bold")]
    for row in rows:
        head = Text(row["upn"], style="bold")
        head.append(f"  {row['status']}  last {_when(row) or '-'}  emails {row['notified_count']}")
        blocks.append(head)
        details = Text(f"reasons: {', '.join(row['reasons']) or '-'}\ndevice: {row['device'] or '-'}")
        blocks.append(Padding(details, (0, 0, 0, 2)))
    return Group(*blocks)
