"""The history window every history feature is computed over, and the feature inputs.

A target at date D sees the player's last `HISTORY_MAX_GAMES` games within `HISTORY_LOOKBACK_DAYS`
days before D, strictly before D: the coordinator fetches exactly that window (`history_params`)
and training, which passes every log it has, gets it cut to the same window here. Inputs arrive as
DataFrames (training) or as a message payload (serving) and both become the same plain arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from shared.contracts import HistoryTable, PredictionRequest, TeamContext

# A different window on either side would be a training/serving skew.
HISTORY_MAX_GAMES = 82
HISTORY_LOOKBACK_DAYS = 550

HISTORY_COLUMNS: tuple[str, ...] = ("player_id", *HistoryTable.model_fields)

# The game's season-to-date team and opponent aggregates (a new one is a field of `TeamContext`).
CONTEXT_COLUMNS: tuple[str, ...] = tuple(TeamContext.model_fields)

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

# The numbers of each history game the features may read (a new one is a field of `HistoryTable`).
VALUE_COLUMNS: tuple[str, ...] = tuple(
    name
    for name in HistoryTable.model_fields
    if name not in {"game_date", "season", "opponent_team_id", "is_home"}
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ObjectArray = npt.NDArray[np.object_]


def history_params(game_date: date, player_ids: Iterable[int]) -> dict[str, Any]:
    """Parameters of ``history.sql`` that fetch exactly the window the features are defined over."""
    return {
        "game_date": game_date,
        "history_start": game_date - timedelta(days=HISTORY_LOOKBACK_DAYS),
        "player_ids": sorted({int(p) for p in player_ids}),
        "max_games": HISTORY_MAX_GAMES,
    }


def ratio(num: FloatArray, den: FloatArray | IntArray) -> FloatArray:
    """num / den, NaN where the denominator is 0 or either side is missing (never inf)."""
    den_f = np.asarray(den, dtype=np.float64)
    out = np.full(num.shape, np.nan)
    ok = np.isfinite(den_f) & (den_f != 0)
    np.divide(num, den_f, out=out, where=ok)
    return out


def slice_sums(values: FloatArray, start: IntArray, stop: IntArray) -> FloatArray:
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


# -- the inputs, in their one normalised form --------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    """Who, when and against whom, one element per row (days count from the epoch)."""

    player: IntArray
    day: IntArray
    season: npt.NDArray[Any]
    opponent: IntArray


@dataclass(frozen=True)
class HistoryInput(Keys):
    values: dict[str, FloatArray]  # VALUE_COLUMNS


@dataclass(frozen=True)
class TargetInput(Keys):
    context: dict[str, FloatArray]  # CONTEXT_COLUMNS
    is_home: FloatArray  # 1.0 / 0.0 / NaN
    phase: ObjectArray
    injury_status: ObjectArray
    line: FloatArray
    opening_line: FloatArray


def require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
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


def _strings(series: pd.Series) -> ObjectArray:
    values: ObjectArray = series.to_numpy(dtype=object)
    missing = pd.isna(values)
    if missing.any():
        values = values.copy()
        values[missing] = None
    return values


def _keys(frame: pd.DataFrame, what: str) -> dict[str, Any]:
    """The `Keys` fields of a history or targets frame."""
    return {
        "player": _ints(frame["player_id"], f"{what}.player_id"),
        "day": _days(frame["game_date"], f"{what}.game_date"),
        "season": _strings(frame["season"]),
        "opponent": _ints(frame["opponent_team_id"], f"{what}.opponent_team_id"),
    }


def history_input(history: pd.DataFrame) -> HistoryInput:
    return HistoryInput(
        **_keys(history, "history"), values={name: _floats(history[name]) for name in VALUE_COLUMNS}
    )


def target_input(targets: pd.DataFrame) -> TargetInput:
    return TargetInput(
        **_keys(targets, "targets"),
        context={name: _floats(targets[name]) for name in CONTEXT_COLUMNS},
        is_home=_flags(targets["is_home"]),
        phase=_strings(targets["phase"]),
        injury_status=_strings(targets["injury_status"]),
        line=_floats(targets["line"]),
        opening_line=_floats(targets["opening_line"]),
    )


def _or_nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


def _epoch_days(values: Sequence[date]) -> IntArray:
    return np.array(values, dtype="datetime64[D]").astype(np.int64)


def inputs_from_request(request: PredictionRequest) -> tuple[HistoryInput, TargetInput]:
    """The inputs of one message, straight from the payload (no DataFrames: on one player's ~80
    games pandas' per-column overhead would be most of the worker's cost)."""
    table = request.history
    game = request.game
    line = request.line
    history = HistoryInput(
        player=np.full(len(table), request.player_id, dtype=np.int64),
        day=_epoch_days(table.game_date),
        season=np.array(table.season, dtype=object),
        opponent=np.array(table.opponent_team_id, dtype=np.int64),
        # dtype=float turns None into NaN.
        values={name: np.array(getattr(table, name), dtype=np.float64) for name in VALUE_COLUMNS},
    )
    targets = TargetInput(
        player=np.array([request.player_id], dtype=np.int64),
        day=_epoch_days([game.game_date]),
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
    return history, targets


def frames_from_request(request: PredictionRequest) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history, one-row targets) frames of a message, as training would pass them."""
    history, targets = inputs_from_request(request)
    dates = history.day.astype("datetime64[D]").astype("datetime64[s]")
    history_frame = pd.DataFrame(
        {
            "player_id": history.player,
            "game_date": dates,
            "season": history.season,
            "opponent_team_id": history.opponent,
            "is_home": np.array(request.history.is_home, dtype=bool),
            **history.values,
        },
        columns=list(HISTORY_COLUMNS),
    )
    game = request.game
    target_frame = pd.DataFrame(
        {
            "player_id": targets.player,
            "game_id": np.array([game.game_id], dtype=object),
            "game_date": targets.day.astype("datetime64[D]").astype("datetime64[s]"),
            "season": targets.season,
            "phase": targets.phase,
            "is_home": np.array([game.is_home], dtype=bool),
            "opponent_team_id": targets.opponent,
            **targets.context,
            "injury_status": targets.injury_status,
            "line": targets.line,
            "opening_line": targets.opening_line,
        },
        columns=list(TARGET_COLUMNS),
    )
    return history_frame, target_frame


# -- the windows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class History(Keys):
    """History sorted by (player, date), keys as integer codes shared with the targets.

    Every per-row array carries one trailing filler element, so that gathering position 0 is safe
    even for an empty history; ``n`` is the number of real rows.
    """

    n: int
    values: dict[str, FloatArray]


@dataclass(frozen=True)
class Windows:
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


def encode(history: HistoryInput, targets: TargetInput) -> tuple[History, Keys]:
    """The history sorted and padded, and the targets' keys coded like it."""
    n = len(history.player)

    def codes(h_values: npt.NDArray[Any], t_values: npt.NDArray[Any]) -> tuple[IntArray, IntArray]:
        both = pd.factorize(np.concatenate([h_values, t_values]))[0].astype(np.int64)
        return both[:n], both[n:]

    h_pc, t_pc = codes(history.player, targets.player)
    h_sc, t_sc = codes(history.season, targets.season)
    h_oc, t_oc = codes(history.opponent, targets.opponent)
    order = np.lexsort((history.day, h_pc))

    def sorted_padded(values: npt.NDArray[Any], filler: Any) -> npt.NDArray[Any]:
        return np.concatenate([values[order], np.array([filler], dtype=values.dtype)])

    values = {name: sorted_padded(history.values[name], np.nan) for name in VALUE_COLUMNS}
    values["usage"] = values["fga"] + 0.44 * values["fta"] + values["tov"]
    sorted_history = History(
        n=n,
        player=sorted_padded(h_pc, -1),
        day=sorted_padded(history.day, 0),
        season=sorted_padded(h_sc, -1),
        opponent=sorted_padded(h_oc, -1),
        values=values,
    )
    return sorted_history, Keys(t_pc, targets.day, t_sc, t_oc)


def locate_windows(h: History, t: Keys) -> Windows:
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
    return Windows(first=first, stop=stop, week_first=week_first)
