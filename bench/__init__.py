"""Benchmarks (not tests): each prints its figures and the command that reproduces them."""

from __future__ import annotations

import sys
from typing import Any

import orjson


def emit(result: dict[str, Any], as_json: bool) -> None:
    """One JSON object (--json), or one aligned line per figure."""
    if as_json:
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
    else:
        for key, value in result.items():
            print(f"{key:>32}: {value}")
