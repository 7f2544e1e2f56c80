"""README.md's commands, held against the code: every `make` target it names exists, and every
`python -m cli` line uses a command and options the CLI really has (checked with its own --help).
The local flow itself runs in tests/test_cli.py; this catches a README that drifts from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.commands import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SHELL_BLOCKS = re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL)
LINES = [line.split("  #")[0].strip() for block in SHELL_BLOCKS for line in block.splitlines()]
CLI_CALLS = [
    call.strip()
    for line in LINES
    for call in re.split(r"&&|;", line)
    if call.strip().startswith(".venv/bin/python -m cli ")
]
MAKE_TARGETS = [line.split()[1] for line in LINES if line.startswith("make ")]


def test_the_readme_shows_the_two_commands_and_the_cli() -> None:
    assert {"demo", "test"} <= set(MAKE_TARGETS)
    assert len(CLI_CALLS) >= 10, CLI_CALLS


@pytest.mark.parametrize("target", sorted(set(MAKE_TARGETS)))
def test_every_make_target_in_the_readme_exists(target: str) -> None:
    assert re.search(rf"^{re.escape(target)}:", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)


@pytest.mark.parametrize("call", CLI_CALLS)
def test_every_cli_line_in_the_readme_uses_real_commands_and_options(call: str) -> None:
    words = call.removeprefix(".venv/bin/python -m cli ").replace("[", " ").replace("]", " ").split()
    command = words[0]
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0, f"`cli {command}` does not exist: {result.output}"
    for option in {w.split("=")[0] for w in words if w.startswith("--")}:
        assert option in result.output, f"`cli {command}` has no {option} (README: {call})"
