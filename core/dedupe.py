"""Sign-in ids seen before, remembered in bounded space.

Graph's logs arrive late and can repeat: each window re-reads an overlap before its start (the fence
of the previous window drops what it already counted there), and a page can repeat records of the one
before it when the listing shifts under the cursor. 8 bytes of a hash stand for an id: 1 in 2^64
collision odds, and a bounded row size.
"""

from __future__ import annotations

import hashlib
from collections import deque

HASH_BYTES = 8
RECENT_PAGES = 3
"""Repeats come from shifted page boundaries, so the ids of the last few pages are enough."""


def id_key(identifier: str) -> bytes:
    """The 8-byte hash that stands for a sign-in id (or, in the spray tracker, a user id)."""
    return hashlib.blake2b(identifier.encode(), digest_size=HASH_BYTES).digest()


def pack(keys: set[bytes]) -> bytes:
    return b"".join(sorted(keys))


def unpack(blob: bytes) -> set[bytes]:
    return {blob[i : i + HASH_BYTES] for i in range(0, len(blob), HASH_BYTES)}


class RecentIds:
    """The ids of the last ``RECENT_PAGES`` pages: a sliding de-duplication set, never the whole window."""

    def __init__(self, restored: set[bytes] | None = None) -> None:
        self._pages: deque[set[bytes]] = deque([restored or set()], maxlen=RECENT_PAGES)

    def __contains__(self, key: bytes) -> bool:
        return any(key in page for page in self._pages)

    def add_page(self, keys: set[bytes]) -> None:
        self._pages.append(keys)

    def snapshot(self) -> set[bytes]:
        return set().union(*self._pages)
