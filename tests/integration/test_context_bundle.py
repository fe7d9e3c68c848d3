"""The "v8ctx" variant end to end: the coordinator's requests carry the context features, a v8ctx
bundle is trained through the shared training path, loads by its manifest's feature set, and the
worker predicts with it; V8 stays what a V8 deployment expects. Also: confidence calibrated per
prediction level."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from coordinator.slate import plan_slate
from shared.contracts import PredictionRequest
from shared.errors import ModelMismatch, PoisonMessage
from shared.features.context import CONTEXT_FEATURES
from shared.features.sets import V8CTX_FEATURES, request_features
from shared.features.v8 import V8_FEATURES
from shared.features.window import history_params
from shared.model.bundle import ModelBundle
from shared.model.calibration import ResidualCalibration
from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.support.bundles import train_league_bundle
from worker.predict import PredictionHandler

PRIORITY = Settings().bookmaker_priority


def tonight(wh: DuckDbWarehouse, day: date) -> list[PredictionRequest]:
    slate = wh.query("slate", {"start_date": day, "end_date": day, "rostered": True})
    ids = [int(p) for p in slate["player_id"]]
    history = wh.query("history", history_params(day, ids))
    lines = wh.query("lines", {"start_date": day, "end_date": day, "player_ids": ids})
    return plan_slate(
        slate, history, lines, batch_id="ctx-test", bookmaker_priority=PRIORITY, min_history_games=0
    ).requests


@pytest.fixture(scope="module")
def v8ctx_dir(league_file: tuple[Path, date], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "catboost_v8ctx"
    return train_league_bundle(league_file, out, feature_set="v8ctx", iterations=20)


def test_every_request_carries_every_context_feature(
    league_warehouse: DuckDbWarehouse, game_date: date
) -> None:
    requests = tonight(league_warehouse, game_date)
    assert requests
    for request in requests:
        assert set(request.context) == set(CONTEXT_FEATURES)
    # The generated league knows arenas, tip-offs and birth dates: the values are real numbers.
    ages = [r.context["player_age"] for r in requests]
    assert all(isinstance(a, float) and 18 < a < 45 for a in ages)
    assert {r.context["games_in_next_7_days"] for r in requests} <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}
    assert any(r.context["travel_miles"] for r in requests)


def test_a_v8ctx_bundle_loads_by_its_manifest_and_the_worker_predicts_with_it(
    v8ctx_dir: Path, model_dir: Path, league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    bundle = ModelBundle.load(v8ctx_dir)
    assert bundle.feature_set == "v8ctx" and bundle.feature_names == V8CTX_FEATURES
    assert ModelBundle.load(model_dir).feature_names == V8_FEATURES
    with pytest.raises(ModelMismatch, match="v8ctx"):
        ModelBundle.load(v8ctx_dir, expected_feature_set="v8")

    request = tonight(league_warehouse, game_date)[0]
    handler = PredictionHandler(bundle, league_warehouse, settings)
    row = handler.predict(request)
    assert row["model_version"].startswith("v8ctx-") and np.isfinite(row["predicted_points"])
    assert '"travel_miles"' in row["features_json"] and '"player_age"' in row["context_json"]

    features = request_features(request, "v8ctx")
    assert tuple(features.columns) == V8CTX_FEATURES
    assert features[list(V8_FEATURES)].equals(request_features(request, "v8"))


def test_a_v8ctx_worker_refuses_a_message_without_context(
    v8ctx_dir: Path, league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    request = tonight(league_warehouse, game_date)[0].model_copy(update={"context": {}})
    handler = PredictionHandler(ModelBundle.load(v8ctx_dir), league_warehouse, settings)
    with pytest.raises(PoisonMessage, match="context lacks"):
        handler.predict(request)


def test_confidence_follows_the_spread_of_its_own_prediction_level() -> None:
    # Bench players miss by little, stars by a lot: the same 2-point edge means more for the former.
    rng = np.random.default_rng(4)
    predicted = rng.uniform(2, 32, 40_000)
    actual = np.round(predicted + rng.normal(0, 0.25 * predicted + 1.0))
    binned = ResidualCalibration.from_residuals(actual - predicted, predicted=predicted)
    pooled = ResidualCalibration.from_residuals(actual - predicted)
    assert binned.to_bins() is not None and len(binned.bins) == 8

    test_pred = rng.uniform(2, 32, 40_000)
    test_actual = np.round(test_pred + rng.normal(0, 0.25 * test_pred + 1.0))
    line = np.round(test_pred) - 2.5  # two and a half below the prediction
    over = test_actual > line
    low = (test_pred < 8) & (line > 0)
    for calibration, tolerance in ((binned, 0.03), (pooled, None)):
        stated = calibration.prob_over(test_pred, line)
        gap = abs(stated[low].mean() - over[low].mean())
        if tolerance is not None:
            assert gap < tolerance
        else:
            assert gap > 0.1  # the pooled spread understates a low scorer's chance
    # Serialised in the manifest and read back identically.
    again = ResidualCalibration.from_quantiles(binned.to_quantiles(), binned.to_bins())
    np.testing.assert_array_equal(again.prob_over(test_pred, line), binned.prob_over(test_pred, line))
