"""Make a hostile JSON page decodable: a value nested too deep is replaced by null.

msgspec and orjson both give up on a page with one field nested 100,000 deep (RecursionError, or a
depth error), and so would every later run while that sign-in stays in the window. This scan finds
each container that goes deeper than ``max_depth`` and cuts out the outermost value at ``cut_depth``
(a record's field, for a Graph page) so the rest of the page, and of the record, still reads.
It runs only when the fast decoder failed, so its pure-Python pace costs nothing on a healthy page.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(rb'["\[\]{}]')
_STRING_TAIL = re.compile(rb'(?:[^"\\]|\\.)*"', re.DOTALL)


def flatten_deep(raw: bytes, max_depth: int = 32, cut_depth: int = 4) -> tuple[bytes, int]:
    """``raw`` with every value at ``cut_depth`` that nests past ``max_depth`` replaced by ``null``;
    and how many were cut. Bytes that are not JSON come back unchanged for the decoder to refuse."""
    cuts: list[tuple[int, int]] = []
    stack: list[int] = []
    cut_from: int | None = None
    pos = 0
    while (match := _TOKEN.search(raw, pos)) is not None:
        at = match.start()
        char = raw[at : at + 1]
        if char == b'"':
            tail = _STRING_TAIL.match(raw, at + 1)
            if tail is None:
                return raw, 0
            pos = tail.end()
            continue
        pos = at + 1
        if char in b"[{":
            stack.append(at)
            if len(stack) > max_depth and cut_from is None and len(stack) > cut_depth:
                cut_from = stack[cut_depth - 1]
        elif stack:
            stack.pop()
            if cut_from is not None and len(stack) == cut_depth - 1:
                cuts.append((cut_from, pos))
                cut_from = None
    if not cuts:
        return raw, 0
    parts, last = [], 0
    for start, end in cuts:
        parts += [raw[last:start], b"null"]
        last = end
    parts.append(raw[last:])
    return b"".join(parts), len(cuts)
