"""Training data built from the warehouse through the serving code.

Targets are every played player-game in the window, from the very slate.sql the coordinator runs
(who played instead of who is rostered, a window instead of one night); lines from the same
lines.sql and `choose_lines`; history from history.sql, asked for every game instead of the last
few; features from the one `compute_features`, which cuts each target's history to the serving
window. The training-parity test checks that a past date gives the same feature vectors both ways.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from shared.context_features import feature_columns, feature_names
from shared.features import FEATURE_SET, HISTORY_LOOKBACK_DAYS
from shared.lines import choose_lines
from shared.model import (
    DEFAULT_DEPTH,
    DEFAULT_ITERATIONS,
    DEFAULT_LEARNING_RATE,
    DEFAULT_LOSS_FUNCTION,
    BundleManifest,
    train_bundle,
)
from shared.warehouse import Warehouse

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
    progress: Callable[[int, int], None] | None = None,
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
    measured recipe in `shared.model` (MAE loss, 1000 iterations, learning rate 0.05, depth 6).
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
