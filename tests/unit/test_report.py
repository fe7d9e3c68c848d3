"""The morning report: a self-contained page whose charts a real browser draws."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from coordinator.report import (
    BAR_COLOUR,
    CALIBRATION_COLOUR,
    LINE_COLOUR,
    MODEL_COLOUR,
    BucketRate,
    CalibrationBin,
    ReportData,
    TrendPoint,
    render_report,
)

NIGHT = date(2026, 12, 30)


def _month() -> ReportData:
    """Thirty nights of made-up but plausible figures."""
    trend = [
        TrendPoint(NIGHT - timedelta(days=29 - i), 5.0 + math.sin(i / 3), 5.3 + math.cos(i / 4) / 2, 70 + i)
        for i in range(30)
    ]
    buckets = [
        BucketRate("<2", 40, 0.51),
        BucketRate("2-3", 60, 0.55),
        BucketRate("3-4", 30, 0.58),
        BucketRate("4-5", 12, 0.62),
        BucketRate("5+", 5, 0.8),
    ]
    calibration = [CalibrationBin(0.05 + b / 10, min(1.0, 0.07 + b / 10.5), 20 + 5 * b) for b in range(10)]
    rows = [
        {
            "player_name": "Jalen <Test> O'Neil",
            "team_abbr": "BOS",
            "opponent_abbr": "NYK",
            "line": 20.5,
            "predicted_points": 24.1,
            "actual_points": 27,
            "edge": 3.6,
            "recommendation": "OVER",
            "confidence": 0.64,
            "result": "correct",
            "profit_units": 0.91,
        },
        {
            "player_name": "Bench Guy",
            "team_abbr": "BOS",
            "opponent_abbr": "NYK",
            "line": None,
            "predicted_points": 3.2,
            "actual_points": None,
            "edge": None,
            "recommendation": "NO_LINE",
            "confidence": None,
            "result": "void",
            "void_reason": "dnp_no_box_score",
            "profit_units": None,
        },
    ]
    summary = {
        "grading_run_id": "grade-20261230-abc",
        "predictions": 2,
        "graded": 1,
        "coverage": 1.0,
        "mae": 2.9,
        "bias": -2.9,
        "benchmark": {"line_mae": 6.5, "model_mae": 2.9},
        "picks": {"hit_rate": 1.0, "decided": 1},
        "roi": {"roi": 0.91},
    }
    return ReportData(
        game_date=NIGHT,
        generated_at=datetime(2026, 12, 31, 15, 0, tzinfo=UTC),
        window_start=NIGHT - timedelta(days=29),
        summary=summary,
        trend=trend,
        edge_buckets=buckets,
        calibration=calibration,
        rows=rows,
    )


def _nothing_graded() -> ReportData:
    month = _month()
    return ReportData(
        game_date=month.game_date,
        generated_at=month.generated_at,
        window_start=month.window_start,
        summary={},
        rows=month.rows,
    )


# -- the HTML ---------------------------------------------------------------------------------------


def test_the_page_is_self_contained_and_fetches_nothing() -> None:
    page = render_report(_month())

    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=|url\(|@import|https?://""", page, re.IGNORECASE)
    assert [m for m in re.findall(r'<svg id="([\w-]+)"', page)] == [
        "chart-mae-trend",
        "chart-edge-buckets",
        "chart-calibration",
    ]


def test_player_names_are_escaped_and_the_nights_table_has_every_row() -> None:
    page = render_report(_month())

    assert "Jalen &lt;Test&gt; O&#x27;Neil" in page and "<Test>" not in page
    assert page.count('<tr class="correct"') == 1 and page.count('<tr class="void"') == 1
    assert 'title="dnp_no_box_score"' in page


def test_a_night_that_was_never_graded_says_so_instead_of_drawing_empty_charts() -> None:
    page = render_report(_nothing_graded())

    assert "No graded nights yet" in page and "No decided picks yet" in page and "No graded lines yet" in page
    assert "not graded" in page
    for colour in (MODEL_COLOUR, BAR_COLOUR, CALIBRATION_COLOUR):
        assert colour not in page


# -- in a real browser ------------------------------------------------------------------------------

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH, HEIGHT = 1280, 1100


def _chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
def chromium() -> Iterator[str]:
    found = _chromium()
    if found is None:
        pytest.skip(
            "headless Chromium not installed (Debian: apt-get install -y chromium); "
            "the report's screenshot test needs it"
        )
    yield found


def _screenshot(browser: str, page: str, workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    html = workdir / "report.html"
    html.write_text(page, encoding="utf-8")
    png = workdir / "report.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={workdir / 'profile'}",
            f"--window-size={WIDTH},{HEIGHT}",
            f"--screenshot={png}",
            html.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return png


def _boxes(png: Path) -> dict[str, tuple[int, tuple[int, int, int, int] | None]]:
    """Per chart colour: how many pixels have it, and their bounding box (left, top, right, bottom)."""
    from PIL import Image

    image = Image.open(png).convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    wanted = {
        name: tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        for name, colour in {
            "model": MODEL_COLOUR,
            "line": LINE_COLOUR,
            "bars": BAR_COLOUR,
            "calibration": CALIBRATION_COLOUR,
        }.items()
    }
    found: dict[str, list[tuple[int, int]]] = {name: [] for name in wanted}
    pixels = image.load()
    assert pixels is not None
    for y in range(HEIGHT):
        for x in range(WIDTH):
            r, g, b = pixels[x, y]  # type: ignore[misc]
            for name, (wr, wg, wb) in wanted.items():
                if abs(r - wr) + abs(g - wg) + abs(b - wb) <= 24:
                    found[name].append((x, y))
    out: dict[str, tuple[int, tuple[int, int, int, int] | None]] = {}
    for name, points in found.items():
        if not points:
            out[name] = (0, None)
            continue
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        out[name] = (len(points), (min(xs), min(ys), max(xs), max(ys)))
    return out


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return not (a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1])


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_headless_chromium_draws_all_three_charts_in_their_own_places(chromium: str, tmp_path: Path) -> None:
    drawn = _boxes(_screenshot(chromium, render_report(_month()), tmp_path / "month"))
    empty = _boxes(_screenshot(chromium, render_report(_nothing_graded()), tmp_path / "empty"))

    # Each chart's colour covers a real area: bars are solid, lines 3 px wide over 30 nights.
    counts = {name: count for name, (count, _) in drawn.items()}
    assert counts["bars"] > 20_000, counts
    assert counts["model"] > 800 and counts["line"] > 800, counts  # the legend alone is 56 px
    assert counts["calibration"] > 1_000, counts
    boxes = {name: box for name, (_, box) in drawn.items()}
    assert all(box is not None for box in boxes.values())
    trend, bars, calibration = boxes["model"], boxes["bars"], boxes["calibration"]
    assert trend is not None and bars is not None and calibration is not None
    assert not _overlap(trend, bars) and not _overlap(trend, calibration) and not _overlap(bars, calibration)
    assert bars[0] > trend[2], "the edge-bucket chart sits right of the MAE trend"
    assert calibration[1] > trend[3], "calibration sits below the first row of charts"
    # The trend spans most of its chart's width: thirty nights, not one dot.
    assert trend[2] - trend[0] > 400

    # The same page without graded data draws none of it: the counts above come from the charts.
    assert {name: count for name, (count, _) in empty.items()} == {
        "model": 0,
        "line": 0,
        "bars": 0,
        "calibration": 0,
    }
