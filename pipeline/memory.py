"""Give freed heap memory back to the operating system.

Each page of sign-ins is ~10 MB of short-lived objects. glibc keeps the heap pages they occupied once
they are freed, and a few long-lived objects between them pin the rest, so a long read creeps up in
resident memory although what it holds stays the same. Trimming at each checkpoint keeps it flat.
Elsewhere than glibc (macOS, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any


@cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def release_free_memory() -> None:
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
