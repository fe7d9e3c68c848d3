"""The pure parts: the alert rules of a night and of grading, and the summary's corner cases."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from coordinator.alerts import AlertManager
from coordinator.grading import Grader, grading_alerts
from coordinator.grading_summary import confidence_deciles, edge_buckets, summarize, window_hit_rate
from coordinator.night_checks import dead_letter_alert, history_gap_alert, prediction_alerts
from shared.settings import Settings
from tests.support.grading import RecordingSink

NIGHT = date(2026, 12, 1)
SETTINGS = Settings()


def _predictions(points: list[float], lines: list[float | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "player_name": [f"P{i}" for i in range(len(points))],
            "predicted_points": points,
            "line": lines,
        }
    )


def _picks(results: list[str], edges: list[float], confidence: list[float] | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "result": results,
            "edge": edges,
            "confidence": confidence or [0.5] * len(results),
            "recommendation": ["OVER"] * len(results),
        }
    )


# -- night checks ---------------------------------------------------------------------------------


def test_predictions_outside_the_plausible_range_raise_one_alert_naming_them() -> None:
    with_floor = Settings(alert_prediction_min_points=2.0)
    alerts = prediction_alerts(
        _predictions([1.5, 10.0, 56.2, 20.0], [None, 10.5, 50.5, 19.5]), game_date=NIGHT, settings=with_floor
    )

    [alert] = [a for a in alerts if a.kind == "predictions_out_of_range"]
    assert alert.details["below"] == 1 and alert.details["above"] == 1 and alert.key == "2026-12-01"
    assert {e["player"] for e in alert.details["examples"]} == {"P0", "P2"}


def test_predictions_inside_the_range_and_close_to_the_lines_raise_nothing() -> None:
    assert (
        prediction_alerts(
            _predictions([2.0, 55.0, 12.0], [2.5, 54.5, 12.5]), game_date=NIGHT, settings=SETTINGS
        )
        == []
    )


def test_by_default_a_deep_bench_player_predicted_below_two_points_is_not_an_alert() -> None:
    # Every real slate has them; an alert that fires every night teaches people to ignore alerts.
    assert (
        prediction_alerts(
            _predictions([0.4, 1.5, 12.0], [None, None, 12.5]), game_date=NIGHT, settings=SETTINGS
        )
        == []
    )


def _with_history(predicted: list[float], last_10: list[float | None]) -> pd.DataFrame:
    vectors = [
        "{}" if a is None else json.dumps({"points_avg_last_10": a, "minutes_avg_last_10": 30.0})
        for a in last_10
    ]
    return pd.DataFrame(
        {
            "player_name": [f"P{i}" for i in range(len(predicted))],
            "predicted_points": predicted,
            "features_json": vectors,
        }
    )


def test_many_predictions_far_from_the_players_last_10_averages_raise_one_alert() -> None:
    # A feature bug inflating five bench players by ~15 points: inside [0, 55], so only this check sees it.
    last_10 = [4.0, 6.0, 3.0, 5.0, 7.0] + [float(10 + i % 15) for i in range(45)]
    predicted = [19.0, 21.5, 17.0, 14.5, 23.5] + [a + 0.5 for a in last_10[5:]]

    alert = history_gap_alert(_with_history(predicted, last_10), game_date=NIGHT, settings=SETTINGS)

    assert alert is not None and alert.kind == "predictions_far_from_history" and alert.key == "2026-12-01"
    assert alert.details["count"] == 5 and alert.details["predictions_with_history"] == 50
    # The worst first: P4 (+16.5), P1 (+15.5), P0 (+15), P2 (+14), P3 (+9.5).
    assert [e["player"] for e in alert.details["examples"]] == ["P4", "P1", "P0", "P2", "P3"]
    assert alert.details["mean_gap_of_far"] == pytest.approx((15 + 15.5 + 14 + 9.5 + 16.5) / 5)


def test_a_few_far_predictions_on_a_normal_night_raise_nothing() -> None:
    last_10 = [float(8 + i % 20) for i in range(100)]
    predicted = [a + 1.0 for a in last_10]
    for far in (2, 3):  # under three players, then exactly the 3% share: not more than it
        bumped = [p + (12.0 if i < far else 0.0) for i, p in enumerate(predicted)]
        assert history_gap_alert(_with_history(bumped, last_10), game_date=NIGHT, settings=SETTINGS) is None
    bumped = [p - (12.0 if i < 4 else 0.0) for i, p in enumerate(predicted)]  # far below counts too
    alert = history_gap_alert(_with_history(bumped, last_10), game_date=NIGHT, settings=SETTINGS)
    assert alert is not None and alert.details["count"] == 4


def test_players_without_a_last_10_average_are_not_judged() -> None:
    frame = _with_history([25.0, 25.0, 25.0, 12.0], [None, None, None, 11.0])
    frame.loc[1, "features_json"] = "not json"
    frame.loc[2, "features_json"] = json.dumps({"points_avg_last_10": None})
    assert history_gap_alert(frame, game_date=NIGHT, settings=SETTINGS) is None
    assert history_gap_alert(frame.iloc[:0], game_date=NIGHT, settings=SETTINGS) is None


def test_a_night_sitting_more_than_two_points_above_the_lines_is_a_bias_alert() -> None:
    frame = _predictions([12.5, 22.5, 8.0, 30.0], [10.0, 20.0, 5.5, None])  # +2.5 on every line

    [alert] = prediction_alerts(frame, game_date=NIGHT, settings=SETTINGS)

    assert alert.kind == "prediction_bias"
    assert alert.details["mean_predicted_minus_line"] == pytest.approx(2.5)
    assert alert.details["predictions_with_line"] == 3


def test_dead_letters_beyond_the_allowed_number_raise_an_error_keyed_by_the_batch() -> None:
    outcomes = pd.DataFrame(
        {
            "player_id": [1, 2, 3],
            "outcome": ["dead_lettered", "skipped", "dead_lettered"],
            "detail": ["5 attempts; last status 503", "", "5 attempts; last status 503"],
        }
    )

    alert = dead_letter_alert(outcomes, batch_id="b1", game_date=NIGHT, settings=SETTINGS)
    tolerant = dead_letter_alert(
        outcomes, batch_id="b1", game_date=NIGHT, settings=Settings(alert_dead_letters_max=2)
    )

    assert alert is not None and alert.severity == "error" and alert.key == "b1"
    assert alert.details["player_ids"] == [1, 3]
    assert tolerant is None


# -- grading rules --------------------------------------------------------------------------------


def _summary(predictions: int, graded: int, gradable: int) -> dict[str, object]:
    return {
        "game_date": NIGHT.isoformat(),
        "predictions": predictions,
        "graded": graded,
        "gradable": gradable,
        "results_missing": gradable - graded,
        "coverage": graded / gradable if gradable else None,
        "batch_ids": ["b1"] if predictions else [],
    }


def _window(decided: int, correct: int) -> dict[str, object]:
    return {
        "start": "2026-11-25",
        "end": "2026-12-01",
        "decided": decided,
        "correct": correct,
        "hit_rate": correct / decided if decided else None,
    }


def test_coverage_below_ninety_percent_of_gradable_predictions_is_an_alert() -> None:
    found = grading_alerts(_summary(100, 89, 99), _window(0, 0), settings=SETTINGS, games_scheduled=True)
    fine = grading_alerts(_summary(100, 90, 99), _window(0, 0), settings=SETTINGS, games_scheduled=True)

    assert [a.kind for a in found] == ["grading_coverage"]
    assert fine == []


def test_a_day_with_games_and_no_predictions_is_an_alert_and_a_day_without_games_is_not() -> None:
    with_games = grading_alerts(_summary(0, 0, 0), _window(0, 0), settings=SETTINGS, games_scheduled=True)
    without = grading_alerts(_summary(0, 0, 0), _window(0, 0), settings=SETTINGS, games_scheduled=False)

    assert [a.kind for a in with_games] == ["no_predictions"] and without == []


def test_a_seven_day_hit_rate_below_break_even_is_an_alert_once_there_are_enough_picks() -> None:
    low = grading_alerts(_summary(10, 10, 10), _window(100, 52), settings=SETTINGS, games_scheduled=True)
    even = grading_alerts(_summary(10, 10, 10), _window(1000, 524), settings=SETTINGS, games_scheduled=True)
    few = grading_alerts(_summary(10, 10, 10), _window(20, 5), settings=SETTINGS, games_scheduled=True)

    assert [a.kind for a in low] == ["hit_rate_below_break_even"]
    assert even == [] and few == []


# -- summary corner cases ---------------------------------------------------------------------------


def test_a_night_with_nothing_to_grade_summarises_to_zeros_and_nones() -> None:
    summary = summarize(pd.DataFrame(), game_date=NIGHT, grading_run_id="r", graded_at=datetime.now(UTC))

    assert summary["predictions"] == summary["graded"] == 0
    assert summary["coverage"] is None and summary["mae"] is None and summary["roi"]["roi"] is None
    assert summary["picks"]["hit_rate"] is None
    assert [b["picks"] for b in summary["by_edge_bucket"]] == [0, 0, 0, 0, 0]


def test_edge_buckets_are_by_absolute_edge_and_pushes_are_no_decision() -> None:
    picks = _picks(["correct", "incorrect", "push", "correct"], [1.6, -2.0, 2.5, -7.0])

    buckets = {b["bucket"]: b for b in edge_buckets(picks)}

    assert (buckets["<2"]["decided"], buckets["<2"]["correct"]) == (1, 1)
    assert (buckets["2-3"]["picks"], buckets["2-3"]["decided"], buckets["2-3"]["pushes"]) == (2, 1, 1)
    assert buckets["2-3"]["hit_rate"] == 0.0
    assert (buckets["5+"]["decided"], buckets["5+"]["hit_rate"]) == (1, 1.0)


def test_confidence_deciles_put_the_most_confident_tenth_last() -> None:
    confidence = [0.50 + i / 100 for i in range(20)]
    results = ["incorrect"] * 18 + ["correct"] * 2  # only the two most confident picks won
    deciles = confidence_deciles(_picks(results, [2.0] * 20, confidence))

    assert [d["decile"] for d in deciles] == list(range(1, 11))
    assert all(d["picks"] == 2 for d in deciles)
    assert deciles[-1]["hit_rate"] == 1.0 and deciles[0]["hit_rate"] == 0.0
    assert deciles[-1]["min_confidence"] == pytest.approx(0.68)


def test_the_window_hit_rate_counts_only_nights_inside_it() -> None:
    rows = pd.DataFrame(
        {
            "game_date": pd.to_datetime(["2026-11-24", "2026-11-25", "2026-12-01", "2026-12-01"]),
            "result": ["correct", "incorrect", "correct", "no_pick"],
        }
    )

    window = window_hit_rate(rows, start=date(2026, 11, 25), end=NIGHT)

    assert (window["decided"], window["correct"], window["hit_rate"]) == (2, 1, 0.5)


def test_the_default_night_to_grade_is_yesterday_in_the_leagues_time_zone() -> None:
    # 03:30 UTC on Dec 2 is still Dec 1 in New York: yesterday there is Nov 30.
    grader = Grader(
        warehouse=None,  # type: ignore[arg-type]
        alerts=AlertManager([RecordingSink()]),
        settings=SETTINGS,
        clock=lambda: datetime(2026, 12, 2, 3, 30, tzinfo=UTC),
    )
    assert grader.default_game_date() == date(2026, 11, 30)
