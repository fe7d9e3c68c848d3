"""The model bundle: round trip, loud failures on any tampering, training, calibrated probabilities."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from catboost import CatBoostRegressor

from shared.errors import ModelMismatch, ModelMissing
from shared.features.sets import FEATURE_SET_HASHES
from shared.features.v8 import V8_FEATURES
from shared.model.bundle import ModelBundle
from shared.model.calibration import ResidualCalibration
from shared.model.manifest import FORMAT_VERSION, MANIFEST_FILE, MODEL_FILE
from shared.training import DEFAULT_DEPTH, DEFAULT_LEARNING_RATE, DEFAULT_LOSS_FUNCTION, train_bundle

ITERATIONS = 15


def synthetic_training_set(seed: int = 0, rows: int = 1200) -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(rng.normal(size=(rows, len(V8_FEATURES))), columns=list(V8_FEATURES))
    features["points_avg_last_10"] = rng.uniform(2, 30, rows)
    features.loc[rng.random(rows) < 0.3, "vegas_points_line"] = np.nan
    points = np.round(np.clip(features["points_avg_last_10"] + rng.normal(0, 4, rows), 0, None))
    dates = pd.Series(date(2024, 11, 1) + timedelta(days=int(d)) for d in rng.integers(0, 40, rows))
    return features, points.to_numpy(), dates


@pytest.fixture(scope="module")
def training_set() -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
    return synthetic_training_set()


@pytest.fixture(scope="module")
def bundle(training_set: tuple[pd.DataFrame, np.ndarray, pd.Series]) -> ModelBundle:
    features, points, dates = training_set
    return train_bundle(features, points, dates=dates, iterations=ITERATIONS, seed=1)


@pytest.fixture
def saved(bundle: ModelBundle, tmp_path: Path) -> Path:
    return bundle.save(tmp_path / "catboost_v8")


def edit_manifest(path: Path, **changes: object) -> None:
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    manifest.update(changes)
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))


# -- round trip ----------------------------------------------------------------------------------------


def test_a_saved_bundle_loads_and_predicts_identically(
    bundle: ModelBundle, saved: Path, training_set: tuple[pd.DataFrame, np.ndarray, pd.Series]
) -> None:
    features = training_set[0]
    loaded = ModelBundle.load(saved)
    assert loaded.manifest == bundle.manifest
    np.testing.assert_array_equal(loaded.predict(features), bundle.predict(features))
    assert sorted(p.name for p in saved.iterdir()) == [MANIFEST_FILE, MODEL_FILE]


def test_the_manifest_describes_the_model(bundle: ModelBundle) -> None:
    manifest = bundle.manifest
    assert manifest.format_version == FORMAT_VERSION
    assert manifest.model_type == "catboost_regressor"
    assert manifest.feature_set == "v8"
    assert manifest.feature_names == V8_FEATURES
    assert manifest.feature_set_hash == FEATURE_SET_HASHES["v8"]
    assert manifest.model_version.startswith("v8-") and manifest.model_version.endswith(
        manifest.cbm_sha256[:8]
    )
    assert manifest.training_window.start == date(2024, 11, 1)
    assert manifest.train_rows == 1200  # refit on every row
    assert manifest.params["iterations"] == ITERATIONS
    assert manifest.holdout.mae > 0 and manifest.holdout.rmse >= manifest.holdout.mae


def test_the_measured_recipe_is_the_default_and_the_manifest_records_it(bundle: ModelBundle) -> None:
    # README.md, Model quality: MAE loss, lr 0.05, depth 6 beat RMSE with CatBoost's own rate on real logs.
    params = bundle.manifest.params
    assert (DEFAULT_LOSS_FUNCTION, DEFAULT_LEARNING_RATE, DEFAULT_DEPTH) == ("MAE", 0.05, 6)
    assert params["loss_function"] == "MAE"
    assert params["learning_rate"] == pytest.approx(0.05)
    assert params["depth"] == 6


def test_a_bundle_trained_with_another_loss_round_trips_with_its_own_settings(
    training_set: tuple[pd.DataFrame, np.ndarray, pd.Series], tmp_path: Path
) -> None:
    features, points, dates = training_set
    rmse = train_bundle(
        features, points, dates=dates, iterations=ITERATIONS, loss_function="RMSE", learning_rate=None
    )
    loaded = ModelBundle.load(rmse.save(tmp_path / "rmse"))
    assert loaded.manifest.params["loss_function"] == "RMSE"
    assert loaded.manifest.params["learning_rate"] != pytest.approx(0.05)  # CatBoost chose it
    np.testing.assert_array_equal(loaded.predict(features), rmse.predict(features))


def test_the_holdout_is_the_last_dates(training_set: tuple[pd.DataFrame, np.ndarray, pd.Series]) -> None:
    features, points, dates = training_set
    bundle = train_bundle(
        features, points, dates=dates, iterations=ITERATIONS, holdout_start=date(2024, 12, 5)
    )
    held_out = int((pd.to_datetime(dates) >= pd.Timestamp(2024, 12, 5)).sum())
    assert bundle.manifest.holdout.start == date(2024, 12, 5)
    assert bundle.manifest.holdout.n == held_out
    default = train_bundle(features, points, dates=dates, iterations=ITERATIONS, refit=False)
    # 40 distinct dates, 15 % held out → the last 6 dates; without refit only the rest was trained on.
    assert default.manifest.holdout.start == date(2024, 11, 1) + timedelta(days=34)
    assert default.manifest.train_rows + default.manifest.holdout.n == len(features)


def test_training_is_deterministic_and_reports_progress(
    bundle: ModelBundle, training_set: tuple[pd.DataFrame, np.ndarray, pd.Series]
) -> None:
    features, points, dates = training_set
    seen: list[tuple[int, int]] = []
    again = train_bundle(
        features,
        points,
        dates=dates,
        iterations=ITERATIONS,
        seed=1,
        progress=lambda d, t: seen.append((d, t)),
    )
    # The binary embeds a training timestamp and a GUID, so compare what the model does.
    np.testing.assert_array_equal(again.predict(features), bundle.predict(features))
    assert seen[0] == (1, 2 * ITERATIONS) and seen[-1] == (2 * ITERATIONS, 2 * ITERATIONS)


def test_training_refuses_features_in_the_wrong_order(
    training_set: tuple[pd.DataFrame, np.ndarray, pd.Series],
) -> None:
    features, points, dates = training_set
    with pytest.raises(ValueError, match="order"):
        train_bundle(features[list(reversed(V8_FEATURES))], points, dates=dates, iterations=ITERATIONS)


def test_saving_over_an_existing_bundle_replaces_it_and_leaves_no_temporary_files(
    bundle: ModelBundle, saved: Path, training_set: tuple[pd.DataFrame, np.ndarray, pd.Series]
) -> None:
    features, points, dates = training_set
    other = train_bundle(
        features,
        points,
        dates=dates,
        iterations=ITERATIONS,
        seed=2,
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    other.save(saved)
    assert ModelBundle.load(saved).manifest.cbm_sha256 == other.manifest.cbm_sha256
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


def test_predict_refuses_a_frame_whose_columns_differ(
    bundle: ModelBundle, training_set: tuple[pd.DataFrame, np.ndarray, pd.Series]
) -> None:
    features = training_set[0]
    with pytest.raises(ModelMismatch, match="order"):
        bundle.predict(features[[*V8_FEATURES[1:], V8_FEATURES[0]]])


# -- loud failures --------------------------------------------------------------------------------------


def test_a_missing_directory_is_model_missing(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing):
        ModelBundle.load(tmp_path / "nowhere")


@pytest.mark.parametrize("file", [MODEL_FILE, MANIFEST_FILE])
def test_a_missing_file_is_model_missing(saved: Path, file: str) -> None:
    (saved / file).unlink()
    with pytest.raises(ModelMissing, match=file):
        ModelBundle.load(saved)


def test_swapped_feature_order_in_the_manifest_is_a_mismatch(saved: Path) -> None:
    names = list(V8_FEATURES)
    names[0], names[1] = names[1], names[0]
    edit_manifest(saved, feature_names=names)
    with pytest.raises(ModelMismatch, match="order"):
        ModelBundle.load(saved)


def test_a_changed_feature_hash_is_a_mismatch(saved: Path) -> None:
    edit_manifest(saved, feature_set_hash="0" * 16)
    with pytest.raises(ModelMismatch, match="hash"):
        ModelBundle.load(saved)


def test_a_binary_that_does_not_match_its_checksum_is_a_mismatch(saved: Path) -> None:
    blob = bytearray((saved / MODEL_FILE).read_bytes())
    blob[-1] ^= 0xFF
    (saved / MODEL_FILE).write_bytes(bytes(blob))
    with pytest.raises(ModelMismatch, match="sha256"):
        ModelBundle.load(saved)


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, None])
def test_an_unknown_format_version_is_a_mismatch(saved: Path, version: int | None) -> None:
    edit_manifest(saved, format_version=version)
    with pytest.raises(ModelMismatch, match="format version"):
        ModelBundle.load(saved)


def test_a_manifest_that_is_not_json_is_a_mismatch(saved: Path) -> None:
    (saved / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(ModelMismatch, match="JSON"):
        ModelBundle.load(saved)


def test_code_expecting_other_features_refuses_the_bundle(saved: Path) -> None:
    with pytest.raises(ModelMismatch, match="missing"):
        ModelBundle.load(saved, expected_features=(*V8_FEATURES, "new_feature"))


def test_a_binary_trained_on_other_feature_names_is_a_mismatch(
    bundle: ModelBundle, saved: Path, training_set: tuple[pd.DataFrame, np.ndarray, pd.Series]
) -> None:
    features, points, _ = training_set
    renamed = features.set_axis([f"f{i}" for i in range(len(V8_FEATURES))], axis=1)
    model = CatBoostRegressor(iterations=5, verbose=False, allow_writing_files=False, thread_count=1)
    model.fit(renamed, points)
    model.save_model(str(saved / MODEL_FILE))
    edit_manifest(saved, cbm_sha256=hashlib.sha256((saved / MODEL_FILE).read_bytes()).hexdigest())
    with pytest.raises(ModelMismatch, match="binary's own feature names"):
        ModelBundle.load(saved)


def test_a_bundle_copied_without_its_manifest_is_never_half_loaded(saved: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(saved / MODEL_FILE, copy / MODEL_FILE)
    with pytest.raises(ModelMissing):
        ModelBundle.load(copy)


# -- calibrated probabilities ---------------------------------------------------------------------------


def simulated_games(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and integer outcomes whose residuals are skewed (like points), not normal."""
    rng = np.random.default_rng(seed)
    predicted = rng.uniform(5, 35, n)
    actual = np.clip(np.round(predicted + rng.gamma(4.0, 2.0, n) - 8.0), 0, None)
    return predicted, actual


def test_prob_over_falls_as_the_line_rises(bundle: ModelBundle) -> None:
    lines = np.arange(0.5, 60.0, 0.5)
    p = bundle.prob_over(np.full(lines.shape, 20.0), lines)
    assert np.all(np.diff(p) <= 0)
    half_lines = bundle.prob_over(np.full(10, 20.0), np.arange(15.5, 25.5))
    assert np.all(np.diff(half_lines) < 0)
    assert np.all((p > 0) & (p < 1))


def test_prob_over_rises_with_the_prediction(bundle: ModelBundle) -> None:
    p = bundle.prob_over(np.arange(10.0, 30.0), np.full(20, 20.5))
    assert np.all(np.diff(p) >= 0) and p[-1] > p[0]


def test_probabilities_are_calibrated_on_out_of_sample_residuals() -> None:
    predicted, actual = simulated_games(1, 40_000)
    calibration = ResidualCalibration.from_residuals(actual - predicted)
    fresh_pred, fresh_actual = simulated_games(2, 40_000)
    for line in (9.5, 14.5, 20.0, 24.5, 31.0):
        lines = np.full(fresh_pred.shape, line)
        p_over = calibration.prob_over(fresh_pred, lines)
        p_under = calibration.prob_under(fresh_pred, lines)
        assert abs(p_over.mean() - (fresh_actual > line).mean()) < 0.01, line
        assert abs(p_under.mean() - (fresh_actual < line).mean()) < 0.01, line
        # And within bins of the predicted probability, not just on average.
        bins = np.digitize(p_over, [0.2, 0.4, 0.6, 0.8])
        for b in np.unique(bins):
            rows = bins == b
            if rows.sum() > 500:
                assert abs(p_over[rows].mean() - (fresh_actual[rows] > line).mean()) < 0.03, (line, b)


def test_a_push_is_neither_over_nor_under() -> None:
    calibration = ResidualCalibration.from_residuals(np.random.default_rng(0).normal(0, 5, 10_000))
    pred = np.full(3, 20.0)
    half = calibration.prob_over(pred, [20.5] * 3) + calibration.prob_under(pred, [20.5] * 3)
    whole = calibration.prob_over(pred, [20.0] * 3) + calibration.prob_under(pred, [20.0] * 3)
    np.testing.assert_allclose(half, 1.0)
    assert np.all(whole < 0.97)  # about 8 % of outcomes land exactly on 20 with sd 5
    # Over 20 needs 21 or more, exactly like over 20.5.
    np.testing.assert_array_equal(
        calibration.prob_over(pred, [20.0] * 3), calibration.prob_over(pred, [20.5] * 3)
    )


def test_no_line_has_no_probability(bundle: ModelBundle) -> None:
    p = bundle.prob_over([20.0, 20.0, 20.0], [None, np.nan, 0.0])
    assert np.isnan(p).all()


def test_probabilities_never_reach_certainty() -> None:
    calibration = ResidualCalibration.from_residuals(np.random.default_rng(0).normal(0, 5, 999))
    p = calibration.prob_over([50.0, 0.0], [0.5, 60.5])
    assert p[0] == pytest.approx(1 - 1 / 1000) and p[1] == pytest.approx(1 / 1000)
