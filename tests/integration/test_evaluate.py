"""Walk-forward evaluation, small: the synthetic league (train 2025-26, test the played part of
2026-27). The real-logs run is a benchmark (`make eval-real`), not a test."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from nba_props.evaluate import (
    EvaluationConfig,
    EvaluationResult,
    calibration_table,
    error_metrics,
    evaluate,
    window_baselines,
    write_report,
)
from shared.warehouse.duckdb import DuckDbWarehouse


@pytest.fixture(scope="module")
def result(league_file: tuple[Path, date]) -> EvaluationResult:
    wh = DuckDbWarehouse(league_file[0], read_only=True)
    try:
        config = EvaluationConfig(
            train_through="2025-26",
            test_season="2026-27",
            feature_sets=("v8", "v8hist", "v8ctx"),
            iterations=20,
        )
        return evaluate(wh, config)
    finally:
        wh.close()


def test_every_game_of_the_test_season_is_predicted_by_a_model_that_never_saw_it(
    result: EvaluationResult,
) -> None:
    predictions = result.predictions
    assert set(predictions["season"]) == {"2026-27"} and len(predictions) > 1000
    first_test_day = pd.to_datetime(predictions["game_date"]).min().date()
    for bundle in result.bundles.values():
        assert bundle.manifest.training_window.end < first_test_day
    assert np.isfinite(predictions[["catboost_v8", "catboost_v8hist", "catboost_v8ctx"]]).all().all()
    # Neither of v8hist and v8ctx contains the other: one frame serves both (their union).
    assert result.report["models"]["catboost_v8hist"]["features"] == 44
    assert result.report["models"]["catboost_v8ctx"]["features"] == 46


def test_the_reported_figures_are_the_ones_the_predictions_give(result: EvaluationResult) -> None:
    predictions, report = result.predictions, result.report
    prop = predictions.loc[predictions["prop_like"]]
    assert (prop["minutes_avg_last_10"] >= 24).all() and (prop["n_prior_games"] >= 5).all()
    last_10 = report["metrics"]["prop_like"]["last_10"]
    assert last_10["n"] == len(prop)
    assert last_10["mae"] == pytest.approx((prop["points"] - prop["last_10"]).abs().mean())
    model = report["metrics"]["overall"]["catboost_v8"]
    seen = predictions.loc[predictions["n_prior_games"] > 0]
    assert model["bias"] == pytest.approx((seen["catboost_v8"] - seen["points"]).mean())
    blend = 0.4 * seen["last_5"] + 0.35 * seen["last_10"] + 0.25 * seen["season_avg"]
    np.testing.assert_allclose(seen["blend"], blend)
    calibration = report["calibration"]["catboost_v8"]["prop_like"]["prob_over"]
    assert sum(b["n"] for b in calibration["bins"]) == calibration["n"] == len(prop)
    assert sum(b["last_10"]["n"] for b in report["minutes_buckets"]) == len(seen)
    target = report["target"]["catboost_v8"]
    assert target["prop_like_last_10_mae"] == pytest.approx(last_10["mae"])


def test_the_report_is_written_as_json_and_markdown(result: EvaluationResult, tmp_path: Path) -> None:
    json_path, md_path = write_report(result, tmp_path / "eval")
    report = json.loads(json_path.read_text())
    assert report["test_season"] == "2026-27" and "prop_like" in report["metrics"]
    text = md_path.read_text()
    assert "| catboost_v8 |" in text and "| ewma |" in text and "Calibration of `catboost_v8ctx`" in text


def test_the_cli_evaluates_the_configured_warehouse(
    league_warehouse: DuckDbWarehouse, tmp_path: Path
) -> None:
    from nba_props.cli import app

    path = league_warehouse.path
    league_warehouse.close()
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--train-through",
            "2025-26",
            "--test",
            "2026-27",
            "--out",
            str(out),
            "--iterations",
            "10",
        ],
        env={"NBA_PROPS_DUCKDB_PATH": path},
    )
    assert result.exit_code == 0, result.output
    assert (out / "report.json").is_file() and "prop_like" in result.output
    refused = CliRunner().invoke(
        app,
        ["evaluate", "--train-through", "2026-27", "--test", "2025-26"],
        env={"NBA_PROPS_DUCKDB_PATH": path},
    )
    assert refused.exit_code == 1 and "not after" in refused.output


# -- the pieces, on hand-checked numbers ---------------------------------------------------------------


def test_error_metrics_on_hand_checked_numbers() -> None:
    m = error_metrics([10.0, 20.0, 30.0, 14.0], [12.0, 20.0, 24.0, 14.0])
    assert m == {"n": 4, "mae": 2.0, "rmse": math.sqrt(10.0), "bias": 1.0, "within_3": 0.75, "within_5": 0.75}
    assert error_metrics([], [])["n"] == 0


def test_calibration_table_bins_stated_probabilities_against_outcomes() -> None:
    table = calibration_table([0.05, 0.05, 0.95, 0.95, 0.55, np.nan], [0, 1, 1, 1, 1, 0])
    assert table["n"] == 5
    assert [(b["bin"], b["n"], b["observed"]) for b in table["bins"]] == [
        ("0.0-0.1", 2, 0.5),
        ("0.5-0.6", 1, 1.0),
        ("0.9-1.0", 2, 1.0),
    ]
    assert table["ece"] == pytest.approx((2 * 0.45 + 1 * 0.45 + 2 * 0.05) / 5)


def test_window_baselines_see_only_the_games_before_the_date() -> None:
    history = pd.DataFrame(
        {
            "player_id": [1, 1, 1, 1, 2],
            "game_date": pd.to_datetime(
                ["2020-01-01", "2023-01-01", "2023-01-03", "2023-01-05", "2023-01-02"]
            ),
            "points": [99.0, 10.0, 20.0, 40.0, 7.0],
        }
    )
    targets = pd.DataFrame({"player_id": [1, 2, 3], "game_date": pd.to_datetime(["2023-01-05"] * 3)})
    out = window_baselines(history, targets, half_lives=(1.0,))
    # Player 1: the 2020 game is beyond the 550-day window, the 2023-01-05 game is the target's own.
    assert out["n_prior_games"].tolist() == [2, 1, 0]
    assert out["ewma_1"].iloc[0] == pytest.approx((20.0 * 1 + 10.0 * 0.5) / 1.5)
    assert out["ewma_1"].iloc[1] == 7.0 and math.isnan(out["ewma_1"].iloc[2])
