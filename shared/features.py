"""CatBoost V8 features: the one implementation that training and serving share.

Pure functions, DataFrames in and DataFrames out: no I/O, no clock. Training calls
`compute_features(all_logs, every_played_game)`; the worker calls
`compute_features(*frames_from_request(request))`. Both see the same numbers because every feature of
a target at date D is computed from the same *history window*: the player's last
`HISTORY_MAX_GAMES` games within `HISTORY_LOOKBACK_DAYS` days before D, strictly before D. The
coordinator fetches exactly that window (`history_params`), and training, which passes every log it
has, gets it cut to the same window here. Rows on or after D are never looked at.

Missing source data gives NaN (CatBoost handles it), never a guessed default. Counts are 0 when
there is nothing to count.

Definitions ("window" = the history window above; "last k" = its last min(k, n) games):

- points_avg_last_5 / _10: mean points over the last 5 / 10 games (NaN without games).
- points_avg_season: mean points over the window games of the target's season (NaN before its
  first game of that season).
- points_std_last_10: sample std (ddof=1) of points over the last 10 games (NaN below 2 games).
- games_in_last_7_days: games dated D-7 ... D-1.
- fatigue_score: minutes played D-7 ... D-1, divided by 144 (three full games).
- shot_zone_mismatch_score: pct_paint * opponent_paint_share_allowed
  + pct_mid_range * opponent_mid_share_allowed + pct_three * opponent_three_share_allowed
  (NaN if any term is).
- pace_score: (team_pace + opponent_pace) / 2 / 100.
- usage_spike_score: usage per minute over the last 3 games / usage per minute over the season's
  games - 1, usage = FGA + 0.44 FTA + TOV (NaN if any of those games lacks them or the season rate
  is 0).
- rest_advantage: min(team_rest_days, 7) - min(opponent_rest_days, 7).
- injury_risk: AVAILABLE 0, PROBABLE 0.25, QUESTIONABLE 0.5, DOUBTFUL 0.75; OUT 1 (only seen in
  training: serving never sends OUT); missing or unknown NaN.
- recent_trend: least-squares slope of points against game number over the last 5 games, in
  points per game (NaN below 3 games).
- minutes_change: mean minutes over the last 3 games - mean minutes over the last 10.
- opponent_def_rating, opponent_pace, team_pace, team_off_rating, team_win_pct: the target's
  season-to-date context, as given.
- home_away: 1 home, 0 away.
- back_to_back: 1 if team_rest_days == 1 else 0 (NaN when rest days are unknown).
- playoff_game: 1 if phase == "playoffs" else 0.
- pct_paint / pct_mid_range: points_paint / points_mid_range over the last 10 games divided by
  their points (NaN if any of those games lacks zone data, or they total 0 points).
- pct_three / pct_free_throw: 3 * fg3m / ftm over the last 10 games divided by their points (same
  NaN rule).
- vegas_points_line / vegas_opening_line: the chosen bookmaker's line and opening line;
  vegas_line_move = line - opening_line; has_vegas_line 1 with a line, else 0 and the three line
  features NaN: never a made-up line.
- avg_points_vs_opponent / games_vs_opponent: mean points / count of the window games against the
  target's opponent (NaN / 0 without any).
- minutes_avg_last_10: mean minutes over the last 10 games.
- ppm_avg_last_10: sum of points / sum of minutes over the last 10 games.

The long-memory history features (`HISTORY_FEATURES`; not V8: feature set "v8hist" adds them, see
`shared.context_features`), from the same window and the same payload history:

- points_ewma_5 / _10 / _20, minutes_ewma_10: exponentially weighted mean over the window's games,
  weight 0.5 ** (lag / half-life) with lag 0 the latest game (NaN without games).
- points_avg_window / minutes_avg_window: mean over every window game (up to 82, any season).
- fga_avg_last_10 / fta_avg_last_10 / fg3a_avg_last_10: mean attempts over the last 10 games (NaN if
  any of them lacks the stat).
- minutes_last_game: minutes of the latest window game (NaN without games).
- days_since_last_game: D minus the latest window game's date (NaN without games).

A valid line is what `shared.lines.valid_line` accepts; anything else counts as no line, in
training and in serving alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from shared.contracts import HistoryTable, PredictionRequest
from shared.errors import PoisonMessage
from shared.lines import valid_line

FEATURE_SET = "v8"

V8_FEATURES: tuple[str, ...] = (
    "points_avg_last_5",
    "points_avg_last_10",
    "points_avg_season",
    "points_std_last_10",
    "games_in_last_7_days",
    "fatigue_score",
    "shot_zone_mismatch_score",
    "pace_score",
    "usage_spike_score",
    "rest_advantage",
    "injury_risk",
    "recent_trend",
    "minutes_change",
    "opponent_def_rating",
    "opponent_pace",
    "home_away",
    "back_to_back",
    "playoff_game",
    "pct_paint",
    "pct_mid_range",
    "pct_three",
    "pct_free_throw",
    "team_pace",
    "team_off_rating",
    "team_win_pct",
    "vegas_points_line",
    "vegas_opening_line",
    "vegas_line_move",
    "has_vegas_line",
    "avg_points_vs_opponent",
    "games_vs_opponent",
    "minutes_avg_last_10",
    "ppm_avg_last_10",
)


def feature_set_hash(names: Sequence[str]) -> str:
    """First 16 hex digits of sha256 over the ordered feature names joined by ","."""
    return hashlib.sha256(",".join(names).encode()).hexdigest()[:16]


FEATURE_SET_HASH = feature_set_hash(V8_FEATURES)

# Long-memory features from the same history window (module docstring); feature set "v8hist".
HISTORY_FEATURES: tuple[str, ...] = (
    "points_ewma_5",
    "points_ewma_10",
    "points_ewma_20",
    "minutes_ewma_10",
    "points_avg_window",
    "minutes_avg_window",
    "fga_avg_last_10",
    "fta_avg_last_10",
    "fg3a_avg_last_10",
    "minutes_last_game",
    "days_since_last_game",
)
# Everything `compute_features` can compute, in a fixed order.
HISTORY_DERIVED_FEATURES: tuple[str, ...] = (*V8_FEATURES, *HISTORY_FEATURES)

# The history window every feature is computed over. The coordinator must fetch exactly this window
# (see `history_params`); a different window would be a training/serving skew.
HISTORY_MAX_GAMES = 82
HISTORY_LOOKBACK_DAYS = 550

HISTORY_COLUMNS: tuple[str, ...] = ("player_id", *HistoryTable.model_fields)

# Season-to-date team and opponent context of a game, as slate.sql gives it.
CONTEXT_COLUMNS: tuple[str, ...] = (
    "team_pace",
    "team_off_rating",
    "team_win_pct",
    "team_rest_days",
    "opponent_def_rating",
    "opponent_pace",
    "opponent_rest_days",
    "opponent_paint_share_allowed",
    "opponent_mid_share_allowed",
    "opponent_three_share_allowed",
)

TARGET_COLUMNS: tuple[str, ...] = (
    "player_id",
    "game_id",
    "game_date",
    "season",
    "phase",
    "is_home",
    "opponent_team_id",
    *CONTEXT_COLUMNS,
    "injury_status",
    "line",
    "opening_line",
)

INJURY_RISK: dict[str, float] = {
    "AVAILABLE": 0.0,
    "PROBABLE": 0.25,
    "QUESTIONABLE": 0.5,
    "DOUBTFUL": 0.75,
    "OUT": 1.0,
}

FATIGUE_MINUTES = 144.0
REST_DAYS_CAP = 7.0

_CHUNK = 20_000  # targets per gather in _long_memory
_NULLABLE_STATS = ("fga", "fg3m", "fg3a", "ftm", "fta", "tov", "points_paint", "points_mid_range")
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def history_params(game_date: date, player_ids: Iterable[int]) -> dict[str, Any]:
    """Parameters of ``history.sql`` that fetch exactly the window the features are defined over."""
    return {
        "game_date": game_date,
        "history_start": game_date - timedelta(days=HISTORY_LOOKBACK_DAYS),
        "player_ids": sorted({int(p) for p in player_ids}),
        "max_games": HISTORY_MAX_GAMES,
    }


# -- input normalisation ----------------------------------------------------------------------------


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks columns {missing}")


def _floats(series: pd.Series) -> FloatArray:
    if series.dtype == object:
        series = pd.to_numeric(series)
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _ints(series: pd.Series, what: str) -> IntArray:
    if series.isna().any():
        raise ValueError(f"{what} has missing values")
    return series.to_numpy(dtype=np.int64)


def _flags(series: pd.Series) -> FloatArray:
    """Booleans (bool, nullable boolean or objects with None) as 1.0 / 0.0 / NaN."""
    if series.dtype == bool:
        return np.asarray(series.to_numpy(), dtype=np.float64)
    flags = series.astype("boolean").to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(flags, dtype=np.float64)


def _days(series: pd.Series, what: str) -> IntArray:
    """Dates as days since the epoch, whatever the input type (dates, datetime64 of any unit)."""
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = pd.to_datetime(series)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_localize(None)
    days = series.to_numpy().astype("datetime64[D]")
    if np.isnat(days).any():
        raise ValueError(f"{what} has missing dates")
    return days.astype(np.int64)


def _strings(series: pd.Series) -> npt.NDArray[np.object_]:
    values: npt.NDArray[np.object_] = series.to_numpy(dtype=object)
    missing = pd.isna(values)
    if missing.any():
        values = values.copy()
        values[missing] = None
    return values


def _injury_risk(status: npt.NDArray[np.object_]) -> FloatArray:
    codes, statuses = pd.factorize(status)
    risk = np.array([INJURY_RISK.get(str(s).strip().upper(), np.nan) for s in statuses] + [np.nan])
    out: FloatArray = risk[codes]  # code -1 (missing) picks the trailing NaN
    return out


def _ratio(num: FloatArray, den: FloatArray | IntArray) -> FloatArray:
    """num / den, NaN where the denominator is 0 or either side is missing (never inf)."""
    den_f = np.asarray(den, dtype=np.float64)
    out = np.full(num.shape, np.nan)
    ok = np.isfinite(den_f) & (den_f != 0)
    np.divide(num, den_f, out=out, where=ok)
    return out


def _slice_sums(values: FloatArray, start: IntArray, stop: IntArray) -> FloatArray:
    """Sum of ``values[start:stop]`` per pair; 0 for empty slices; NaN propagates.

    Each sum depends on the slice's values only (not on what precedes it in the array), so the same
    window gives the same bits whether the history holds one player's 82 games or every log.
    """
    if len(start) == 0:
        return np.zeros(0)
    padded = np.concatenate([values, np.zeros(1)])
    bounds = np.empty(2 * len(start), dtype=np.intp)
    bounds[0::2] = start
    bounds[1::2] = stop
    sums: FloatArray = np.add.reduceat(padded, bounds)[0::2]
    sums[stop <= start] = 0.0
    return sums


# -- the features -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _History:
    """History sorted by (player, date), as integer codes shared with the targets and float columns.

    Every per-row array carries one trailing filler element, so that gathering position 0 is safe
    even for an empty history; ``n`` is the number of real rows.
    """

    n: int
    player: IntArray
    day: IntArray
    season: IntArray
    opponent: IntArray
    values: dict[str, FloatArray]


@dataclass(frozen=True)
class _Targets:
    player: IntArray
    day: IntArray
    season: IntArray
    opponent: IntArray


@dataclass(frozen=True)
class _Windows:
    """Each target's history window as positions [first, stop) in the sorted history."""

    first: IntArray
    stop: IntArray
    week_first: IntArray  # first position dated D-7 or later (== stop when none)

    @property
    def n_games(self) -> IntArray:
        return self.stop - self.first

    @property
    def last(self) -> IntArray:
        return np.maximum(self.stop - 1, 0)


_VALUE_COLUMNS = (
    "points",
    "minutes",
    *("fga", "fg3m", "fg3a", "ftm", "fta", "tov", "points_paint", "points_mid_range"),
)


@dataclass(frozen=True)
class _HistoryInput:
    """The history columns the features read, as plain arrays (the one normalized input form)."""

    player: IntArray
    day: IntArray  # days since the epoch
    season: npt.NDArray[np.object_]
    opponent: IntArray
    values: dict[str, FloatArray]  # _VALUE_COLUMNS


@dataclass(frozen=True)
class _TargetInput:
    """The target columns the features read, as plain arrays."""

    player: IntArray
    day: IntArray
    season: npt.NDArray[np.object_]
    opponent: IntArray
    context: dict[str, FloatArray]  # CONTEXT_COLUMNS
    is_home: FloatArray  # 1.0 / 0.0 / NaN
    phase: npt.NDArray[np.object_]
    injury_status: npt.NDArray[np.object_]
    line: FloatArray
    opening_line: FloatArray


def _history_input(history: pd.DataFrame) -> _HistoryInput:
    return _HistoryInput(
        player=_ints(history["player_id"], "history.player_id"),
        day=_days(history["game_date"], "history.game_date"),
        season=_strings(history["season"]),
        opponent=_ints(history["opponent_team_id"], "history.opponent_team_id"),
        values={name: _floats(history[name]) for name in _VALUE_COLUMNS},
    )


def _target_input(targets: pd.DataFrame) -> _TargetInput:
    return _TargetInput(
        player=_ints(targets["player_id"], "targets.player_id"),
        day=_days(targets["game_date"], "targets.game_date"),
        season=_strings(targets["season"]),
        opponent=_ints(targets["opponent_team_id"], "targets.opponent_team_id"),
        context={name: _floats(targets[name]) for name in CONTEXT_COLUMNS},
        is_home=_flags(targets["is_home"]),
        phase=_strings(targets["phase"]),
        injury_status=_strings(targets["injury_status"]),
        line=_floats(targets["line"]),
        opening_line=_floats(targets["opening_line"]),
    )


def _encode(history: _HistoryInput, targets: _TargetInput) -> tuple[_History, _Targets]:
    h_player = history.player
    t_player = targets.player
    h_day = history.day
    n = len(h_player)

    def codes(h_values: npt.NDArray[Any], t_values: npt.NDArray[Any]) -> tuple[IntArray, IntArray]:
        both = pd.factorize(np.concatenate([h_values, t_values]))[0].astype(np.int64)
        return both[:n], both[n:]

    h_pc, t_pc = codes(h_player, t_player)
    h_sc, t_sc = codes(history.season, targets.season)
    h_oc, t_oc = codes(history.opponent, targets.opponent)
    order = np.lexsort((h_day, h_pc))

    def sorted_padded(values: npt.NDArray[Any], filler: Any) -> npt.NDArray[Any]:
        return np.concatenate([values[order], np.array([filler], dtype=values.dtype)])

    values = {name: sorted_padded(history.values[name], np.nan) for name in _VALUE_COLUMNS}
    values["usage"] = values["fga"] + 0.44 * values["fta"] + values["tov"]
    sorted_history = _History(
        n=n,
        player=sorted_padded(h_pc, -1),
        day=sorted_padded(h_day, 0),
        season=sorted_padded(h_sc, -1),
        opponent=sorted_padded(h_oc, -1),
        values=values,
    )
    return sorted_history, _Targets(t_pc, targets.day, t_sc, t_oc)


def _locate_windows(h: _History, t: _Targets) -> _Windows:
    """Searches on key = player * span + day (sorted like the history) find every window at once."""
    days = np.concatenate([h.day[: h.n], t.day])
    lowest = int(days.min()) - HISTORY_LOOKBACK_DAYS - 8
    span = int(days.max()) + 2 - lowest
    if (int(max(h.player.max(), t.player.max())) + 2) * span >= 2**62:
        raise ValueError("history too large to index")
    h_key = h.player[: h.n] * span + (h.day[: h.n] - lowest)
    t_base = t.player * span - lowest

    def position(day_offset: int) -> IntArray:
        found: IntArray = np.searchsorted(h_key, t_base + t.day - day_offset, side="left")
        return found

    stop = position(0)  # one past the last game before D
    first = np.maximum(position(HISTORY_LOOKBACK_DAYS), stop - HISTORY_MAX_GAMES)
    first = np.minimum(first, stop)
    week_first = np.clip(position(7), first, stop)
    return _Windows(first=first, stop=stop, week_first=week_first)


def _last_games(h: _History, w: _Windows) -> dict[str, FloatArray]:
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
    avg_5 = _ratio(total("points", 5), n5)
    avg_10 = _ratio(points_10, n10)

    deviations = np.where(in_window, h.values["points"][gather] - avg_10[:, None], 0.0)
    std_10 = np.where(n10 >= 2, np.sqrt(_ratio((deviations**2).sum(axis=1), n10 - 1)), np.nan)

    # Least-squares slope against game number: x = 0 for the latest game, -1 the one before, ...
    x_dev = -lag[None, :5] + (n5[:, None] - 1) / 2.0
    y_dev = np.where(in_window[:, :5], recent("points", 5) - avg_5[:, None], 0.0)
    slope = _ratio((x_dev * y_dev).sum(axis=1), n5 * (n5**2 - 1) / 12.0)

    return {
        "points_avg_last_5": avg_5,
        "points_avg_last_10": avg_10,
        "points_std_last_10": std_10,
        "recent_trend": np.where(n5 >= 3, slope, np.nan),
        "minutes_change": _ratio(minutes_3, n3) - _ratio(minutes_10, n10),
        "minutes_avg_last_10": _ratio(minutes_10, n10),
        "ppm_avg_last_10": _ratio(points_10, minutes_10),
        "pct_paint": _ratio(total("points_paint", 10), points_10),
        "pct_mid_range": _ratio(total("points_mid_range", 10), points_10),
        "pct_three": _ratio(3.0 * total("fg3m", 10), points_10),
        "pct_free_throw": _ratio(total("ftm", 10), points_10),
        "usage_per_minute_last_3": _ratio(total("usage", 3), minutes_3),
    }


def _last_week(h: _History, w: _Windows) -> dict[str, FloatArray]:
    return {
        "games_in_last_7_days": (w.stop - w.week_first).astype(np.float64),
        "fatigue_score": _slice_sums(h.values["minutes"], w.week_first, w.stop) / FATIGUE_MINUTES,
    }


_LAGS = np.arange(HISTORY_MAX_GAMES)
_DECAY = {half_life: 0.5 ** (_LAGS / half_life) for half_life in (5.0, 10.0, 20.0)}


def _long_memory(h: _History, t: _Targets, w: _Windows) -> dict[str, FloatArray]:
    """`HISTORY_FEATURES`, a chunk of targets at a time (training on every log stays within a few
    hundred MB)."""
    n = len(t.day)
    out = {name: np.empty(n) for name in HISTORY_FEATURES}
    for lo in range(0, n, _CHUNK):
        hi = min(lo + _CHUNK, n)
        chunk = _long_memory_chunk(h, t.day[lo:hi], w.n_games[lo:hi], w.last[lo:hi])
        for name, values in chunk.items():
            out[name][lo:hi] = values
    return out


def _long_memory_chunk(
    h: _History, day: IntArray, n_games: IntArray, last: IntArray
) -> dict[str, FloatArray]:
    """(targets x HISTORY_MAX_GAMES) gathers of each window, latest game first."""
    in_window = _LAGS[None, :] < n_games[:, None]
    gather = np.where(in_window, last[:, None] - _LAGS[None, :], 0)
    points = np.where(in_window, h.values["points"][gather], 0.0)
    minutes = np.where(in_window, h.values["minutes"][gather], 0.0)

    def ewma(values: FloatArray, half_life: float) -> FloatArray:
        weights = np.where(in_window, _DECAY[half_life][None, :], 0.0)
        return _ratio((weights * values).sum(axis=1), weights.sum(axis=1))

    def mean_last_10(name: str) -> FloatArray:
        recent = np.where(in_window[:, :10], h.values[name][gather[:, :10]], 0.0)
        return _ratio(recent.sum(axis=1), np.minimum(n_games, 10))

    has_games = n_games > 0
    return {
        "points_ewma_5": ewma(points, 5.0),
        "points_ewma_10": ewma(points, 10.0),
        "points_ewma_20": ewma(points, 20.0),
        "minutes_ewma_10": ewma(minutes, 10.0),
        "points_avg_window": _ratio(points.sum(axis=1), n_games),
        "minutes_avg_window": _ratio(minutes.sum(axis=1), n_games),
        "fga_avg_last_10": mean_last_10("fga"),
        "fta_avg_last_10": mean_last_10("fta"),
        "fg3a_avg_last_10": mean_last_10("fg3a"),
        "minutes_last_game": np.where(has_games, h.values["minutes"][last], np.nan),
        "days_since_last_game": np.where(has_games, (day - h.day[last]).astype(np.float64), np.nan),
    }


def _season(h: _History, t: _Targets, w: _Windows) -> dict[str, FloatArray]:
    """The run of window games in the target's season that ends with the last game before D."""
    idx = np.arange(h.n + 1)
    run_starts = np.ones(h.n + 1, dtype=bool)
    run_starts[1:] = (h.player[1:] != h.player[:-1]) | (h.season[1:] != h.season[:-1])
    run_first = np.maximum.accumulate(np.where(run_starts, idx, 0))
    same_season = (w.n_games > 0) & (h.season[w.last] == t.season)
    first = np.where(same_season, np.maximum(run_first[w.last], w.first), w.stop)
    usage = _slice_sums(h.values["usage"], first, w.stop)
    return {
        "points_avg_season": _ratio(_slice_sums(h.values["points"], first, w.stop), w.stop - first),
        "usage_per_minute_season": _ratio(usage, _slice_sums(h.values["minutes"], first, w.stop)),
    }


def _against_opponent(h: _History, t: _Targets, w: _Windows) -> dict[str, FloatArray]:
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
    points = _slice_sums(h.values["points"][:n][by_opp], lo, hi)
    return {"avg_points_vs_opponent": _ratio(points, games), "games_vs_opponent": games}


def _game_context(targets: _TargetInput) -> dict[str, FloatArray]:
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
    columns among `HISTORY_DERIVED_FEATURES` (default: V8). See the module docstring for the
    definitions.
    """
    wanted = _names(names)
    _require(history, HISTORY_COLUMNS, "history")
    _require(targets, TARGET_COLUMNS, "targets")
    if targets.empty:
        return pd.DataFrame(np.zeros((0, len(wanted))), index=targets.index, columns=wanted)
    matrix = _feature_matrix(_history_input(history), _target_input(targets), wanted)
    return pd.DataFrame(matrix, index=targets.index, columns=wanted)


def _feature_matrix(history: _HistoryInput, targets: _TargetInput, names: Sequence[str]) -> FloatArray:
    """The features themselves (targets x names), whichever way the inputs arrived."""
    h, t = _encode(history, targets)
    windows = _locate_windows(h, t)
    columns = {
        **_last_games(h, windows),
        **_last_week(h, windows),
        **_season(h, t, windows),
        **_against_opponent(h, t, windows),
        **_game_context(targets),
    }
    if any(name in HISTORY_FEATURES for name in names):
        columns.update(_long_memory(h, t, windows))
    columns["usage_spike_score"] = (
        _ratio(columns["usage_per_minute_last_3"], columns["usage_per_minute_season"]) - 1.0
    )
    columns["shot_zone_mismatch_score"] = (
        columns["pct_paint"] * columns["opponent_paint_share_allowed"]
        + columns["pct_mid_range"] * columns["opponent_mid_share_allowed"]
        + columns["pct_three"] * columns["opponent_three_share_allowed"]
    )
    matrix: FloatArray = np.column_stack([columns[name] for name in names]).astype(np.float64, copy=False)
    return matrix


def validate_feature_frame(frame: pd.DataFrame, expected: Sequence[str] = V8_FEATURES) -> None:
    """Refuse a feature frame a model must not see: wrong columns or order, non-float, inf."""
    wanted = tuple(expected)
    names = tuple(str(c) for c in frame.columns)
    if names != wanted:
        missing = [c for c in wanted if c not in names]
        extra = [c for c in names if c not in wanted]
        detail = f"missing {missing}, unexpected {extra}" if missing or extra else "columns out of order"
        raise PoisonMessage("invalid_features", detail)
    non_float = [c for c, dtype in frame.dtypes.items() if dtype != np.float64]
    if non_float:
        raise PoisonMessage("invalid_features", f"non-float64 columns {non_float}")
    values = frame.to_numpy(dtype=np.float64)
    if np.isinf(values).any():
        bad = [c for c, col in zip(names, values.T, strict=True) if np.isinf(col).any()]
        raise PoisonMessage("invalid_features", f"infinite values in {bad}")


# -- the worker's entry point -----------------------------------------------------------------------


def _date_column(values: Sequence[date]) -> npt.NDArray[np.datetime64]:
    return np.array(values, dtype="datetime64[D]").astype("datetime64[s]")


def _or_nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


def frames_from_request(request: PredictionRequest) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history, one-row targets) frames for `compute_features`, from a message payload."""
    table = request.history
    n = len(table)
    history = pd.DataFrame(
        {
            "player_id": np.full(n, request.player_id, dtype=np.int64),
            "game_date": _date_column(table.game_date),
            "season": np.array(table.season, dtype=object),
            "opponent_team_id": np.array(table.opponent_team_id, dtype=np.int64),
            "is_home": np.array(table.is_home, dtype=bool),
            "minutes": np.array(table.minutes, dtype=np.float64),
            "points": np.array(table.points, dtype=np.float64),
            # dtype=float turns None into NaN.
            **{name: np.array(getattr(table, name), dtype=np.float64) for name in _NULLABLE_STATS},
        },
        columns=list(HISTORY_COLUMNS),
    )
    game = request.game
    line = request.line
    target: dict[str, Any] = {
        "player_id": np.array([request.player_id], dtype=np.int64),
        "game_id": np.array([game.game_id], dtype=object),
        "game_date": _date_column([game.game_date]),
        "season": np.array([game.season], dtype=object),
        "phase": np.array([game.phase], dtype=object),
        "is_home": np.array([game.is_home], dtype=bool),
        "opponent_team_id": np.array([game.opponent_team_id], dtype=np.int64),
        **{name: np.array([_or_nan(getattr(game, name))], dtype=np.float64) for name in CONTEXT_COLUMNS},
        "injury_status": np.array([request.injury_status], dtype=object),
        "line": np.array([line.line if line else np.nan], dtype=np.float64),
        "opening_line": np.array([_or_nan(line.opening_line) if line else np.nan], dtype=np.float64),
    }
    return history, pd.DataFrame(target, columns=list(TARGET_COLUMNS))


def features_from_request(request: PredictionRequest, names: Sequence[str] = V8_FEATURES) -> pd.DataFrame:
    """The feature row of one message: ``compute_features(*frames_from_request(request), names)``.

    Same inputs, same computation, same bits (a test holds them equal), without building the two
    DataFrames: on one player's ~80 games pandas' per-column overhead is most of the cost (about
    2 ms against 0.3 ms), and the worker pays it once per message.
    """
    table = request.history
    n = len(table)
    game = request.game
    line = request.line
    history = _HistoryInput(
        player=np.full(n, request.player_id, dtype=np.int64),
        day=np.array(table.game_date, dtype="datetime64[D]").astype(np.int64),
        season=np.array(table.season, dtype=object),
        opponent=np.array(table.opponent_team_id, dtype=np.int64),
        # dtype=float turns None into NaN.
        values={name: np.array(getattr(table, name), dtype=np.float64) for name in _VALUE_COLUMNS},
    )
    targets = _TargetInput(
        player=np.array([request.player_id], dtype=np.int64),
        day=np.array([game.game_date], dtype="datetime64[D]").astype(np.int64),
        season=np.array([game.season], dtype=object),
        opponent=np.array([game.opponent_team_id], dtype=np.int64),
        context={
            name: np.array([_or_nan(getattr(game, name))], dtype=np.float64) for name in CONTEXT_COLUMNS
        },
        is_home=np.array([1.0 if game.is_home else 0.0]),
        phase=np.array([game.phase], dtype=object),
        injury_status=np.array([request.injury_status], dtype=object),
        line=np.array([line.line if line else np.nan], dtype=np.float64),
        opening_line=np.array([_or_nan(line.opening_line) if line else np.nan], dtype=np.float64),
    )
    wanted = _names(names)
    return pd.DataFrame(_feature_matrix(history, targets, wanted), columns=wanted)
