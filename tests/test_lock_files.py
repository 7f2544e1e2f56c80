"""The lock files: what `make install` and Azure's build install must be what the .in files ask for.

The Makefile installs with `--require-hashes --no-deps`, so a pin edited in a .in file without
`make lock` would silently not be installed; these tests name the file and package at fault.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;\\#]+)")
# (the file you edit, the lock `make lock` writes from it, overrides applied on top)
LOCKS = [
    ("requirements.in", "requirements.txt", None),
    ("requirements-dev.in", "requirements-dev.txt", None),
    ("requirements-infra.in", "requirements-infra.txt", "requirements-infra-overrides.in"),
]


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw.split("[")[0]).lower()


def direct_pins(path: Path) -> dict[str, str]:
    """The `name==version` lines of a .in file, following `-r` includes."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            pins.update(direct_pins(path.parent / line[3:].strip()))
        elif match := PIN.match(line):
            pins[_name(match[1])] = match[2]
    return pins


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """Each locked package: its version and how many hashes the lock gives for it."""
    entries: dict[str, tuple[str, int]] = {}
    current = ""
    for line in path.read_text().splitlines():
        if match := PIN.match(line):
            current = _name(match[1])
            entries[current] = (match[2], 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
    return entries


@pytest.mark.parametrize(("source", "lock", "overrides"), LOCKS)
def test_every_direct_pin_is_locked_at_its_version(source: str, lock: str, overrides: str | None) -> None:
    wanted = direct_pins(ROOT / source)
    if overrides:
        wanted.update(direct_pins(ROOT / overrides))
    have = locked(ROOT / lock)
    wrong = {name: (version, have.get(name, ("missing", 0))[0]) for name, version in wanted.items()}
    wrong = {name: pair for name, pair in wrong.items() if pair[0] != pair[1]}
    assert not wrong, f"{lock} is stale against {source} (asked, locked): {wrong}; run `make lock`"


@pytest.mark.parametrize(("source", "lock", "overrides"), LOCKS)
def test_every_locked_package_carries_a_hash(source: str, lock: str, overrides: str | None) -> None:
    unhashed = [name for name, (_, hashes) in locked(ROOT / lock).items() if hashes == 0]
    assert locked(ROOT / lock), f"{lock} pins nothing"
    assert not unhashed, f"{lock} has packages without a hash: {unhashed}; run `make lock`"


def test_the_tests_run_what_azure_installs() -> None:
    deployed, tested = locked(ROOT / "requirements.txt"), locked(ROOT / "requirements-dev.txt")
    differ = {n: (v, tested.get(n, ("missing", 0))[0]) for n, (v, _) in deployed.items()}
    differ = {n: pair for n, pair in differ.items() if pair[0] != pair[1]}
    assert not differ, f"requirements-dev.txt locks the app's packages differently (app, dev): {differ}"
