"""The CLI's outer edge: every failure an admin can cause or meet is one line and exit 2, no traceback.

Bad arguments (click's usage errors), an unreachable or refusing state store, an unwritable path: one
line naming the argument or setting and what to do. ``--debug`` anywhere on the line shows the
traceback instead.
"""

from __future__ import annotations

import sys

from typer import Abort
from typer._click.exceptions import UsageError  # typer 0.29 (pinned) carries its own click

from cli.commands import app, errors
from pipeline.outage import storage_problem
from pipeline.settings import SettingsError, load_settings

DEBUG_FLAG = "--debug"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 fine, 1 a run's step failed, 2 the admin must fix something)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args
    args = [a for a in args if a != DEBUG_FLAG]
    try:
        code = app(args=args, prog_name="python -m cli", standalone_mode=False)
    except UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "python -m cli"
        if exc.format_message():  # an empty one: no command given, and the help was printed
            _say(f"{exc.format_message()} (see: {command} --help)")
        return 2
    except Abort:
        return 130
    except Exception as exc:
        if debug:
            raise
        _say(explain(exc) + f" (add {DEBUG_FLAG} for the traceback)")
        return 2
    return code if isinstance(code, int) else 0


def explain(exc: Exception) -> str:
    """The one line for ``exc``: the storage outage named by its setting, else the error itself."""
    try:
        known = storage_problem(exc, load_settings())
    except SettingsError:
        known = None
    if known:
        return known
    first = (str(exc).splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _say(line: str) -> None:
    errors.print(line, style="red", highlight=False, markup=False)
