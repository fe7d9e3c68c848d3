"""The "v8hist" variant end to end: a bundle trained through the shared training path on V8 plus the
long-memory history features loads by its manifest's feature set, and the worker predicts with it
from an ordinary V8 payload (the history window already carries everything it needs)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from coordinator.slate import plan_slate
from shared.errors import ModelMismatch
from shared.features.history import HISTORY_FEATURES
from shared.features.sets import V8HIST_FEATURES, request_features
from shared.features.v8 import V8_FEATURES
from shared.features.window import history_params
from shared.model.bundle import ModelBundle
from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.support.bundles import train_league_bundle
from worker.predict import PredictionHandler

PRIORITY = Settings().bookmaker_priority


@pytest.fixture(scope="module")
def v8hist_dir(league_file: tuple[Path, date], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "catboost_v8hist"
    return train_league_bundle(league_file, out, feature_set="v8hist", iterations=20)


def test_a_v8hist_bundle_loads_by_its_manifest_and_the_worker_predicts_with_it(
    v8hist_dir: Path, league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    bundle = ModelBundle.load(v8hist_dir)
    assert bundle.feature_set == "v8hist" and bundle.feature_names == V8HIST_FEATURES
    assert bundle.manifest.model_version.startswith("v8hist-")
    with pytest.raises(ModelMismatch, match="v8hist"):
        ModelBundle.load(v8hist_dir, expected_feature_set="v8")

    slate = league_warehouse.query(
        "slate", {"start_date": game_date, "end_date": game_date, "rostered": True}
    )
    ids = [int(p) for p in slate["player_id"]]
    history = league_warehouse.query("history", history_params(game_date, ids))
    lines = league_warehouse.query(
        "lines", {"start_date": game_date, "end_date": game_date, "player_ids": ids}
    )
    requests = plan_slate(
        slate, history, lines, batch_id="hist-test", bookmaker_priority=PRIORITY, min_history_games=0
    ).requests
    veteran = next(r for r in requests if len(r.history) >= 20)

    row = PredictionHandler(bundle, league_warehouse, settings).predict(veteran)
    assert row["model_version"].startswith("v8hist-") and np.isfinite(row["predicted_points"])
    stored = json.loads(row["features_json"])
    assert set(HISTORY_FEATURES) <= set(stored)

    features = request_features(veteran, "v8hist")
    assert tuple(features.columns) == V8HIST_FEATURES
    assert features[list(V8_FEATURES)].equals(request_features(veteran, "v8"))
    # The stored features are the ones the model saw, and they are real numbers for a veteran.
    for name in HISTORY_FEATURES:
        assert stored[name] == pytest.approx(features.iloc[0][name], rel=1e-12), name
    assert features.iloc[0][list(HISTORY_FEATURES)].notna().all()
    assert features.iloc[0]["days_since_last_game"] >= 1
