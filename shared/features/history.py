"""The long-memory history features (feature set "v8hist"), from the same window as V8.

Pure array functions over the encoded history (`shared.features.window`); `compute_features`
in `shared.features.v8` calls `long_memory` when any of these names is asked for.
"""

from __future__ import annotations

import numpy as np

from shared.features.window import HISTORY_MAX_GAMES, FloatArray, History, IntArray, Keys, Windows, ratio

HISTORY_FEATURES: tuple[str, ...] = (
    # exponentially weighted mean over the window's games, weight 0.5 ** (lag / half-life), lag 0 the
    # latest game (NaN without games)
    "points_ewma_5",
    "points_ewma_10",
    "points_ewma_20",
    "minutes_ewma_10",
    # mean over every window game (up to 82, any season)
    "points_avg_window",
    "minutes_avg_window",
    # mean attempts over the last 10 games (NaN if any of them lacks the stat)
    "fga_avg_last_10",
    "fta_avg_last_10",
    "fg3a_avg_last_10",
    # minutes of the latest window game; D minus its date (NaN without games)
    "minutes_last_game",
    "days_since_last_game",
)

_CHUNK = 20_000  # targets per gather: training on every log stays within a few hundred MB
_LAGS = np.arange(HISTORY_MAX_GAMES)
_DECAY = {half_life: 0.5 ** (_LAGS / half_life) for half_life in (5.0, 10.0, 20.0)}


def long_memory(h: History, t: Keys, w: Windows) -> dict[str, FloatArray]:
    """`HISTORY_FEATURES` of every target, a chunk of targets at a time."""
    n = len(t.day)
    out = {name: np.empty(n) for name in HISTORY_FEATURES}
    for lo in range(0, n, _CHUNK):
        hi = min(lo + _CHUNK, n)
        chunk = _long_memory_chunk(h, t.day[lo:hi], w.n_games[lo:hi], w.last[lo:hi])
        for name, values in chunk.items():
            out[name][lo:hi] = values
    return out


def _long_memory_chunk(h: History, day: IntArray, n_games: IntArray, last: IntArray) -> dict[str, FloatArray]:
    """(targets x HISTORY_MAX_GAMES) gathers of each window, latest game first."""
    in_window = _LAGS[None, :] < n_games[:, None]
    gather = np.where(in_window, last[:, None] - _LAGS[None, :], 0)
    points = np.where(in_window, h.values["points"][gather], 0.0)
    minutes = np.where(in_window, h.values["minutes"][gather], 0.0)

    def ewma(values: FloatArray, half_life: float) -> FloatArray:
        weights = np.where(in_window, _DECAY[half_life][None, :], 0.0)
        return ratio((weights * values).sum(axis=1), weights.sum(axis=1))

    def mean_last_10(name: str) -> FloatArray:
        recent = np.where(in_window[:, :10], h.values[name][gather[:, :10]], 0.0)
        return ratio(recent.sum(axis=1), np.minimum(n_games, 10))

    has_games = n_games > 0
    return {
        "points_ewma_5": ewma(points, 5.0),
        "points_ewma_10": ewma(points, 10.0),
        "points_ewma_20": ewma(points, 20.0),
        "minutes_ewma_10": ewma(minutes, 10.0),
        "points_avg_window": ratio(points.sum(axis=1), n_games),
        "minutes_avg_window": ratio(minutes.sum(axis=1), n_games),
        "fga_avg_last_10": mean_last_10("fga"),
        "fta_avg_last_10": mean_last_10("fta"),
        "fg3a_avg_last_10": mean_last_10("fg3a"),
        "minutes_last_game": np.where(has_games, h.values["minutes"][last], np.nan),
        "days_since_last_game": np.where(has_games, (day - h.day[last]).astype(np.float64), np.nan),
    }
