"""Text from outside (a UPN, a user agent, Graph's error message) made safe for a terminal.

rich reads ``[...]`` as markup: a UPN like ``[/]x@contoso.example`` crashed the table and
``[link=…]`` became a live link. Control characters (escape sequences) could move the cursor, retitle
the window or hide text. Both are neutralised here, before anything reaches a Console.
"""

from __future__ import annotations

import re

from rich.markup import escape

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""C0 and C1 controls (ESC among them) and the Unicode line and direction overrides."""


def terminal_safe(text: str) -> str:
    """``text`` with control characters shown as U+FFFD and rich markup escaped (tabs and newlines kept)."""
    return escape(_CONTROL.sub("\ufffd", text))
