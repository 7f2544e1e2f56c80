"""README.md and docs/deploy.md, held against the code: every `make` target they name exists, every
`python -m cli` and `python -m bench.…` line uses commands and options that really exist (checked with
their own --help), every file they name is in the repository, and the settings table, the admin API,
the findings, the reason codes and the tables they describe are the ones the code has. The local flow
itself runs in tests/test_cli.py; this catches documentation that drifts from the code."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from dataclasses import MISSING, fields
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from typer.testing import CliRunner

import store.tenant
from cli.commands import app
from cli.main import DEBUG_FLAG
from core.config import MessagePolicy, RuleConfig
from core.records import Evidence, UserState, Verdict
from pipeline.settings import SCHEDULE_SETTINGS, Settings, SettingsError, load_settings
from report.app import AdminTables, build_admin_app
from report.queries import PLATFORMS
from report.users import COLUMNS as USER_COLUMNS
from rules.catalog import FINDINGS, REASONS
from store.tables import TABLE_NAMES
from store.users import to_entity
from tests.infra_rules import settings_read_by_code

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEPLOY = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
DOCS = {"README.md": README, "docs/deploy.md": DEPLOY}
VENV_PYTHON = ".venv/bin/python -m "


def _shell_lines(text: str) -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]


def _commands(module: str) -> list[str]:
    """Every `python -m <module> …` the docs show, in shell blocks or inline, one per command."""
    found = []
    for text in DOCS.values():
        lines = _shell_lines(text) + re.findall(r"`([^`\n]+)`", text)
        for line in lines:
            for call in re.split(r"&&|;|\|", line):
                call = call.strip()
                if call.startswith((f"{VENV_PYTHON}{module}", f"python -m {module}")):
                    found.append(call)
    return found


CLI_CALLS = _commands("cli ")
BENCH_CALLS = _commands("bench.")
MAKE_TARGETS = [line.split()[1] for text in DOCS.values() for line in _shell_lines(text) if line.startswith("make ")]


def _options(call: str) -> list[str]:
    return sorted({w.split("=")[0] for w in call.replace("[", " ").replace("]", " ").split() if w.startswith("--")})


def test_the_readme_shows_the_two_commands_and_the_cli() -> None:
    assert {"demo", "test"} <= set(MAKE_TARGETS)
    assert len(CLI_CALLS) >= 20, CLI_CALLS
    assert {"bench.ingest", "bench.admin_views", "bench.devices_cost"} <= {c.split()[2] for c in BENCH_CALLS}


@pytest.mark.parametrize("target", sorted(set(MAKE_TARGETS)))
def test_every_make_target_in_the_docs_exists(target: str) -> None:
    assert re.search(rf"^{re.escape(target)}:", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)


@pytest.mark.parametrize("call", [*CLI_CALLS, *BENCH_CALLS])
def test_every_command_runs_with_the_projects_virtualenv(call: str) -> None:
    """On a fresh clone `python` is not the virtualenv's: a bare `python -m cli` fails with ImportError."""
    assert call.startswith(VENV_PYTHON), f"write `{VENV_PYTHON}…`, not `{call}`"


@pytest.mark.parametrize("call", CLI_CALLS)
def test_every_cli_line_in_the_docs_uses_real_commands_and_options(call: str) -> None:
    words = [w for w in call.split(" -m cli ", 1)[1].split() if w != DEBUG_FLAG]  # cli/main.py takes it anywhere
    command = words[0]
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0, f"`cli {command}` does not exist: {result.output}"
    for option in set(_options(call)) - {DEBUG_FLAG}:
        assert option in result.output, f"`cli {command}` has no {option} (docs: {call})"


@cache
def _bench_help(module: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"`python -m {module} --help` failed: {done.stderr[-500:]}"
    return done.stdout


@pytest.mark.integration
@pytest.mark.parametrize("call", BENCH_CALLS)
def test_every_benchmark_line_uses_real_options(call: str) -> None:
    module = call.split(" -m ", 1)[1].split()[0]
    for option in _options(call):
        assert option in _bench_help(module), f"`python -m {module}` has no {option} (docs: {call})"


PATH = re.compile(r"`(\.?[\w-]+(?:/[\w.-]+)+)`|\]\(((?:\w+/)*[\w.-]+\.\w+)(?:#[\w-]+)?\)")


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_every_file_the_docs_name_exists(doc: str) -> None:
    base = (ROOT / doc).parent
    named = {a or b for a, b in PATH.findall(DOCS[doc])}
    missing = [
        p for p in sorted(named) if "." in p.rsplit("/", 1)[-1] and not ((ROOT / p).exists() or (base / p).exists())
    ]
    assert len(named) >= 5 and not missing, f"{doc} names files that do not exist: {missing}"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_every_link_to_a_section_finds_it(doc: str) -> None:
    links = re.findall(r"\]\(((?:[\w./-]+\.md)?)#([\w-]+)\)", DOCS[doc])
    for target, anchor in links:
        text = DOCS[str(((ROOT / doc).parent / target).resolve().relative_to(ROOT))] if target else DOCS[doc]
        headings = {_anchor(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}
        assert anchor in headings, f"{doc} links to {target}#{anchor}, which is no heading"


def test_every_readme_section_the_code_points_to_exists() -> None:
    """Error messages send the admin to a README section by name (pipeline/outage.py: 'Run it locally')."""
    sources = [p for d in ("cli", "pipeline", "core", "report", "store") for p in (ROOT / d).rglob("*.py")]
    pointed = {s for p in sources for s in re.findall(r"README\.md, '([^']+)'", p.read_text(encoding="utf-8"))}
    headings = set(re.findall(r"^#+ (.+)$", README, flags=re.MULTILINE))
    assert pointed and pointed <= headings, (
        f"the code points to README sections that do not exist: {pointed - headings}"
    )


def test_the_readme_gives_the_reports_fields_and_platforms_as_the_code_has_them() -> None:
    fields_para = README.split("`report --format json` prints one object per tracked user:", 1)[1].split("\n\n")[0]
    assert [c for c in _codes(fields_para) if c not in ("csv",)] == list(USER_COLUMNS)
    platform_option = re.search(r"--platform ([a-z|]+)", README)
    assert platform_option and platform_option.group(1).split("|") == list(PLATFORMS)
    filters_para = README.split("Every filter is validated", 1)[1].split("\n\n")[0]
    assert all(f"`{p}`" in filters_para for p in PLATFORMS)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split(" | ")]


def _tables(text: str, header: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every Markdown table whose header line starts with ``header``: its header cells and its rows."""
    lines = text.splitlines()
    found = []
    for start in (i for i, line in enumerate(lines) if line.startswith(header)):
        rows = []
        for line in lines[start + 2 :]:
            if not line.startswith("|"):
                break
            rows.append(_cells(line))
        found.append((_cells(lines[start]), rows))
    return found


def _table(text: str, header: str) -> list[list[str]]:
    """The rows of the first such table."""
    return _tables(text, header)[0][1]


def _codes(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


SETTINGS_ROWS = {name: row for row in _table(README, "| setting | default |") for name in _codes(row[0])}
BASE = {
    "LAM_TENANT_ID": "5b1d7a0e-3c39-4f0e-9a8e-4d2c6f1b7a90",
    "LAM_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "LAM_SENDER_ADDRESS": "DoNotReply@contoso.example",
}


def test_the_settings_table_names_every_setting_the_code_reads_and_no_other() -> None:
    assert set(SETTINGS_ROWS) == settings_read_by_code()


def _documented_default(name: str) -> str | None:
    """The README's default for ``name``: its value as written, or None for "—", "empty", "required"."""
    names, defaults = (_codes(cell) for cell in SETTINGS_ROWS[name][:2])
    if not defaults or SETTINGS_ROWS[name][1].split()[0] in {"—", "empty", "required"}:
        return None
    return defaults[names.index(name)] if len(defaults) == len(names) else defaults[0]


@pytest.mark.parametrize("name", sorted(SETTINGS_ROWS))
def test_the_settings_table_gives_each_settings_true_default(name: str) -> None:
    documented = _documented_default(name)
    if name in SCHEDULE_SETTINGS:
        assert documented == SCHEDULE_SETTINGS[name]
        return
    field = {f.name: f for kind in (Settings, RuleConfig, MessagePolicy) for f in fields(kind)}[
        name.removeprefix("LAM_").lower()
    ]
    if field.default is MISSING:
        assert SETTINGS_ROWS[name][1] == "required"
        with pytest.raises(SettingsError, match=f"{name}: required"):
            load_settings({k: v for k, v in BASE.items() if k != name})
    elif documented is None:
        assert field.default in (None, "", (), frozenset()), f"README: {name} has no default; the code: {field}"
    else:
        assert load_settings({**BASE, name: documented}) == load_settings(BASE), (
            f"README: {name} defaults to {documented!r}; the code does not"
        )


async def _ask(method: str, path: str) -> httpx.Response:
    """The real admin app in process; its tables are never opened, as a parameter it does not know is refused first."""
    transport = httpx.ASGITransport(app=build_admin_app(lambda: cast(AdminTables, object())))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.request(method, path, params={"not_a_parameter": "1"})


API_ROWS = [_codes(row[0])[0] for row in _table(README, "| request | returns |")]


@pytest.mark.parametrize("request_line", API_ROWS)
def test_every_admin_view_and_parameter_in_the_readme_exists(request_line: str) -> None:
    """Each view answers an unknown parameter with a 400 listing the ones it takes (before any table is read):
    the README's must be among them, on both doors."""
    method, target = request_line.split(" ", 1)
    path, _, query = target.partition("?")
    path = re.sub(r"\{[^}]+\}", "4323591e-7a0f-40d5-9701-9206e3dfa76a", path)
    documented = {p.split("=")[0] for p in query.split("&") if p and not p.startswith("…")}
    for door in (path, path.replace("/api/", "/api/keyed/", 1)):
        answer = asyncio.run(_ask(method, door))
        assert answer.status_code == 400, f"{door}: {answer.status_code} {answer.text}"
        allowed = answer.json()["error"].split("allowed: ", 1)[1]
        assert documented <= set(allowed.split(", ")) | ({"none"} if not documented else set()), allowed


def test_the_readme_lists_every_finding_and_no_other() -> None:
    named = {code for _, rows in _tables(README, "| finding |") for row in rows for code in _codes(row[0])}
    assert named == set(FINDINGS)


def test_every_reason_and_advice_code_in_the_readmes_tables_is_declared() -> None:
    statuses = {code for row in _table(README, "| status | meaning |") for code in _codes(row[0])}
    checked = set()
    for heads, rows in _tables(README, "| status | meaning |") + _tables(README, "| kind | evidence |"):
        columns = [i for i, head in enumerate(heads) if "reason code" in head or head.startswith("advice")]
        for row in rows:
            for code in (code for i in columns for code in _codes(row[i])):
                if re.fullmatch(r"[a-z0-9_]+", code):
                    assert code in REASONS or code in statuses, f"README names {code}, which no rule declares"
                    checked.add(code)
    assert len(checked) >= 30, sorted(checked)


def _state() -> UserState:
    return UserState("u1", Evidence(), Verdict("legacy_active", ()), "v1", datetime(2026, 11, 30, tzinfo=UTC))


def test_the_readme_describes_every_column_of_the_users_table() -> None:
    documented = {code for row in _table(README, "| column | meaning |") for code in _codes(row[0])}
    written = set(to_entity("t", _state())) - {"PartitionKey", "RowKey"}
    assert written <= documented, f"columns the README does not describe: {sorted(written - documented)}"
    assert documented <= written, f"columns the README names but no row has: {sorted(documented - written)}"


def test_the_readme_names_every_table_and_every_row_of_the_tenant_table() -> None:
    rows = {_codes(row[0])[0]: row for row in _table(README, "| table | RowKey | holds |")}
    assert set(TABLE_NAMES) <= set(rows)
    tenant_rows: set[Any] = {v for k, v in vars(store.tenant).items() if k.endswith("_ROW") and isinstance(v, str)}
    assert set(_codes(rows["tenant"][1])) == tenant_rows
