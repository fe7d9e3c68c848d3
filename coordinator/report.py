"""The morning report: one self-contained HTML page (inline CSS and SVG, no script, nothing fetched)
rendered from plain data. `render_report` does no I/O; `coordinator.grading_summary` builds the data.

Charts: model MAE against the line's own MAE per night (the market benchmark), hit rate by edge
bucket against break-even, and calibration of `prob_over` (predicted against observed over rate).
Each chart has its own colour, so a screenshot test can find every chart by its pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape
from typing import Any

MODEL_COLOUR = "#1f6fb5"
LINE_COLOUR = "#e8730c"
BAR_COLOUR = "#2e9e44"
CALIBRATION_COLOUR = "#8e44ad"
AXIS_COLOUR = "#555555"
GRID_COLOUR = "#e3e3e3"
REFERENCE_COLOUR = "#c0392b"

CHART_WIDTH = 560
CHART_HEIGHT = 300
_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM = 52, 16, 28, 44


@dataclass(frozen=True)
class TrendPoint:
    game_date: date
    model_mae: float | None
    line_mae: float | None
    graded: int


@dataclass(frozen=True)
class BucketRate:
    label: str
    picks: int
    hit_rate: float | None


@dataclass(frozen=True)
class CalibrationBin:
    predicted: float
    observed: float
    count: int


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows, already computed."""

    game_date: date
    generated_at: datetime
    window_start: date
    summary: dict[str, Any]
    trend: list[TrendPoint] = field(default_factory=list)
    edge_buckets: list[BucketRate] = field(default_factory=list)
    calibration: list[CalibrationBin] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    break_even: float = 0.524


# -- formatting -------------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 2, *, pct: bool = False, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    if isinstance(value, int | float):
        number = float(value) * (100 if pct else 1)
        text = f"{number:+.{digits}f}" if signed else f"{number:.{digits}f}"
        return text + ("%" if pct else "")
    return escape(str(value))


def _attr(value: float) -> str:
    return f"{value:.1f}"


# -- SVG primitives -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    """A plot area with linear scales."""

    x_min: float
    x_max: float
    y_min: float
    y_max: float
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT

    def x(self, value: float) -> float:
        span = self.x_max - self.x_min or 1.0
        return _PAD_LEFT + (value - self.x_min) / span * (self.width - _PAD_LEFT - _PAD_RIGHT)

    def y(self, value: float) -> float:
        span = self.y_max - self.y_min or 1.0
        return (
            self.height - _PAD_BOTTOM - (value - self.y_min) / span * (self.height - _PAD_TOP - _PAD_BOTTOM)
        )


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))


def _y_grid(frame: _Frame, ticks: Sequence[float], *, pct: bool = False) -> list[str]:
    out = []
    for tick in ticks:
        y = frame.y(tick)
        label = f"{tick * 100:.0f}%" if pct else f"{tick:g}"
        out.append(
            f'<line x1="{_PAD_LEFT}" y1="{_attr(y)}" x2="{frame.width - _PAD_RIGHT}" y2="{_attr(y)}" '
            f'stroke="{GRID_COLOUR}" stroke-width="1"/>'
            f'<text x="{_PAD_LEFT - 6}" y="{_attr(y + 4)}" text-anchor="end" class="tick">{label}</text>'
        )
    return out


def _axes(frame: _Frame) -> str:
    bottom = frame.height - _PAD_BOTTOM
    return (
        f'<line x1="{_PAD_LEFT}" y1="{_PAD_TOP}" x2="{_PAD_LEFT}" y2="{bottom}" stroke="{AXIS_COLOUR}"/>'
        f'<line x1="{_PAD_LEFT}" y1="{bottom}" x2="{frame.width - _PAD_RIGHT}" y2="{bottom}" '
        f'stroke="{AXIS_COLOUR}"/>'
    )


def _svg(title: str, body: Sequence[str], chart_id: str) -> str:
    return (
        f'<svg id="{chart_id}" width="{CHART_WIDTH}" '
        f'height="{CHART_HEIGHT}" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<rect width="100%" height="100%" fill="#ffffff"/>' + "".join(body) + "</svg>"
    )


def _empty(title: str, chart_id: str, reason: str) -> str:
    return _svg(
        title,
        [
            f'<text x="{CHART_WIDTH / 2}" y="{CHART_HEIGHT / 2}" text-anchor="middle" class="empty">'
            f"{escape(reason)}</text>"
        ],
        chart_id,
    )


# -- charts -----------------------------------------------------------------------------------------


def mae_trend_chart(points: Sequence[TrendPoint]) -> str:
    """Model MAE and the line's MAE per graded night."""
    title = "MAE per night: model against the line"
    usable = [p for p in points if p.model_mae is not None]
    if not usable:
        return _empty(title, "chart-mae-trend", "No graded nights yet")
    values = [v for p in usable for v in (p.model_mae, p.line_mae) if v is not None]
    frame = _Frame(0, max(len(usable) - 1, 1), 0, _nice_max(max(values) * 1.1))
    step = frame.y_max / 4
    body = [*_y_grid(frame, [step * i for i in range(5)]), _axes(frame)]

    def series(values: list[tuple[int, float]], colour: str, name: str) -> list[str]:
        if not values:
            return []
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{_attr(frame.x(x))},{_attr(frame.y(y))}"
            for i, (x, y) in enumerate(values)
        )
        dots = "".join(
            f'<circle cx="{_attr(frame.x(x))}" cy="{_attr(frame.y(y))}" r="4" fill="{colour}"/>'
            for x, y in values
        )
        return [
            f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="3" class="series-{name}"/>',
            dots,
        ]

    model = [(i, float(p.model_mae)) for i, p in enumerate(usable) if p.model_mae is not None]
    market = [(i, float(p.line_mae)) for i, p in enumerate(usable) if p.line_mae is not None]
    body += series(market, LINE_COLOUR, "line") + series(model, MODEL_COLOUR, "model")
    every = max(1, math.ceil(len(usable) / 8))
    last = len(usable) - 1
    for i, p in enumerate(usable):
        # Every few nights, and the last one, without two labels on top of each other.
        if i == last or (i % every == 0 and last - i >= max(every / 2, 1)):
            body.append(
                f'<text x="{_attr(frame.x(i))}" y="{frame.height - _PAD_BOTTOM + 16}" text-anchor="middle" '
                f'class="tick">{p.game_date:%m-%d}</text>'
            )
    body.append(_legend([(MODEL_COLOUR, "model MAE"), (LINE_COLOUR, "line MAE (market)")]))
    return _svg(title, body, "chart-mae-trend")


def edge_bucket_chart(buckets: Sequence[BucketRate], break_even: float) -> str:
    """Hit rate of OVER/UNDER picks per |edge| bucket, with the break-even line."""
    title = "Hit rate by edge bucket"
    usable = [b for b in buckets if b.picks > 0 and b.hit_rate is not None]
    if not usable:
        return _empty(title, "chart-edge-buckets", "No decided picks yet")
    frame = _Frame(0, len(buckets), 0, 1)
    body = [*_y_grid(frame, [0, 0.25, 0.5, 0.75, 1.0], pct=True), _axes(frame)]
    slot = (frame.x(1) - frame.x(0)) * 0.7
    for i, bucket in enumerate(buckets):
        centre = frame.x(i + 0.5)
        if bucket.hit_rate is not None and bucket.picks > 0:
            top = frame.y(bucket.hit_rate)
            body.append(
                f'<rect x="{_attr(centre - slot / 2)}" y="{_attr(top)}" width="{_attr(slot)}" '
                f'height="{_attr(frame.y(0) - top)}" fill="{BAR_COLOUR}"/>'
                f'<text x="{_attr(centre)}" y="{_attr(top - 5)}" text-anchor="middle" class="tick">'
                f"{bucket.hit_rate * 100:.0f}% ({bucket.picks})</text>"
            )
        body.append(
            f'<text x="{_attr(centre)}" y="{frame.height - _PAD_BOTTOM + 16}" text-anchor="middle" '
            f'class="tick">{escape(bucket.label)}</text>'
        )
    y = frame.y(break_even)
    body.append(
        f'<line x1="{_PAD_LEFT}" y1="{_attr(y)}" x2="{frame.width - _PAD_RIGHT}" y2="{_attr(y)}" '
        f'stroke="{REFERENCE_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/>'
        f'<text x="{frame.width - _PAD_RIGHT}" y="{_attr(y - 5)}" text-anchor="end" class="tick">'
        f"break-even {break_even * 100:.1f}%</text>"
    )
    body.append(
        f'<text x="{_attr(frame.x(len(buckets) / 2))}" y="{frame.height - 8}" text-anchor="middle" '
        f'class="tick">|predicted &minus; line| (points)</text>'
    )
    return _svg(title, body, "chart-edge-buckets")


def calibration_chart(bins: Sequence[CalibrationBin]) -> str:
    """Observed over rate against predicted prob_over, per probability bin; the diagonal is perfect."""
    title = "Calibration of prob_over"
    usable = [b for b in bins if b.count > 0]
    if not usable:
        return _empty(title, "chart-calibration", "No graded lines yet")
    frame = _Frame(0, 1, 0, 1)
    body = [*_y_grid(frame, [0, 0.25, 0.5, 0.75, 1.0], pct=True), _axes(frame)]
    body.append(
        f'<line x1="{_attr(frame.x(0))}" y1="{_attr(frame.y(0))}" x2="{_attr(frame.x(1))}" '
        f'y2="{_attr(frame.y(1))}" stroke="{AXIS_COLOUR}" stroke-dasharray="4 4"/>'
    )
    largest = max(b.count for b in usable)
    path = " ".join(
        f"{'M' if i == 0 else 'L'}{_attr(frame.x(b.predicted))},{_attr(frame.y(b.observed))}"
        for i, b in enumerate(usable)
    )
    body.append(f'<path d="{path}" fill="none" stroke="{CALIBRATION_COLOUR}" stroke-width="2.5"/>')
    for b in usable:
        radius = 4 + 6 * math.sqrt(b.count / largest)
        body.append(
            f'<circle cx="{_attr(frame.x(b.predicted))}" cy="{_attr(frame.y(b.observed))}" '
            f'r="{_attr(radius)}" fill="{CALIBRATION_COLOUR}"><title>{b.count} lines</title></circle>'
        )
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        body.append(
            f'<text x="{_attr(frame.x(tick))}" y="{frame.height - _PAD_BOTTOM + 16}" text-anchor="middle" '
            f'class="tick">{tick * 100:.0f}%</text>'
        )
    body.append(
        f'<text x="{_attr(frame.x(0.5))}" y="{frame.height - 8}" text-anchor="middle" class="tick">'
        "predicted probability of the over</text>"
    )
    return _svg(title, body, "chart-calibration")


def _legend(entries: Sequence[tuple[str, str]]) -> str:
    out = []
    x = _PAD_LEFT + 8
    for colour, label in entries:
        out.append(
            f'<rect x="{x}" y="8" width="14" height="4" fill="{colour}"/>'
            f'<text x="{x + 20}" y="14" class="tick">{escape(label)}</text>'
        )
        x += 30 + 7 * len(label)
    return "".join(out)


# -- the page ---------------------------------------------------------------------------------------

_CSS = """
body { font: 14px/1.4 -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif; color: #222;
       margin: 24px; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
.muted { color: #666; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; margin: 16px 0; }
.tile { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.tile b { display: block; font-size: 20px; }
.charts { display: grid; grid-template-columns: repeat(2, 580px); gap: 12px; }
figure { margin: 0; background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg .tick { font-size: 11px; fill: #444; } svg .empty { font-size: 14px; fill: #888; }
table { border-collapse: collapse; background: #fff; font-size: 13px; }
th, td { border-bottom: 1px solid #e5e5e5; padding: 4px 8px; text-align: right; }
th { background: #f0f0f0; position: sticky; top: 0; }
td.name, th.name { text-align: left; }
tr.correct td.result { color: #1e7b34; font-weight: 600; } tr.incorrect td.result { color: #b03a2e; }
tr.void td { color: #999; }
"""

_TABLE_COLUMNS = (
    ("player_name", "player", "name"),
    ("team_abbr", "team", "name"),
    ("opponent_abbr", "opp", "name"),
    ("line", "line", ""),
    ("predicted_points", "predicted", ""),
    ("actual_points", "actual", ""),
    ("edge", "edge", ""),
    ("recommendation", "pick", "name"),
    ("confidence", "conf.", ""),
    ("result", "result", "name result"),
    ("profit_units", "profit (u)", ""),
)


def _cell(key: str, value: Any) -> str:
    if key in {"line", "predicted_points", "confidence"}:
        return _fmt(value, 1 if key != "confidence" else 2)
    if key == "edge":
        return _fmt(value, 1, signed=True)
    if key == "profit_units":
        return _fmt(value, 2, signed=True)
    if key == "actual_points":
        return _fmt(value, 0)
    return _fmt(value)


def _night_table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="muted">No graded predictions for this night.</p>'
    head = "".join(f'<th class="{css}">{escape(label)}</th>' for _, label, css in _TABLE_COLUMNS)
    body = []
    for row in rows:
        result = str(row.get("result") or "")
        cells = "".join(
            f'<td class="{css}">{_cell(key, row.get(key))}</td>' for key, _, css in _TABLE_COLUMNS
        )
        reason = row.get("void_reason")
        title = f' title="{escape(str(reason))}"' if reason else ""
        body.append(f'<tr class="{escape(result)}"{title}>{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _tiles(summary: dict[str, Any]) -> str:
    picks = summary.get("picks") or {}
    roi = summary.get("roi") or {}
    benchmark = summary.get("benchmark") or {}
    tiles = [
        ("predictions", _fmt(summary.get("predictions"), 0)),
        ("graded", _fmt(summary.get("graded"), 0)),
        ("coverage", _fmt(summary.get("coverage"), 1, pct=True)),
        ("MAE", _fmt(summary.get("mae"))),
        ("bias (pred &minus; actual)", _fmt(summary.get("bias"), signed=True)),
        ("line MAE (same rows)", _fmt(benchmark.get("line_mae"))),
        ("model MAE (same rows)", _fmt(benchmark.get("model_mae"))),
        ("hit rate", _fmt(picks.get("hit_rate"), 1, pct=True)),
        ("picks decided", _fmt(picks.get("decided"), 0)),
        ("ROI", _fmt(roi.get("roi"), 1, pct=True)),
    ]
    return (
        '<div class="tiles">' + "".join(f'<div class="tile">{k}<b>{v}</b></div>' for k, v in tiles) + "</div>"
    )


def render_report(data: ReportData) -> str:
    """The whole page as one string: open it from disk or serve it; it fetches nothing."""
    charts = [
        ("MAE trend (model against the line)", mae_trend_chart(data.trend)),
        (
            f"Hit rate by edge bucket, {data.window_start} to {data.game_date}",
            edge_bucket_chart(data.edge_buckets, data.break_even),
        ),
        (f"Calibration, {data.window_start} to {data.game_date}", calibration_chart(data.calibration)),
    ]
    figures = "".join(f"<figure><figcaption>{escape(c)}</figcaption>{svg}</figure>" for c, svg in charts)
    run = data.summary.get("grading_run_id") or "not graded"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>nba-props report {data.game_date}</title><style>{_CSS}</style></head><body>"
        f"<h1>nba-props: the night of {data.game_date}</h1>"
        f'<p class="muted">grading run {escape(str(run))} · generated {data.generated_at:%Y-%m-%d %H:%M} UTC'
        f" · charts cover {data.window_start} to {data.game_date}</p>"
        f"{_tiles(data.summary)}"
        f'<div class="charts">{figures}</div>'
        f"<h2>The night's predictions</h2>{_night_table(data.rows)}"
        "</body></html>\n"
    )
