"""The dashboard's pictures as geometry, drawn by the template as inline SVG (no script, no CDN, and the
strict CSP holds: SVG presentation attributes are not inline styles)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.runs import CollectFigures, RunRecord, StatusCounts

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 36
"""The plot area inside the SVG's viewBox, room left for the count axis and below for the dates."""
SERIES = (
    ("legacy_active", "on legacy authentication", "legacy"),
    ("remediated", "remediated", "done"),
    ("attack_suspected", "under attack", "attack"),
)
"""(StatusCounts field, legend label, CSS class) for each line of the trend."""


@dataclass(frozen=True)
class Series:
    name: str
    label: str
    css: str
    points: str
    """SVG polyline points."""
    dots: tuple[tuple[float, float, int], ...]
    """(x, y, count) per point: a circle with the count as its tooltip."""
    last: int


@dataclass(frozen=True)
class Trend:
    series: tuple[Series, ...]
    ticks: tuple[tuple[float, int], ...]
    """(y, count) for the horizontal grid lines."""
    labels: tuple[tuple[float, str, str], ...]
    """(x, date, text-anchor) under the axis: the first starts at its point and the last ends at it, so
    neither leaves the picture."""
    per: str
    """"day" (the last collect run of each day) or "run" (each run, before there are two days)."""
    first: str
    last: str


def trend_chart(collect_runs: list[RunRecord], days: int = 30, runs: int = 48) -> Trend | None:
    """Per day the last successful collect run's counts; before there are two days, each run. None without any."""
    done = [
        (run.started_at, run.figures.statuses)
        for run in collect_runs  # newest first
        if run.outcome == "succeeded" and isinstance(run.figures, CollectFigures)
    ]
    by_day: dict[str, tuple[datetime, StatusCounts]] = {}
    for started, counts in done:
        by_day.setdefault(f"{started:%Y-%m-%d}", (started, counts))
    if len(by_day) >= 2:
        kept, per = [by_day[day] for day in sorted(by_day)[-days:]], "day"
    else:
        kept, per = sorted(done[:runs], key=lambda item: item[0]), "run"
    if not kept:
        return None
    top = _nice_top(max(max(getattr(c, name) for name, _, _ in SERIES) for _, c in kept))
    span_x = WIDTH - LEFT - RIGHT
    step = span_x / max(len(kept) - 1, 1)
    xs = [round(LEFT + (i * step if len(kept) > 1 else span_x / 2), 1) for i in range(len(kept))]

    def y(count: int) -> float:
        return round(HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * count / top, 1)

    series = []
    for name, label, css in SERIES:
        values = [getattr(counts, name) for _, counts in kept]
        dots = tuple((x, y(v), v) for x, v in zip(xs, values, strict=True))
        series.append(Series(name, label, css, " ".join(f"{x},{yy}" for x, yy, _ in dots), dots, values[-1]))
    stamp = "%Y-%m-%d" if per == "day" else "%m-%d %H:%M"
    chosen = sorted({0, len(kept) // 2, len(kept) - 1})
    return Trend(
        series=tuple(series),
        ticks=tuple((y(top * i // 4), top * i // 4) for i in range(5)),
        labels=tuple((xs[i], f"{kept[i][0]:{stamp}}", _anchor(i, len(kept))) for i in chosen),
        per=per,
        first=f"{kept[0][0]:{stamp}}",
        last=f"{kept[-1][0]:{stamp}}",
    )


def _anchor(index: int, count: int) -> str:
    if count == 1:
        return "middle"
    return "start" if index == 0 else "end" if index == count - 1 else "middle"


def _nice_top(value: int) -> int:
    """The axis top: at least 4, a multiple of 4 so the four grid steps are whole numbers."""
    return max(4, -(-value // 4) * 4)


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    count: int
    width: float
    """Of 100: the bar's share of the longest."""


def bars(counts: dict[str, int], labels: dict[str, str] | None = None) -> list[Bar]:
    """Horizontal bars, longest first, scaled to the largest count (an empty breakdown draws nothing)."""
    top = max(counts.values(), default=0)
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])
    return [
        Bar(key, (labels or {}).get(key, key), count, round(100 * count / top, 1) if top else 0.0)
        for key, count in ordered
    ]
