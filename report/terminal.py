"""Text from outside, made safe for a terminal, and the users fitted to its width.

rich reads ``[...]`` as markup: a UPN like ``[/]x@contoso.example`` crashed the table and
``[link=…]`` became a live link. Control characters (escape sequences) could move the cursor, retitle
the window or hide text. Both are neutralised here, before anything reaches a Console.

The users table is a table when the terminal is wide, a compact list of one block per user when it
is not. Nothing is cut: long values wrap (the full data is in json/csv).
"""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""C0 and C1 controls (ESC among them) and the Unicode line and direction overrides."""
WIDE = 120
"""Below this many columns the six-column table squeezes the reasons and device to nothing: list instead."""


def terminal_safe(text: str) -> str:
    """``text`` with control characters shown as U+FFFD and rich markup escaped (tabs and newlines kept)."""
    return escape(_plain(text))


def _plain(text: str) -> str:
    """For rich Text, which reads no markup: only the control characters need neutralising."""
    return _CONTROL.sub("\ufffd", text)


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
            Text(_plain(row["upn"])),
            Text(row["status"]),
            Text(_plain("\n".join(row["reasons"]))),  # one code per line
            Text(_plain(row["device"])),
            Text(_when(row)),
            Text(str(row["notified_count"])),
        )
    return table


def _compact(rows: list[dict[str, Any]]) -> Group:
    """One block per user: the who/status/when/emails line, then reasons and device, indented."""
    blocks: list[Text | Padding] = [Text(f"Tracked users ({len(rows)})", style="bold")]
    for row in rows:
        head = Text(_plain(row["upn"]), style="bold")
        head.append(f"  {row['status']}  last {_when(row) or '-'}  emails {row['notified_count']}")
        blocks.append(head)
        details = Text(_plain(f"reasons: {', '.join(row['reasons']) or '-'}\ndevice: {row['device'] or '-'}"))
        blocks.append(Padding(details, (0, 0, 0, 2)))
    return Group(*blocks)
