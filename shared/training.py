"""Training: the training frame built from the warehouse through the serving code, and CatBoost fit
into a bundle with a chronological holdout that calibrates its confidence.

Targets are every played player-game in the window, from the very slate.sql the coordinator runs
(who played instead of who is rostered, a window instead of one night); lines from the same
lines.sql and `choose_lines`; history from history.sql, asked for every game; the features from
the one `feature_columns`. The training-parity test checks a past date gives the same vectors.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from shared.features.sets import FEATURE_SET, FEATURE_SETS, feature_columns, feature_names, feature_set_hash
from shared.features.window import HISTORY_LOOKBACK_DAYS
from shared.lines import choose_lines
from shared.model.bundle import ModelBundle
from shared.model.calibration import FloatArray, ResidualCalibration
from shared.model.manifest import (
    FORMAT_VERSION,
    MODEL_FILE,
    BundleManifest,
    HoldoutMetrics,
    TrainingWindow,
    name_diff,
)
from shared.warehouse import Warehouse

# The recipe `nba-props train`, `train_model` and `nba-props evaluate` use by default. Measured on the
# real 2015-24 logs (train ≤ 2022-23, test 2023-24), MAE loss with 1000 iterations at learning rate
# 0.05 gives a prop-like MAE of 5.400 against 5.451 for RMSE with 600 iterations and CatBoost's own
# learning rate: points are right-skewed, and the median is the number that splits over and under
# evenly.
DEFAULT_LOSS_FUNCTION = "MAE"
DEFAULT_ITERATIONS = 1000
DEFAULT_LEARNING_RATE = 0.05
DEFAULT_DEPTH = 6

Progress = Callable[[int, int], None]

# history.sql keeps each player's last @max_games games; training wants all of them.
ALL_GAMES = 1_000_000
EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)

META_COLUMNS = (
    "player_id",
    "game_id",
    "game_date",
    "season",
    "team_id",
    "opponent_team_id",
    "minutes",
    "bookmaker",
    "line",
    "opening_line",
)


def load_training_targets(
    warehouse: Warehouse, start: date, end: date, bookmaker_priority: Sequence[str]
) -> pd.DataFrame:
    """Every played player-game in [start, end] with its pre-game context and chosen line."""
    window = {"start_date": start, "end_date": end}
    targets = warehouse.query("slate", {**window, "rostered": False})
    player_ids = sorted(int(p) for p in targets["player_id"].unique())
    lines = choose_lines(warehouse.query("lines", {**window, "player_ids": player_ids}), bookmaker_priority)
    chosen = lines[["player_id", "game_id", "bookmaker", "line", "opening_line"]]
    merged = targets.merge(chosen, on=["player_id", "game_id"], how="left", validate="one_to_one")
    return merged.reset_index(drop=True)


def load_training_history(
    warehouse: Warehouse, targets: pd.DataFrame, start: date, end: date
) -> pd.DataFrame:
    """Every game of the targets' players that any target's history window can reach."""
    if targets.empty:
        return warehouse.query(
            "history",
            {"game_date": start, "history_start": start, "player_ids": [], "max_games": ALL_GAMES},
        )
    return warehouse.query(
        "history",
        {
            "game_date": end + timedelta(days=1),
            "history_start": start - timedelta(days=HISTORY_LOOKBACK_DAYS),
            "player_ids": sorted(int(p) for p in targets["player_id"].unique()),
            "max_games": ALL_GAMES,
        },
    )


def build_training_frame(
    warehouse: Warehouse,
    start: date,
    end: date,
    bookmaker_priority: Sequence[str],
    *,
    feature_set: str = FEATURE_SET,
    columns: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """(X: features of ``feature_set`` or the named ``columns``, y: points scored, meta: who/when/which
    line), one row per played game."""
    targets = load_training_targets(warehouse, start, end, bookmaker_priority)
    history = load_training_history(warehouse, targets, start, end)
    return training_frame(targets, history, feature_set=feature_set, columns=columns)


def training_frame(
    targets: pd.DataFrame,
    history: pd.DataFrame,
    *,
    feature_set: str = FEATURE_SET,
    columns: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """`build_training_frame` from already loaded targets and history (the evaluation reuses them).

    ``columns`` (instead of a feature set's) serves several feature sets from one frame."""
    names = feature_names(feature_set) if columns is None else tuple(columns)
    features = feature_columns(history, targets, names)
    points = targets["points"].astype(np.float64).rename("points")
    return features, points, targets[list(META_COLUMNS)].copy()


def train_model(
    warehouse: Warehouse,
    out_dir: Path | str,
    *,
    start: date | None = None,
    end: date | None = None,
    iterations: int = DEFAULT_ITERATIONS,
    bookmaker_priority: Sequence[str],
    progress: Progress | None = None,
    holdout_fraction: float = 0.15,
    seed: int = 0,
    thread_count: int = 2,
    feature_set: str = FEATURE_SET,
    loss_function: str = DEFAULT_LOSS_FUNCTION,
    learning_rate: float | None = DEFAULT_LEARNING_RATE,
    depth: int = DEFAULT_DEPTH,
) -> BundleManifest:
    """Build the training frame, train with a chronological holdout and save the bundle to out_dir.

    ``start``/``end`` default to all the game logs there are; the CatBoost settings default to the
    measured recipe above (MAE loss, 1000 iterations, learning rate 0.05, depth 6).
    """
    features, points, meta = build_training_frame(
        warehouse, start or EARLIEST, end or LATEST, bookmaker_priority, feature_set=feature_set
    )
    if features.empty:
        raise ValueError(f"no played games between {start or 'the first'} and {end or 'the last'} game date")
    bundle = train_bundle(
        features,
        points.to_numpy(),
        dates=meta["game_date"],
        iterations=iterations,
        depth=depth,
        learning_rate=learning_rate,
        loss_function=loss_function,
        holdout_fraction=holdout_fraction,
        seed=seed,
        thread_count=thread_count,
        progress=progress,
        feature_set=feature_set,
    )
    bundle.save(out_dir)
    return bundle.manifest


# -- fitting ----------------------------------------------------------------------------------------


class _ProgressCallback:
    """CatBoost user callback that reports finished iterations (CatBoost counts from 1)."""

    def __init__(self, report: Progress, offset: int, total: int) -> None:
        self._report, self._offset, self._total = report, offset, total

    def after_iteration(self, info: Any) -> bool:
        self._report(self._offset + int(info.iteration), self._total)
        return True


def _fit(
    x: pd.DataFrame,
    y: FloatArray,
    params: dict[str, Any],
    progress: Progress | None,
    offset: int,
    total: int,
) -> Any:
    from catboost import CatBoostRegressor

    model = CatBoostRegressor(**params)
    callbacks = [_ProgressCallback(progress, offset, total)] if progress else None
    model.fit(x, y, callbacks=callbacks)
    return model


def train_bundle(
    features: pd.DataFrame,
    target: npt.ArrayLike,
    *,
    dates: npt.ArrayLike | pd.Series,
    iterations: int = DEFAULT_ITERATIONS,
    holdout_fraction: float = 0.15,
    holdout_start: date | None = None,
    seed: int = 0,
    depth: int = DEFAULT_DEPTH,
    learning_rate: float | None = DEFAULT_LEARNING_RATE,
    loss_function: str = DEFAULT_LOSS_FUNCTION,
    thread_count: int = 2,
    refit: bool = True,
    progress: Progress | None = None,
    created_at: datetime | None = None,
    feature_set: str = FEATURE_SET,
) -> ModelBundle:
    """Train CatBoost on the features of ``feature_set`` (V8 by default) with a chronological holdout.

    The last ``holdout_fraction`` of the distinct game dates (or every date from ``holdout_start``)
    is held out: a model trained on the earlier dates gives the holdout metrics and the residuals
    that calibrate confidence. With ``refit`` the shipped model is then retrained on every row with
    the same settings (its calibration is slightly conservative: it has seen more data).
    The defaults are the measured recipe (`DEFAULT_LOSS_FUNCTION` …); ``learning_rate=None`` lets
    CatBoost choose one, which the manifest then records.
    ``progress(done, total)`` counts boosting iterations across both fits.
    """
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; this code computes {sorted(FEATURE_SETS)}")
    names = FEATURE_SETS[feature_set]
    if tuple(features.columns) != names:
        raise ValueError(
            f"features must have the {feature_set} columns in order: "
            f"{name_diff(tuple(features.columns), names)}"
        )
    x = features.astype(np.float64)
    if np.isinf(x.to_numpy()).any():
        raise ValueError("features contain infinite values")
    y = np.asarray(target, dtype=np.float64)
    if y.shape != (len(x),) or not np.all(np.isfinite(y)):
        raise ValueError("target must be finite, one value per feature row")
    days = pd.to_datetime(pd.Series(np.asarray(dates))).to_numpy().astype("datetime64[D]")
    if days.shape != (len(x),) or np.isnat(days).any():
        raise ValueError("dates must be given for every row")

    distinct = np.unique(days)
    if len(distinct) < 2:
        raise ValueError("a chronological holdout needs at least two game dates")
    if holdout_start is not None:
        cut = np.datetime64(holdout_start, "D")
    else:
        if not 0.0 < holdout_fraction < 1.0:
            raise ValueError("holdout_fraction must be in (0, 1)")
        cut = distinct[min(len(distinct) - 1, max(1, round(len(distinct) * (1.0 - holdout_fraction))))]
    fit_rows, hold_rows = days < cut, days >= cut
    if not fit_rows.any() or not hold_rows.any():
        raise ValueError(f"holdout start {cut} leaves no rows on one side")

    params: dict[str, Any] = {
        "loss_function": loss_function,
        "iterations": iterations,
        "depth": depth,
        "learning_rate": learning_rate,
        "random_seed": seed,
        "thread_count": thread_count,
        "allow_writing_files": False,
        "verbose": False,
    }
    total = iterations * (2 if refit else 1)
    model = _fit(x.loc[fit_rows], y[fit_rows], params, progress, 0, total)
    predicted = np.asarray(model.predict(x.loc[hold_rows].to_numpy()), dtype=np.float64)
    residuals = y[hold_rows] - predicted
    calibration = ResidualCalibration.from_residuals(residuals, predicted=predicted)
    if refit:
        model = _fit(x, y, params, progress, iterations, total)

    params["learning_rate"] = float(model.learning_rate_)  # the one CatBoost chose when None
    cbm = _model_bytes(model)
    digest = hashlib.sha256(cbm).hexdigest()
    created = created_at or datetime.now(UTC)
    manifest = BundleManifest(
        format_version=FORMAT_VERSION,
        model_version=f"{feature_set}-{created:%Y%m%d}-{digest[:8]}",
        feature_set=feature_set,
        feature_names=names,
        feature_set_hash=feature_set_hash(names),
        catboost_version=_catboost_version(),
        training_window=TrainingWindow(start=_as_date(days.min()), end=_as_date(days.max())),
        train_rows=int(len(x) if refit else fit_rows.sum()),
        holdout=HoldoutMetrics(
            start=_as_date(cut),
            n=int(residuals.size),
            mae=float(np.mean(np.abs(residuals))),
            rmse=float(np.sqrt(np.mean(residuals**2))),
            bias=float(np.mean(-residuals)),
        ),
        residual_quantiles=calibration.to_quantiles(),
        residual_quantiles_by_prediction=calibration.to_bins(),
        params={**{k: v for k, v in params.items() if k != "verbose"}, "refit": refit},
        cbm_sha256=digest,
        created_at=created,
    )
    return ModelBundle(manifest, model, cbm)


def _as_date(day: np.datetime64) -> date:
    value = day.astype("datetime64[D]").item()
    if not isinstance(value, date):
        raise ValueError(f"not a date: {day}")
    return value


def _catboost_version() -> str:
    import catboost

    return str(catboost.__version__)


def _model_bytes(model: Any) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / MODEL_FILE
        model.save_model(str(file), format="cbm")
        return file.read_bytes()
