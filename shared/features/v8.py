"""The CatBoost V8 features: the one implementation that training and serving share.

Pure functions, DataFrames in and DataFrames out: no I/O, no clock. Training calls
`compute_features(all_logs, every_played_game)`; the worker calls `features_from_request(request)`,
which gives the same bits from the payload. Every feature of a target at date D comes from its
history window (`shared.features.window`), never from rows on or after D. Missing source data gives
NaN (CatBoost handles it), never a guessed default; counts are 0 when there is nothing to count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from shared.contracts import PredictionRequest
from shared.features.history import HISTORY_FEATURES, long_memory
from shared.features.window import (
    HISTORY_COLUMNS,
    TARGET_COLUMNS,
    FloatArray,
    History,
    HistoryInput,
    Keys,
    TargetInput,
    Windows,
    encode,
    history_input,
    inputs_from_request,
    locate_windows,
    ratio,
    require,
    slice_sums,
    target_input,
)
from shared.lines import valid_line

# "The window" is the target's history window; "last k" its last min(k, n) games.
V8_FEATURES: tuple[str, ...] = (
    "points_avg_last_5",  # mean points over the last 5 games (NaN without games)
    "points_avg_last_10",  # the same over the last 10
    # mean points over the window games of the target's season (NaN before its first game of it)
    "points_avg_season",
    "points_std_last_10",  # sample std (ddof=1) of points over the last 10 games (NaN below 2)
    "games_in_last_7_days",  # games dated D-7 ... D-1
    "fatigue_score",  # minutes played D-7 ... D-1, divided by 144 (three full games)
    # pct_paint * opponent_paint_share_allowed + pct_mid_range * opponent_mid_share_allowed
    # + pct_three * opponent_three_share_allowed (NaN if any term is)
    "shot_zone_mismatch_score",
    "pace_score",  # (team_pace + opponent_pace) / 2 / 100
    # usage per minute over the last 3 games / usage per minute over the season's games - 1, usage =
    # FGA + 0.44 FTA + TOV (NaN if any of those games lacks them or the season rate is 0)
    "usage_spike_score",
    "rest_advantage",  # min(team_rest_days, 7) - min(opponent_rest_days, 7)
    # `INJURY_RISK` of the status (OUT only in training: serving never sends OUT); unknown NaN
    "injury_risk",
    # least-squares slope of points against game number over the last 5 games (NaN below 3)
    "recent_trend",
    "minutes_change",  # mean minutes over the last 3 games - mean minutes over the last 10
    "opponent_def_rating",  # this and the next: the season-to-date context, as given
    "opponent_pace",
    "home_away",  # 1 home, 0 away
    "back_to_back",  # 1 if team_rest_days == 1 else 0 (NaN when rest days are unknown)
    "playoff_game",  # 1 if phase == "playoffs" else 0
    # points_paint / points_mid_range / 3 * fg3m / ftm over the last 10 games divided by their points
    # (NaN if any of those games lacks the stat, or they total 0 points)
    "pct_paint",
    "pct_mid_range",
    "pct_three",
    "pct_free_throw",
    "team_pace",  # this and the next two: the season-to-date context, as given
    "team_off_rating",
    "team_win_pct",
    # the chosen bookmaker's line and opening line, line - opening line, 1 with a line `valid_line`
    # accepts; without one 0 and the three others NaN: never a made-up line
    "vegas_points_line",
    "vegas_opening_line",
    "vegas_line_move",
    "has_vegas_line",
    # mean points / count of the window games against the target's opponent (NaN / 0 without any)
    "avg_points_vs_opponent",
    "games_vs_opponent",
    "minutes_avg_last_10",  # mean minutes over the last 10 games
    "ppm_avg_last_10",  # sum of points / sum of minutes over the last 10 games
)

# Everything `compute_features` can compute, in a fixed order.
HISTORY_DERIVED_FEATURES: tuple[str, ...] = (*V8_FEATURES, *HISTORY_FEATURES)

INJURY_RISK: dict[str, float] = {
    "AVAILABLE": 0.0,
    "PROBABLE": 0.25,
    "QUESTIONABLE": 0.5,
    "DOUBTFUL": 0.75,
    "OUT": 1.0,
}

FATIGUE_MINUTES = 144.0
REST_DAYS_CAP = 7.0


def _injury_risk(status: npt.NDArray[np.object_]) -> FloatArray:
    codes, statuses = pd.factorize(status)
    risk = np.array([INJURY_RISK.get(str(s).strip().upper(), np.nan) for s in statuses] + [np.nan])
    out: FloatArray = risk[codes]  # code -1 (missing) picks the trailing NaN
    return out


def _last_games(h: History, w: Windows) -> dict[str, FloatArray]:
    """Features over the last 3, 5 and 10 games: a (targets x 10) gather, most recent first."""
    lag = np.arange(10)
    in_window = lag[None, :] < w.n_games[:, None]
    gather = np.where(in_window, w.last[:, None] - lag[None, :], 0)
    n3, n5, n10 = (np.minimum(w.n_games, k) for k in (3, 5, 10))

    def recent(name: str, k: int) -> FloatArray:
        return np.where(in_window[:, :k], h.values[name][gather[:, :k]], 0.0)

    def total(name: str, k: int) -> FloatArray:
        summed: FloatArray = recent(name, k).sum(axis=1)
        return summed

    points_10 = total("points", 10)
    minutes_3, minutes_10 = total("minutes", 3), total("minutes", 10)
    avg_5 = ratio(total("points", 5), n5)
    avg_10 = ratio(points_10, n10)

    deviations = np.where(in_window, h.values["points"][gather] - avg_10[:, None], 0.0)
    std_10 = np.where(n10 >= 2, np.sqrt(ratio((deviations**2).sum(axis=1), n10 - 1)), np.nan)

    # Least-squares slope against game number: x = 0 for the latest game, -1 the one before, ...
    x_dev = -lag[None, :5] + (n5[:, None] - 1) / 2.0
    y_dev = np.where(in_window[:, :5], recent("points", 5) - avg_5[:, None], 0.0)
    slope = ratio((x_dev * y_dev).sum(axis=1), n5 * (n5**2 - 1) / 12.0)

    return {
        "points_avg_last_5": avg_5,
        "points_avg_last_10": avg_10,
        "points_std_last_10": std_10,
        "recent_trend": np.where(n5 >= 3, slope, np.nan),
        "minutes_change": ratio(minutes_3, n3) - ratio(minutes_10, n10),
        "minutes_avg_last_10": ratio(minutes_10, n10),
        "ppm_avg_last_10": ratio(points_10, minutes_10),
        "pct_paint": ratio(total("points_paint", 10), points_10),
        "pct_mid_range": ratio(total("points_mid_range", 10), points_10),
        "pct_three": ratio(3.0 * total("fg3m", 10), points_10),
        "pct_free_throw": ratio(total("ftm", 10), points_10),
        "usage_per_minute_last_3": ratio(total("usage", 3), minutes_3),
    }


def _last_week(h: History, w: Windows) -> dict[str, FloatArray]:
    return {
        "games_in_last_7_days": (w.stop - w.week_first).astype(np.float64),
        "fatigue_score": slice_sums(h.values["minutes"], w.week_first, w.stop) / FATIGUE_MINUTES,
    }


def _season(h: History, t: Keys, w: Windows) -> dict[str, FloatArray]:
    """The run of window games in the target's season that ends with the last game before D."""
    idx = np.arange(h.n + 1)
    run_starts = np.ones(h.n + 1, dtype=bool)
    run_starts[1:] = (h.player[1:] != h.player[:-1]) | (h.season[1:] != h.season[:-1])
    run_first = np.maximum.accumulate(np.where(run_starts, idx, 0))
    same_season = (w.n_games > 0) & (h.season[w.last] == t.season)
    first = np.where(same_season, np.maximum(run_first[w.last], w.first), w.stop)
    usage = slice_sums(h.values["usage"], first, w.stop)
    return {
        "points_avg_season": ratio(slice_sums(h.values["points"], first, w.stop), w.stop - first),
        "usage_per_minute_season": ratio(usage, slice_sums(h.values["minutes"], first, w.stop)),
    }


def _against_opponent(h: History, t: Keys, w: Windows) -> dict[str, FloatArray]:
    """Window games against the target's opponent, contiguous once sorted by (player, opponent, row)."""
    n = h.n
    rows = np.arange(n)
    n_opp = int(max(h.opponent.max(), t.opponent.max())) + 1
    if (int(max(h.player.max(), t.player.max())) + 2) * n_opp * (n + 1) >= 2**62:
        raise ValueError("history too large to index")
    by_opp = np.lexsort((rows, h.opponent[:n], h.player[:n]))
    key = (h.player[by_opp] * n_opp + h.opponent[by_opp]) * (n + 1) + by_opp
    base = (t.player * n_opp + t.opponent) * (n + 1)
    lo = np.searchsorted(key, base + w.first, side="left")
    hi = np.searchsorted(key, base + w.stop, side="left")
    games = (hi - lo).astype(np.float64)
    points = slice_sums(h.values["points"][:n][by_opp], lo, hi)
    return {"avg_points_vs_opponent": ratio(points, games), "games_vs_opponent": games}


def _game_context(targets: TargetInput) -> dict[str, FloatArray]:
    context = dict(targets.context)
    team_rest, opp_rest = context["team_rest_days"], context["opponent_rest_days"]
    line = targets.line
    has_line = valid_line(line)
    opening = targets.opening_line
    line = np.where(has_line, line, np.nan)
    opening = np.where(has_line & valid_line(opening), opening, np.nan)
    return {
        **context,
        "pace_score": (context["team_pace"] + context["opponent_pace"]) / 2.0 / 100.0,
        "rest_advantage": np.minimum(team_rest, REST_DAYS_CAP) - np.minimum(opp_rest, REST_DAYS_CAP),
        "back_to_back": np.where(np.isnan(team_rest), np.nan, (team_rest == 1).astype(np.float64)),
        "home_away": targets.is_home,
        "playoff_game": (targets.phase == "playoffs").astype(np.float64),
        "injury_risk": _injury_risk(targets.injury_status),
        "vegas_points_line": line,
        "vegas_opening_line": opening,
        "vegas_line_move": line - opening,
        "has_vegas_line": has_line.astype(np.float64),
    }


def _names(names: Sequence[str]) -> list[str]:
    wanted = list(names)
    unknown = [name for name in wanted if name not in HISTORY_DERIVED_FEATURES]
    if unknown:
        raise ValueError(f"not features of the history and game: {unknown}")
    return wanted


def compute_features(
    history: pd.DataFrame, targets: pd.DataFrame, names: Sequence[str] = V8_FEATURES
) -> pd.DataFrame:
    """One row of features per target row (same index and order), float64, point in time.

    ``history`` has `HISTORY_COLUMNS` (rows in any order, any amount of history; rows on or after a
    target's date are ignored); ``targets`` has `TARGET_COLUMNS`. ``names`` picks and orders the
    columns among `HISTORY_DERIVED_FEATURES` (default: V8).
    """
    wanted = _names(names)
    require(history, HISTORY_COLUMNS, "history")
    require(targets, TARGET_COLUMNS, "targets")
    if targets.empty:
        return pd.DataFrame(np.zeros((0, len(wanted))), index=targets.index, columns=wanted)
    matrix = _feature_matrix(history_input(history), target_input(targets), wanted)
    return pd.DataFrame(matrix, index=targets.index, columns=wanted)


def features_from_request(request: PredictionRequest, names: Sequence[str] = V8_FEATURES) -> pd.DataFrame:
    """The feature row of one message: the same bits as ``compute_features(*frames_from_request(
    request), names)`` (a test holds them equal), without building the two DataFrames first."""
    wanted = _names(names)
    return pd.DataFrame(_feature_matrix(*inputs_from_request(request), wanted), columns=wanted)


def _feature_matrix(history: HistoryInput, targets: TargetInput, names: Sequence[str]) -> FloatArray:
    """The features themselves (targets x names), whichever way the inputs arrived."""
    h, t = encode(history, targets)
    windows = locate_windows(h, t)
    columns = {
        **_last_games(h, windows),
        **_last_week(h, windows),
        **_season(h, t, windows),
        **_against_opponent(h, t, windows),
        **_game_context(targets),
    }
    if any(name in HISTORY_FEATURES for name in names):
        columns.update(long_memory(h, t, windows))
    columns["usage_spike_score"] = (
        ratio(columns["usage_per_minute_last_3"], columns["usage_per_minute_season"]) - 1.0
    )
    columns["shot_zone_mismatch_score"] = (
        columns["pct_paint"] * columns["opponent_paint_share_allowed"]
        + columns["pct_mid_range"] * columns["opponent_mid_share_allowed"]
        + columns["pct_three"] * columns["opponent_three_share_allowed"]
    )
    matrix: FloatArray = np.column_stack([columns[name] for name in names]).astype(np.float64, copy=False)
    return matrix
