"""The admin views per protocol over real HTTP against Azurite: /api/protocols, /api/senders (JSON, CSV),
the dashboard's protocol sections and the digest grouped by protocol, for a tenant with EAS phones, SMTP
AUTH senders of every kind and an SMTP AUTH spray. What is checked is what the admin reads."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.clock import utcnow
from core.records import Evidence, UserState, Verdict
from devstack.asgi_server import AsgiServer
from devstack.azurite import Azurite
from devstack.simulator import SimServer
from pipeline.admin import admin_app
from pipeline.cycle import FULL_CYCLE, digest_step, run_with_settings
from pipeline.settings import load_settings
from pipeline.wiring import StateTables
from sim.graph_shapes import sign_in
from sim.scenario import Scenario
from tests.browser import chromium, screenshot_dir
from tests.conftest import outbox_messages, plain_text, sim_env
from tests.scenarios import add_user, legacy_signins, new_id, smtp_signins, tenant
from tests.test_cli import cli

StartSim = Callable[[Scenario], SimServer]
ADMIN = "it-admin@contoso.example"
HOSTILE_UPN = '=HYPERLINK("http://evil.example")<img src=x onerror=alert(1)>@contoso.example'
WATCHED = "Exchange ActiveSync,Authenticated SMTP,Exchange Web Services"
SMTP = "Authenticated SMTP"


@dataclass
class Tenant:
    url: str
    env: dict[str, str]
    now: datetime

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(f"{self.url}/api/{path}", params=params, timeout=30)


@pytest.fixture
def views(tenant_id: str, start_sim: StartSim, azurite: Azurite) -> Iterator[Tenant]:
    now = utcnow().replace(microsecond=0)  # the CLI and the admin views count days from today
    scenario = tenant(tenant_id)
    alice, bob = add_user(scenario, "alice"), add_user(scenario, "bob")
    legacy_signins(scenario, alice, now - timedelta(hours=1), 4)  # an iPhone that still gets in over EAS
    legacy_signins(scenario, bob, now - timedelta(hours=2), 4, error_code=53003)  # refused by policy
    scanner, app, monitor, dana, erin, odd = (
        add_user(scenario, name) for name in ("scanner", "billing.app", "monitoring", "dana", "erin", "odd")
    )
    odd["userPrincipalName"] = HOSTILE_UPN  # the directory is not trusted either
    scenario.managers[app["id"]] = dana["id"]
    smtp_signins(scenario, scanner, now - timedelta(hours=1), 12)  # a scan an hour from the office network
    smtp_signins(scenario, app, now - timedelta(minutes=5), 300, every=timedelta(seconds=30))  # invoices, in bulk
    smtp_signins(scenario, monitor, now - timedelta(hours=2), 8, every=timedelta(hours=3))
    smtp_signins(scenario, odd, now - timedelta(hours=3), 4, ip="198.51.100.77")
    # A real Android EAS client agent (tests/corpus/user_agents.csv: horde ActiveSync DeviceTest.php).
    smtp_signins(scenario, erin, now - timedelta(hours=4), 3, every=timedelta(hours=5), ua="Android/4.4.2-EAS-1.3")
    spray_hour = (now - timedelta(hours=3)).replace(minute=40, second=0, microsecond=0)  # one clock hour
    for n in range(6):  # an SMTP AUTH spray: wrong passwords on six accounts from one source
        victim = add_user(scenario, f"victim{n}")
        for attempt in range(2):
            scenario.sign_ins.append(
                sign_in(
                    new_id(),
                    spray_hour - timedelta(minutes=n * 3 + attempt),
                    victim,
                    client_app=SMTP,
                    error_code=50126,
                    ip="192.0.2.66",
                    operating_system="",
                )
            )
    scenario.sort()
    sim = start_sim(scenario)
    env = sim_env(
        sim,
        azurite,
        LAM_LEGACY_PROTOCOLS=WATCHED,
        LAM_SENDER_OWNERS="scanner@contoso.example=facilities@contoso.example",
        LAM_DIGEST_RECIPIENTS=ADMIN,
    )
    settings = load_settings(env)
    asyncio.run(run_with_settings(settings, FULL_CYCLE, now))
    server = AsgiServer(admin_app(lambda: settings), name="protocol-views").start()
    yield Tenant(server.url, env, now)
    server.stop()


def days_to(day: date) -> int:
    return max((day - utcnow().date()).days, 0)


def all_senders(views: Tenant, **params: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(50):
        answer = views.get("senders", **params, limit="2", **({"continuation": token} if token else {}))
        assert answer.status_code == 200, answer.text
        rows += answer.json()["senders"]
        token = answer.json()["continuation"]
        if not token:
            return rows
    raise AssertionError("paging did not end")


def by_upn(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: r["upn"])


def test_each_watched_protocol_with_its_dates_and_who_is_still_on_it(views: Tenant) -> None:
    answer = views.get("protocols").json()
    protocols = {p["protocol"]: p for p in answer["protocols"]}
    assert list(protocols) == [SMTP, "Exchange Web Services", "Exchange ActiveSync"], "the soonest first"
    smtp = protocols[SMTP]
    # Microsoft gave a month, not a day: no date is shown, the days count to the month's last day.
    assert smtp["switch_off"] == "the end of December 2026" and smtp["switch_off_date"] is None
    assert smtp["days_left"] == days_to(date(2026, 12, 31))
    assert [m["date"] for m in smtp["milestones"]] == [None, None, None]
    assert smtp["refusal"] == "550 5.7.30 Basic authentication is not supported for Client Submission"
    assert smtp["by_kind"] == {
        "person": {"succeeding": 1, "failing": 0},  # erin's mail app
        "device": {"succeeding": 3, "failing": 0},  # the scanner, the monitoring account, the odd one
        "application": {"succeeding": 1, "failing": 0},  # billing.app
        "shared": {"succeeding": 0, "failing": 0},
        "attack": {"succeeding": 0, "failing": 6},  # the spray's victims
    }
    assert smtp["accounts"] == {"succeeding": 5, "failing": 6}
    assert smtp["senders_csv"] == "/api/senders?protocol=Authenticated+SMTP&format=csv"
    ews = protocols["Exchange Web Services"]
    assert (ews["switch_off"], ews["switch_off_date"]) == ("2027-04-01", "2027-04-01")  # a confirmed day
    assert ews["days_left"] == days_to(date(2027, 4, 1)) and ews["accounts"] == {"succeeding": 0, "failing": 0}
    eas = protocols["Exchange ActiveSync"]
    assert eas["days_left"] is None and eas["switch_off"] is None
    assert eas["by_kind"]["person"] == {"succeeding": 1, "failing": 1}  # alice gets in, bob is refused
    assert answer["source"] == "last collect run"
    # The counts are the senders the list shows.
    listed = all_senders(views, protocol=SMTP)
    for kind, counted in smtp["by_kind"].items():
        assert len([r for r in listed if r["kind"] == kind]) == counted["succeeding"] + counted["failing"], kind


def test_the_senders_api_and_the_cli_report_give_the_same_rows(views: Tenant, tmp_path: Path) -> None:
    days = days_to(date(2026, 12, 31))
    for filters, options in (
        ({}, []),
        ({"kind": "device"}, ["--kind", "device"]),
        ({"owner": "owner unknown"}, ["--owner", "owner unknown"]),
        (
            {"owner": "Dana@Contoso.example", "status": "legacy_active"},
            ["--owner", "Dana@Contoso.example", "--status", "legacy_active"],
        ),
    ):
        api = all_senders(views, protocol=SMTP, **filters)
        report = cli("report", "--protocol", SMTP, *options, "--format", "json", env=views.env)
        assert report.returncode == 0, report.stderr
        assert by_upn(api) == by_upn(json.loads(report.stdout)), filters
    device_rows = {r["upn"]: r for r in all_senders(views, protocol=SMTP, kind="device")}
    assert {upn: (r["owner"], r["days_to_switch_off"]) for upn, r in device_rows.items()} == {
        "scanner@contoso.example": ("facilities@contoso.example", days),
        "monitoring@contoso.example": ("owner unknown", days),
        HOSTILE_UPN: ("owner unknown", days),
    }
    (billing,) = all_senders(views, protocol=SMTP, owner="dana@contoso.example")
    assert (billing["upn"], billing["kind"], billing["owner"]) == (
        "billing.app@contoso.example",
        "application",
        "dana@contoso.example (manager)",
    )
    assert billing["last_success"] == (views.now - timedelta(minutes=5)).isoformat()
    assert sorted(r["upn"] for r in all_senders(views, protocol="exchange activesync", kind="person")) == [
        "alice@contoso.example",
        "bob@contoso.example",
    ]
    # The CSV: the CLI's bytes, with a BOM for Excel, and no cell a spreadsheet would run.
    api_csv = views.get("senders", protocol=SMTP, format="csv")
    assert api_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in api_csv.headers["content-disposition"]
    report_csv = cli("report", "--protocol", SMTP, "--format", "csv", env=views.env)
    written = cli("report", "--protocol", SMTP, "--format", "csv", "--out", str(tmp_path / "s.csv"), env=views.env)
    assert written.returncode == 0, written.stderr
    assert api_csv.content == (tmp_path / "s.csv").read_bytes(), "the bytes `cli report --out` writes, BOM and CRLF"
    cells = [cell for row in csv.reader(io.StringIO(report_csv.stdout)) for cell in row]
    assert "'" + HOSTILE_UPN in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], "a cell a spreadsheet would evaluate"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "protocol: required"),
        ({"protocol": "Authenticated SMTP' or PartitionKey ne '"}, "protocol:"),
        ({"protocol": SMTP, "kind": "printer"}, "kind: 'printer' is not one of person, device"),
        ({"protocol": SMTP, "owner": "x" * 400}, "owner:"),
        ({"protocol": SMTP, "status": "legacy_active' or '1' eq '1"}, "status:"),
        ({"protocol": SMTP, "format": "xlsx"}, "format:"),
        ({"protocol": SMTP, "continuation": "not-a-token"}, "continuation:"),
        ({"protocol": SMTP, "$filter": "PartitionKey ne ''"}, "unknown query parameter(s): $filter"),
    ],
)
def test_a_bad_sender_filter_is_refused_naming_it(views: Tenant, params: dict[str, str], message: str) -> None:
    answer = views.get("senders", **params)
    assert answer.status_code == 400
    assert message in answer.json()["error"]


def test_the_cli_refuses_a_sender_filter_without_a_protocol(views: Tenant) -> None:
    refused = cli("report", "--kind", "device", env=views.env)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "--kind: give --protocol too (it filters a protocol's senders)"


def section(html: str, protocol: str) -> str:
    start = html.index(f'data-protocol="{protocol}"')
    return html[start : html.index("</article>", start)]


def test_the_dashboard_has_a_section_per_protocol_with_days_left_kinds_and_owners(
    views: Tenant, tmp_path: Path
) -> None:
    html = views.get("dashboard").text
    assert re.search(r"still on legacy authentication \(Authenticated SMTP, Exchange ActiveSync\)", html)
    smtp = section(html, SMTP)
    days = days_to(date(2026, 12, 31))
    assert f'data-days-left="{days}">{days} days left</strong> to the end of December 2026 (counted to the' in smtp
    assert re.search(
        r'<tr data-kind="device"><th scope="row">printer or scanner</th><td class="num-col succeeding">3</td>'
        r'<td class="num-col failing">0</td>',
        smtp,
    )
    assert re.search(r'data-kind="attack">.*?<td class="num-col failing">6</td>', smtp)
    assert "<caption>4 senders an owner must move, whose basic Authenticated SMTP sign-ins succeeded" in smtp
    owners = re.findall(
        r'<td class="owner( unknown)?" data-label="Owner">([^<]+)</td><td class="who"[^>]*>([^<]+)<', smtp
    )
    assert sorted((o, upn) for _, o, upn in owners) == sorted(
        [
            ("facilities@contoso.example", "scanner@contoso.example"),
            ("dana@contoso.example (manager)", "billing.app@contoso.example"),
            ("owner unknown", "monitoring@contoso.example"),
            ("owner unknown", HOSTILE_UPN.replace('"', "&#34;").replace("<", "&lt;").replace(">", "&gt;")),
        ]
    )
    assert [flag for flag, o, _ in owners if o == "owner unknown"] == [" unknown", " unknown"]
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    ews = section(html, "Exchange Web Services")
    assert f"{days_to(date(2027, 4, 1))} days left</strong> to 2027-04-01." in ews
    eas = section(html, "Exchange ActiveSync")
    assert "No further switch-off date announced" in eas and '<table class="senders">' not in eas  # people only
    # The CSV links are filtered API queries, and they answer.
    link = re.search(r'href="/api/(senders\?protocol=Authenticated\+SMTP&amp;kind=device&amp;format=csv)"', smtp)
    assert link is not None
    devices = httpx.get(f"{views.url}/api/{link.group(1).replace('&amp;', '&')}", timeout=30)
    rows = list(csv.DictReader(io.StringIO(devices.content.decode("utf-8-sig"))))
    assert sorted(r["kind"] for r in rows) == ["device"] * 3
    # Looked at in a real browser, desktop and phone.
    dom = chromium("--dump-dom", f"{views.url}/api/dashboard").stdout
    assert 'id="protocols-title">Protocols Microsoft is retiring</h2>' in dom
    folder = screenshot_dir(tmp_path)  # docs/ only when LAM_SCREENSHOT_DIR=docs asks for it
    for name, size in (("dashboard-protocols-desktop.png", "1280,2400"), ("dashboard-protocols-phone.png", "390,4200")):
        target = folder / name
        chromium(f"--screenshot={target}", f"--window-size={size}", f"{views.url}/api/dashboard")
        assert target.exists() and target.stat().st_size > 10_000


def test_the_digest_groups_by_protocol_with_each_senders_owner(views: Tenant) -> None:
    settings = load_settings(views.env)
    asyncio.run(run_with_settings(settings, [digest_step], views.now + timedelta(minutes=5)))
    sim_outbox = Path(views.env["LAM_OUTBOX_DIR"])
    (digest,) = [m for m in outbox_messages(sim_outbox) if m["To"] == ADMIN]
    text = plain_text(digest).replace("\r\n", "\n")
    days = days_to(date(2026, 12, 31))
    assert "Still on legacy authentication: 7 account(s) (Authenticated SMTP 5, Exchange ActiveSync 2;" in text
    assert (
        f"Authenticated SMTP: 5 account(s), {days} day(s) left to the end of December 2026\n"
        "  people's own mail apps (each person is told): 1\n"
        "  printers and scanners: 3\n"
        f"    - {HOSTILE_UPN} (owner unknown)\n"
        "    - monitoring@contoso.example (owner unknown)\n"
        "    - scanner@contoso.example (facilities@contoso.example)\n"
        "  applications and scripts: 1\n"
        "    - billing.app@contoso.example (dana@contoso.example (manager))\n"
    ) in text
    assert "Exchange ActiveSync: 2 account(s)\n  people's own mail apps (each person is told): 2\n" in text
    assert "Legacy Auth Monitor" in str(digest["Subject"]) and "7 on legacy authentication" in str(digest["Subject"])
    html = digest.get_body(("html",))
    assert html is not None
    content = str(html.get_content())
    assert "<img src=x" not in content and "&lt;img src=x onerror=alert(1)&gt;" in content
    assert '<h2 style="font-size:16px;">Authenticated SMTP: 5 account(s)' in content


def test_a_month_microsoft_named_without_a_day_never_becomes_a_date() -> None:
    from report.protocols import protocol_views

    counts = {"Authenticated SMTP": {"device": {"succeeding": 2}, "attack": {"failing": 3}}}
    views = protocol_views(
        ["Exchange ActiveSync", "exchange web services", "Authenticated SMTP"], counts, date(2026, 11, 30)
    )
    assert [v["protocol"] for v in views] == [SMTP, "Exchange Web Services", "Exchange ActiveSync"]
    smtp, ews, eas = views
    assert (smtp["switch_off"], smtp["switch_off_date"], smtp["days_left"]) == ("the end of December 2026", None, 31)
    assert (ews["switch_off"], ews["switch_off_date"], ews["days_left"]) == ("2027-04-01", "2027-04-01", 122)
    assert (eas["switch_off"], eas["switch_off_date"], eas["days_left"]) == (None, None, None)
    assert smtp["accounts"] == {"succeeding": 2, "failing": 3}
    assert smtp["by_kind"]["shared"] == {"succeeding": 0, "failing": 0}  # a kind the registry names, none seen
    assert list(eas["by_kind"]) == ["person", "attack"]
    after = protocol_views([SMTP], counts, date(2027, 1, 15))[0]
    assert after["days_left"] == 0, "past the day: none left, never a negative count"


def test_the_dashboard_lists_at_most_a_hundred_senders_and_the_csv_has_them_all(views: Tenant) -> None:
    """A tenant with many printers: the page stays readable, owner unknown first, nothing is lost."""
    settings = load_settings(views.env)
    tables = StateTables.open(settings)
    last = views.now - timedelta(hours=2)
    printers = []
    for n in range(100):  # written as another writer might, each a printer that still succeeds
        evidence = Evidence(
            upn=f"printer{n:03}@contoso.example",
            legacy_success=5,
            protocols={SMTP: 5},
            last_legacy_at=last,
            last_success_at=last,
        )
        verdict = Verdict("legacy_active", ("smtp_basic_auth_succeeded", "smtp_sender_device"))
        printers.append((UserState(new_id(), evidence, verdict, "test", last), None))
    tables.users.write_if_changed(printers)
    smtp = section(views.get("dashboard").text, SMTP)
    assert "104 senders an owner must move" in smtp and "the first 100 shown, all in the CSV" in smtp
    shown = re.findall(r'<td class="owner( unknown)?" data-label="Owner">', smtp)
    assert len(shown) == 100 and all(shown), "owner unknown first: the ones nobody will fix"
    csv_rows = list(
        csv.DictReader(io.StringIO(views.get("senders", protocol=SMTP, format="csv").text.lstrip("\ufeff")))
    )
    assert len([r for r in csv_rows if r["upn"].startswith("printer")]) == 100
