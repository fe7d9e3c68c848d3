"""grade.sql on a hand-made night whose every grade is known, on DuckDB and on BigQuery (emulator)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from coordinator.grading import Grader
from shared.settings import Settings
from shared.warehouse import Warehouse
from tests.support.grading import recording_manager
from tests.support.known_night import (
    BATCH,
    CASES,
    EXPECTED,
    G2_ACTUAL,
    GAME_DATE,
    GRADED_AT,
    add_g2_box_scores,
    graded,
    load_known_night,
)

pytestmark = pytest.mark.timeout(180)


def _grader(warehouse: Warehouse, settings: Settings, at=GRADED_AT) -> Grader:  # type: ignore[no-untyped-def]
    alerts, _ = recording_manager(warehouse, at)
    return Grader(warehouse, alerts, settings, clock=lambda: at)


def test_every_kind_of_prediction_gets_its_known_grade(
    backend_warehouse: Warehouse, grading_settings: Settings
) -> None:
    load_known_night(backend_warehouse)

    result = _grader(backend_warehouse, grading_settings).grade(GAME_DATE)

    rows = graded(backend_warehouse)
    assert result.written == len(CASES) == len(rows)
    assert set(rows["batch_id"]) == {BATCH}, "older and superseded batches are not graded"
    for case in CASES:
        row = rows.loc[case.player_id]
        assert row["result"] == case.result, case
        if case.void_reason is None:
            assert pd.isna(row["void_reason"]), case
            assert int(row["actual_points"]) == case.actual
            assert row["error"] == pytest.approx(case.predicted - case.actual)
            assert row["abs_error"] == pytest.approx(abs(case.predicted - case.actual))
        else:
            assert row["void_reason"] == case.void_reason, case
            assert pd.isna(row["actual_points"]) and pd.isna(row["error"])
        if case.line is not None and case.void_reason is None:
            assert row["line_error"] == pytest.approx(case.line - case.actual)
        if case.profit is None:
            assert pd.isna(row["profit_units"]), case
        else:
            assert row["profit_units"] == pytest.approx(case.profit), case


def test_the_nights_summary_matches_the_figures_worked_out_by_hand(
    backend_warehouse: Warehouse, grading_settings: Settings
) -> None:
    load_known_night(backend_warehouse)

    summary = _grader(backend_warehouse, grading_settings).grade(GAME_DATE).summary

    assert {
        k: summary[k] for k in ("predictions", "voided", "dnp", "results_missing", "graded", "gradable")
    } == {k: EXPECTED[k] for k in ("predictions", "voided", "dnp", "results_missing", "graded", "gradable")}
    assert summary["coverage"] == pytest.approx(EXPECTED["coverage"])
    assert summary["mae"] == pytest.approx(EXPECTED["mae"])
    assert summary["bias"] == pytest.approx(EXPECTED["bias"])
    assert summary["line_mae"] == pytest.approx(EXPECTED["line_mae"])
    assert summary["benchmark"]["model_mae"] == pytest.approx(EXPECTED["model_mae_same_rows"])
    assert summary["mean_predicted_minus_line"] == pytest.approx(EXPECTED["mean_predicted_minus_line"])
    picks = summary["picks"]
    assert (picks["correct"], picks["incorrect"], picks["pushes"]) == (
        EXPECTED["correct"],
        EXPECTED["incorrect"],
        EXPECTED["pushes"],
    )
    assert picks["hit_rate"] == pytest.approx(EXPECTED["hit_rate"])
    assert summary["roi"]["bets"] == EXPECTED["roi_bets"]
    assert summary["roi"]["roi"] == pytest.approx(EXPECTED["roi"], abs=1e-4)
    buckets = {b["bucket"]: b for b in summary["by_edge_bucket"]}
    assert (buckets["2-3"]["decided"], buckets["2-3"]["correct"]) == (3, 1)
    assert (buckets["3-4"]["decided"], buckets["3-4"]["correct"], buckets["3-4"]["pushes"]) == (2, 2, 1)
    assert sum(d["picks"] for d in summary["by_confidence_decile"]) == 6


def test_regrading_a_date_replaces_its_grades_and_never_duplicates_them(
    backend_warehouse: Warehouse, grading_settings: Settings
) -> None:
    load_known_night(backend_warehouse)
    first = _grader(backend_warehouse, grading_settings).grade(GAME_DATE)
    assert graded(backend_warehouse).loc[10, "void_reason"] == "results_missing"

    add_g2_box_scores(backend_warehouse)  # the late game's box scores arrive
    later = GRADED_AT + timedelta(hours=2)
    second = _grader(backend_warehouse, grading_settings, later).grade(GAME_DATE)
    again = _grader(backend_warehouse, grading_settings, later + timedelta(minutes=5)).grade(GAME_DATE)

    rows = graded(backend_warehouse)
    assert len(rows) == len(CASES) and rows.index.is_unique
    assert set(rows["grading_run_id"]) == {again.grading_run_id}
    assert first.grading_run_id != second.grading_run_id != again.grading_run_id
    assert rows.loc[10, "result"] == "correct" and int(rows.loc[10, "actual_points"]) == G2_ACTUAL
    assert again.summary["coverage"] == pytest.approx(1.0)
    stored = _grader(backend_warehouse, grading_settings).stored_summary(GAME_DATE)
    assert stored is not None and stored["grading_run_id"] == again.grading_run_id
