"""The dashboard's parts that are pure: findings by urgency, labels from the catalog, the chart's geometry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.findings import DeviceFinding, TenantSnapshot
from core.records import AppleAppStatus
from core.runs import CollectFigures, RunRecord, StatusCounts, StepResult
from report.charts import BOTTOM, HEIGHT, bars, trend_chart
from report.labels import by_urgency, reason_label, reason_title, status_label
from rules.catalog import FINDINGS, REASONS
from rules.readiness import tenant_findings_counted

T0 = datetime(2026, 11, 28, 6, tzinfo=UTC)


def test_the_blocking_finding_leads_though_the_tenant_lists_devices_first() -> None:
    snapshot = TenantSnapshot(
        apple_app=AppleAppStatus(present=True, admin_consent=False),
        devices=DeviceFinding(readable=False, problem="Exchange refused Get-MobileDevice"),
    )
    listed = tenant_findings_counted(snapshot, 3)
    assert [f.name for f in listed][:2] == ["device_partnerships", "apple_app"]  # the tenant's order
    ordered = by_urgency(listed)
    assert ordered[0].name == "apple_app" and ordered[0].severity == FINDINGS["apple_app"].severity
    assert [f.ok for f in ordered] == sorted(f.ok for f in ordered)  # every failing check before a passing one


def test_labels_come_from_the_catalog_and_keep_the_code() -> None:
    assert reason_label("legacy_signin_succeeded") == "Legacy (basic authentication) sign-ins succeeded"
    assert REASONS["legacy_signin_succeeded"].summary.startswith(reason_label("legacy_signin_succeeded"))
    assert reason_title("spray_source") == f"spray_source: {REASONS['spray_source'].summary}"
    assert reason_label("not_a_code") == "not_a_code"
    assert status_label("attack_suspected") == "Under attack, not emailed" and status_label("odd") == "odd"


def collect(at: datetime, legacy: int, done: int, attacked: int = 0, outcome: str = "succeeded") -> RunRecord:
    figures = CollectFigures(statuses=StatusCounts(legacy_active=legacy, remediated=done, attack_suspected=attacked))
    return RunRecord.of("collect", at, at, outcome, StepResult(figures))  # type: ignore[arg-type]


def test_one_day_of_runs_is_drawn_per_run() -> None:
    runs = [collect(T0 + timedelta(hours=h), 10 - h, h) for h in range(4)][::-1]  # newest first
    chart = trend_chart(runs)
    assert chart is not None and chart.per == "run"
    legacy, done, attacked = chart.series
    assert [count for _, _, count in legacy.dots] == [10, 9, 8, 7] and legacy.last == 7
    assert [count for _, _, count in done.dots] == [0, 1, 2, 3]
    assert all(y == HEIGHT - BOTTOM for _, y, _ in attacked.dots)  # zero sits on the axis
    assert [count for _, count in chart.ticks] == [0, 3, 6, 9, 12]


def test_several_days_keep_the_last_good_run_of_each_day() -> None:
    runs = [
        collect(T0 + timedelta(days=1, hours=5), 99, 99, outcome="failed"),
        collect(T0 + timedelta(days=1, hours=4), 6, 4, attacked=2),
        collect(T0 + timedelta(days=1, hours=1), 8, 2),
        collect(T0, 10, 0),
    ]
    chart = trend_chart(runs)
    assert chart is not None and chart.per == "day"
    assert [(s.name, [c for _, _, c in s.dots]) for s in chart.series] == [
        ("legacy_active", [10, 6]),
        ("remediated", [0, 4]),
        ("attack_suspected", [0, 2]),
    ]
    assert [(label, anchor) for _, label, anchor in chart.labels] == [("2026-11-28", "start"), ("2026-11-29", "end")]
    assert trend_chart([]) is None


def test_bars_are_scaled_to_the_longest() -> None:
    drawn = bars({"ios": 30, "ipados": 15, "unknown": 0}, {"ios": "iPhone (iOS)"})
    assert [(b.key, b.label, b.count, b.width) for b in drawn] == [
        ("ios", "iPhone (iOS)", 30, 100.0),
        ("ipados", "ipados", 15, 50.0),
        ("unknown", "unknown", 0, 0.0),
    ]
    assert bars({}) == []
