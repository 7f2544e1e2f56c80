"""The users table in a terminal of 80, 100, 120 and 160 columns: every value whole, no line too wide."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from rich.console import Console

from report.terminal import render_users

ROWS: list[dict[str, Any]] = [
    {
        "upn": "alexandra.konstantinopoulou@contoso-pharmaceuticals.example",
        "status": "legacy_active",
        "reasons": ["legacy_signin_succeeded", "apple_device_pre_ios12", "no_apple_app_signin"],
        "device": "iPhone 13 Pro (iOS 16.3, build 20D47)",
        "last_legacy_at": "2026-11-30T11:00:00Z",
        "notified_count": 2,
    },
    {
        "upn": "[bold]mallory[/bold]@contoso.example",  # stored text is never console markup
        "status": "attack_suspected",
        "reasons": ["spray_only"],
        "device": "",
        "last_legacy_at": None,
        "notified_count": 0,
    },
]


def rendered(width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    render_users(ROWS, console)
    out: str = console.file.getvalue()  # type: ignore[attr-defined]
    assert max(len(line) for line in out.splitlines()) <= width
    assert "…" not in out  # nothing truncated
    return out


def squash(text: str) -> str:
    """A wrap may break a value at any character: compare without whitespace."""
    return re.sub(r"\s+", "", text)


def table_cells(out: str) -> list[list[str]]:
    """Each body row's cells, the lines of a wrapped cell joined up again."""
    rows: list[list[str]] = []
    current: list[str] = []
    for line in out.splitlines():
        if line.startswith("│"):
            cells = [cell.strip() for cell in line.strip("│").split("│")]
            current = (
                cells
                if not current
                else [a + (" " if a and b else "") + b for a, b in zip(current, cells, strict=True)]
            )
        elif line.startswith(("├", "└")) and current:
            rows.append(current)
            current = []
    return rows


@pytest.mark.parametrize("width", [120, 160])
def test_wide_terminals_get_the_table_with_every_value_whole(width: int) -> None:
    cells = table_cells(rendered(width))
    for row, shown in zip(ROWS, cells, strict=True):
        expected = [row["upn"], row["status"], "".join(row["reasons"]), row["device"]]
        assert [squash(c) for c in shown[:4]] == [squash(e) for e in expected]
        assert shown[5] == str(row["notified_count"])
    assert cells[0][4] == "2026-11-30 11:00"


@pytest.mark.parametrize("width", [80, 100])
def test_narrow_terminals_get_one_block_per_user_with_every_value_whole(width: int) -> None:
    out = re.sub(r"\s+", " ", rendered(width))  # lines joined up again
    for row in ROWS:
        assert row["upn"] in out and row["status"] in out
        assert f"reasons: {', '.join(row['reasons'])}" in out
    assert "device: iPhone 13 Pro (iOS 16.3, build 20D47)" in out
    assert "last 2026-11-30 11:00 emails 2" in out
