"""The slice of OData $filter that our collectors send, parsed strictly: anything else is a 400."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from core.clock import parse_graph_time

Predicate = Callable[[Mapping[str, Any]], bool]

_CLAUSE = re.compile(r"^(?P<field>[A-Za-z][\w/]*) (?P<op>eq|ne|ge|gt|le|lt) (?P<value>'(?:[^']|'')*'|[^\s()']+)$")


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


def _parse_clause(text: str, fields: Mapping[str, str]) -> Predicate:
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
