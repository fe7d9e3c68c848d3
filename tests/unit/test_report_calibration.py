"""The report's calibration chart: prob_over is P(actual > line), so a push is "not over"."""

from __future__ import annotations

import pandas as pd
import pytest

from coordinator.grading_summary import calibration


def _calibrated_night_on_whole_number_lines() -> pd.DataFrame:
    """Twenty graded rows per predicted probability, over exactly that often; of the rest, half land
    exactly on the (whole-number) line and half under it. Perfect calibration of P(actual > line)."""
    rows = []
    for prob in (0.15, 0.35, 0.55, 0.75, 0.95):
        overs = round(20 * prob)
        pushes = (20 - overs) // 2
        for i in range(20):
            actual = 23 if i < overs else 20 if i < overs + pushes else 17
            rows.append({"prob_over": prob, "line": 20.0, "actual_points": actual, "result": "correct"})
    return pd.DataFrame(rows)


def test_a_perfectly_calibrated_night_on_whole_number_lines_plots_on_the_diagonal() -> None:
    night = _calibrated_night_on_whole_number_lines()
    assert (night["actual_points"] == night["line"]).sum() == 20, "the night has pushes"

    bins = calibration(night)

    assert [b.count for b in bins] == [20] * 5, "pushes are counted, not dropped"
    for b in bins:
        assert b.observed == pytest.approx(b.predicted)


def test_void_rows_and_rows_without_a_line_stay_out_of_the_calibration() -> None:
    night = pd.concat(
        [
            _calibrated_night_on_whole_number_lines(),
            pd.DataFrame(
                [
                    {"prob_over": 0.15, "line": 20.0, "actual_points": 30, "result": "void"},
                    {"prob_over": 0.15, "line": None, "actual_points": 30, "result": "no_line"},
                ]
            ),
        ],
        ignore_index=True,
    )

    assert sum(b.count for b in calibration(night)) == 100
