"""Bounds on what the outside world can make us keep.

Anyone can put failed sign-ins in a tenant's log with the user agent and address of their choice, so
every string that comes from Graph, Exchange or the directory is cut to a known length before it is
stored (with a visible marker that it was cut), and ids that end up as Table Storage keys are checked
against what a key may hold.
"""

from __future__ import annotations

MAX_TEXT_CHARS = 512
"""A user agent, a UPN, a device name: real ones are a few hundred characters at most."""
CUT_MARKER = "…[cut]"
MAX_KEY_CHARS = 128
"""A Graph object id is 36 characters; a key of this length is far from Table Storage's 1 KiB."""
_KEY_FORBIDDEN = frozenset("/\\#?!")
"""Not allowed in Table Storage keys (/ \\ # ?), or our staging key separator (!)."""


def bounded(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """``text`` if it fits in ``limit`` characters, else its start and the cut marker (``limit`` in all)."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(CUT_MARKER), 0)] + CUT_MARKER


def is_key_safe(identifier: str) -> bool:
    """Whether an id from outside may become (part of) a Table Storage key: short, printable, every
    character above the staging separator ``!`` and none of the characters keys forbid."""
    return 0 < len(identifier) <= MAX_KEY_CHARS and all(
        ch > "!" and ch not in _KEY_FORBIDDEN and not ("\x7f" <= ch <= "\x9f") and ch.isprintable() for ch in identifier
    )
