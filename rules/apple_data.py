"""Apple's builds and models, as data: the tables in rules/data/ (each names its source) read once.

Nothing here decides anything; ``rules/user_agent.py`` and ``rules/devices.py`` ask it two questions: which
version is this build, and what is this model called and how far can it be updated.
"""

from __future__ import annotations

import bisect
import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parent / "data"
_BUILD = re.compile(r"^(?P<train>\d{1,2}[A-Z])(?P<number>\d+)(?P<suffix>[a-z]?)$")


@dataclass(frozen=True, slots=True)
class Model:
    identifier: str
    """Apple's identifier with a comma, e.g. "iPhone6,2"."""
    name: str
    """The marketing name people know, e.g. "iPhone 5s"."""
    max_ios: tuple[int, ...] | None
    """The last iOS / iPadOS the hardware can install; None when it still gets current releases."""


def version_tuple(text: str) -> tuple[int, ...] | None:
    """ "15.8.4" → (15, 8, 4); None when the text is not a dotted number."""
    parts = text.strip().split(".")
    if not parts or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


@functools.cache
def _builds() -> tuple[dict[str, tuple[int, ...]], dict[str, list[tuple[int, str, tuple[int, ...]]]]]:
    """Exact build → version, and per train (major build + letter) the listed builds in order."""
    exact: dict[str, tuple[int, ...]] = {}
    trains: dict[str, list[tuple[int, str, tuple[int, ...]]]] = {}
    for row in _rows("apple_builds.csv"):
        version = version_tuple(row["version"])
        match = _BUILD.match(row["build"])
        if version is None or match is None:
            raise ValueError(f"apple_builds.csv: bad row {row}")
        exact[row["build"].lower()] = version
        trains.setdefault(match["train"], []).append((int(match["number"]), row["build"], version))
    for listed in trains.values():
        listed.sort()
    return exact, trains


def build_version(build: str) -> tuple[tuple[int, ...], bool] | None:
    """The iOS version of an Apple build, and whether the table lists it exactly.

    A build the table does not list takes major.minor of the nearest listed build of its train below it
    (19H394 → 15.8), or of the train's first (a beta before the release); None when its train is not in the
    table at all."""
    exact, trains = _builds()
    if build.lower() in exact:
        return exact[build.lower()], True
    match = _BUILD.match(build)
    if match is None:
        return None
    listed = trains.get(match["train"], [])
    if not listed:
        return None
    at = bisect.bisect_right([number for number, _, _ in listed], int(match["number"]))
    return listed[max(at - 1, 0)][2][:2], False


@functools.cache
def _models() -> dict[str, Model]:
    models = {}
    for row in _rows("apple_models.csv"):
        cap = version_tuple(row["max_ios"]) if row["max_ios"] else None
        models[row["identifier"].casefold()] = Model(row["identifier"], row["name"], cap)
    return models


def model(identifier: str) -> Model | None:
    """A model by Apple's identifier, "iPhone6,2" or the user agent's "iPhone6C2" (any case)."""
    key = re.sub(r"(?<=\d)[cC](?=\d)", ",", identifier.strip()).casefold()
    return _models().get(key)
