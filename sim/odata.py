"""The slice of OData $filter that our collectors send, parsed strictly: anything else is a 400."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from core.clock import parse_graph_time

Predicate = Callable[[Mapping[str, Any]], bool]

_CLAUSE = re.compile(r"^(?P<field>[A-Za-z][\w/]*) (?P<op>eq|ne|ge|gt|le|lt) (?P<value>'(?:[^']|'')*'|[^\s()']+)$")
_IN_CLAUSE = re.compile(r"^(?P<field>[A-Za-z][\w/]*) in \((?P<values>.*)\)$")
_STRING = re.compile(r"'((?:[^']|'')*)'")
MAX_IN_VALUES = 15
"""Graph's default limit on the values of one `in` clause."""


class FilterError(ValueError):
    pass


def parse_filter(text: str, fields: Mapping[str, str]) -> Predicate:
    """``fields`` maps each filterable property path to its kind: "str", "int" or "datetime"."""
    clauses = [_parse_group(part.strip(), fields) for part in _split_top(text.strip(), " and ")]
    return lambda item: all(clause(item) for clause in clauses)


def _parse_group(text: str, fields: Mapping[str, str]) -> Predicate:
    if text.startswith("(") and text.endswith(")"):
        options = [_parse_clause(p.strip(), fields) for p in _split_top(text[1:-1].strip(), " or ")]
        return lambda item: any(option(item) for option in options)
    return _parse_clause(text, fields)


def in_values(text: str, field: str) -> list[str] | None:
    """The quoted values of a top-level ``field in (...)`` clause, or None when there is none."""
    for part in _split_top(text.strip(), " and "):
        match = _IN_CLAUSE.match(part.strip())
        if match and match["field"] == field:
            return [v.replace("''", "'") for v in _STRING.findall(match["values"])]
    return None


def _parse_in(match: re.Match[str], fields: Mapping[str, str]) -> Predicate:
    path = match["field"]
    if fields.get(path) != "str":
        raise FilterError(f"Filter on property '{path}' with 'in' is not supported")
    values = [item.strip() for item in _split_top(match["values"], ",")]
    if not values or any(not _STRING.fullmatch(v) for v in values):
        raise FilterError(f"{path} in (...) needs a list of quoted string literals")
    if len(values) > MAX_IN_VALUES:
        raise FilterError(f"Too many values in the 'in' clause: {len(values)} (at most {MAX_IN_VALUES})")
    wanted = {v[1:-1].replace("''", "'").casefold() for v in values}

    def predicate(item: Mapping[str, Any]) -> bool:
        actual = _lookup(item, path)
        return actual is not None and str(actual).casefold() in wanted

    return predicate


def _parse_clause(text: str, fields: Mapping[str, str]) -> Predicate:
    in_match = _IN_CLAUSE.match(text)
    if in_match:
        return _parse_in(in_match, fields)
    match = _CLAUSE.match(text)
    if not match:
        raise FilterError(f"Invalid filter clause: {text!r}")
    path, op, raw = match["field"], match["op"], match["value"]
    kind = fields.get(path)
    if kind is None:
        raise FilterError(f"Filter on property '{path}' is not supported")
    value: Any
    if kind == "str":
        if not raw.startswith("'"):
            raise FilterError(f"{path} needs a quoted string literal")
        value = raw[1:-1].replace("''", "'").casefold()
    elif kind == "int":
        if not raw.lstrip("-").isdigit():
            raise FilterError(f"{path} needs a number")
        value = int(raw)
    else:
        if raw.startswith("'"):
            raise FilterError(f"{path} needs an unquoted ISO-8601 date")
        value = parse_graph_time(raw)
        if value is None:
            raise FilterError(f"{path}: {raw!r} is not an ISO-8601 date")
    compare = _OPS[op]

    def predicate(item: Mapping[str, Any]) -> bool:
        actual = _lookup(item, path)
        if actual is None:
            return False
        if kind == "str":
            actual = str(actual).casefold()
        elif kind == "datetime":
            actual = parse_graph_time(actual) if not isinstance(actual, datetime) else actual
            if actual is None:
                return False
        return bool(compare(actual, value))

    return predicate


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "ge": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "le": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
}


def _lookup(item: Mapping[str, Any], path: str) -> Any:
    value: Any = item
    for part in path.split("/"):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _split_top(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside quotes and parentheses."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and text.startswith(separator, i):
            parts.append(text[start:i])
            i += len(separator)
            start = i
            continue
        i += 1
    if quoted or depth:
        raise FilterError("Unbalanced quotes or parentheses in $filter")
    parts.append(text[start:])
    return parts


def time_bounds(text: str, path: str) -> tuple[datetime | None, datetime | None]:
    """The lowest and highest ``path`` value that top-level comparisons allow (bounds, inclusive or not)."""
    low: datetime | None = None
    high: datetime | None = None
    for part in _split_top(text.strip(), " and "):
        match = _CLAUSE.match(part.strip())
        if not match or match["field"] != path:
            continue
        value = parse_graph_time(match["value"])
        if value is None:
            continue
        if match["op"] in ("ge", "gt", "eq"):
            low = value if low is None else max(low, value)
        if match["op"] in ("le", "lt", "eq"):
            high = value if high is None else min(high, value)
    return low, high
