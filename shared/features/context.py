"""Context features beyond V8: travel, the schedule ahead, team pace, age (feature set "v8ctx").

Pure functions, no I/O, no clock. The coordinator computes them from slate.sql for one night and
carries the values to the worker in `PredictionRequest.context`; training computes them from the
same slate.sql over its window with the same `context_features` (the parity test compares the two).
Every input is as of before the game; the schedule ahead is published months early (results unused).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from shared.errors import PoisonMessage
from shared.features.window import FloatArray

# D = the game date; a *trip* goes from one game's arena to the team's next game's.
CONTEXT_FEATURES: tuple[str, ...] = (
    # great-circle miles (haversine) from the previous game's arena to this one's; NaN when the team
    # played no game in the 21 days before D (season opener, long break)
    "travel_miles",
    # UTC offset of this arena minus the previous arena's, in hours, both on D: negative westward
    # (New York -> Los Angeles is -3); NaN as travel_miles
    "time_zone_changes",
    "consecutive_road_games",  # 0 at home; away, 1 + the road games immediately before it
    # sum of the miles / of |offset change| of the trips arriving at games dated D-13 ... D (tonight's
    # included)
    "miles_traveled_last_14_days",
    "time_zones_crossed_last_14_days",
    "pace_differential",  # team_pace - opponent_pace (season to date)
    "opponent_pace_last_10",  # the opponent's mean pace over its last 10 games of the season
    "opponent_ft_rate_allowed",  # the opponent's season-to-date FTA / FGA allowed
    # days from D to the team's next game (1 = plays tomorrow); NaN without one within 14 days
    "next_game_days_rest",
    "games_in_next_7_days",  # the team's games dated D+1 ... D+7
    # the next opponent's season-to-date win rate before D (not before its own game with this team:
    # results between D and then are in the future)
    "next_opponent_win_pct",
    # 1 if the next game tips off 8:00-10:59 pm Eastern (national-TV evening), else 0; NaN without a
    # next game or its tip-off
    "next_game_is_primetime",
    "player_age",  # years (days / 365.25) from the birth date to D; NaN when it is unknown
)

# One row per player and game. team_games: the team's games dated D-21 ... D+14 (this one included),
# each a mapping with game_date, tipoff_utc, is_home, arena_lat, arena_lon and the IANA time_zone.
CONTEXT_INPUT_COLUMNS: tuple[str, ...] = (
    "game_date",
    "team_id",
    "team_pace",
    "opponent_pace",
    "opponent_pace_last_10",
    "opponent_ft_rate_allowed",
    "next_opponent_win_pct",
    "birth_date",
    "team_games",
)

EARTH_RADIUS_MILES = 3958.8
LOOKBACK_DAYS = 21
LOOKAHEAD_DAYS = 14
TRAVEL_WINDOW_DAYS = 14
NEXT_WEEK_DAYS = 7
PRIMETIME_ZONE = "America/New_York"
PRIMETIME_START = time(20, 0)
PRIMETIME_END = time(23, 0)


def haversine_miles(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> FloatArray:
    """Great-circle distance in miles between points given in degrees."""
    p1, p2 = np.radians(np.asarray(lat1, dtype=np.float64)), np.radians(np.asarray(lat2, dtype=np.float64))
    dphi = p2 - p1
    dlam = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dphi / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2.0) ** 2
    out: FloatArray = 2.0 * EARTH_RADIUS_MILES * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return out


@cache
def utc_offset_hours(zone: str, day: date) -> float:
    """The zone's UTC offset at noon local time on ``day`` (after any 2 am DST switch), in hours."""
    offset = datetime.combine(day, time(12, 0), tzinfo=ZoneInfo(zone)).utcoffset()
    return math.nan if offset is None else offset.total_seconds() / 3600.0


def _offset(zone: Any, day: date) -> float:
    """`utc_offset_hours`, NaN for an arena without a (known) time zone."""
    if _missing(zone) or not str(zone):
        return math.nan
    try:
        return utc_offset_hours(str(zone), day)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return math.nan


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    stamp = pd.Timestamp(value)
    return date(stamp.year, stamp.month, stamp.day)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _number(value: Any) -> float:
    return math.nan if _missing(value) else float(value)


def _is_primetime(tipoff: Any) -> float:
    if _missing(tipoff):
        return math.nan
    stamp = pd.Timestamp(tipoff)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    local = stamp.tz_convert(PRIMETIME_ZONE).time()
    return 1.0 if PRIMETIME_START <= local < PRIMETIME_END else 0.0


def _games(value: Any) -> list[Mapping[str, Any]]:
    """The team_games cell as a list of mappings sorted by date (DuckDB: list; BigQuery: ndarray)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    games = [g for g in value if g is not None]
    return sorted(games, key=lambda g: _day(g["game_date"]))


def _schedule_features(day: date, games: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Travel and forward-schedule features from the team's games around ``day``."""
    days = [_day(g["game_date"]) for g in games]
    current = next((i for i, d in enumerate(days) if d == day), None)
    out = {
        "travel_miles": math.nan,
        "time_zone_changes": math.nan,
        "consecutive_road_games": math.nan,
        "miles_traveled_last_14_days": math.nan,
        "time_zones_crossed_last_14_days": math.nan,
        "next_game_days_rest": math.nan,
        "games_in_next_7_days": 0.0,
        "next_game_is_primetime": math.nan,
    }
    later = [i for i, d in enumerate(days) if day < d <= day + timedelta(days=LOOKAHEAD_DAYS)]
    if later:
        following = later[0]
        out["next_game_days_rest"] = float((days[following] - day).days)
        out["next_game_is_primetime"] = _is_primetime(games[following].get("tipoff_utc"))
    out["games_in_next_7_days"] = float(
        sum(1 for d in days if day < d <= day + timedelta(days=NEXT_WEEK_DAYS))
    )
    if current is None:
        return out

    road = 0
    for i in range(current, -1, -1):
        if bool(games[i]["is_home"]) or days[i] < day - timedelta(days=LOOKBACK_DAYS):
            break
        road += 1
    out["consecutive_road_games"] = float(road)

    earlier = [i for i in range(current) if days[i] >= day - timedelta(days=LOOKBACK_DAYS)]
    if not earlier:
        return out
    # Trips between consecutive games in the lookback, arrival dated in the travel window.
    chain = [*earlier, current]
    origin = np.array([chain[k - 1] for k in range(1, len(chain))])
    arrival = np.array(chain[1:])
    lat = np.array([_number(g["arena_lat"]) for g in games])
    lon = np.array([_number(g["arena_lon"]) for g in games])
    miles = haversine_miles(lat[origin], lon[origin], lat[arrival], lon[arrival])
    shifts = np.array(
        [
            _offset(games[b].get("time_zone"), days[b]) - _offset(games[a].get("time_zone"), days[b])
            for a, b in zip(origin, arrival, strict=True)
        ]
    )
    recent = np.array([days[b] > day - timedelta(days=TRAVEL_WINDOW_DAYS) for b in arrival])
    out["travel_miles"] = float(miles[-1])
    out["time_zone_changes"] = float(shifts[-1])
    out["miles_traveled_last_14_days"] = float(miles[recent].sum())
    out["time_zones_crossed_last_14_days"] = float(np.abs(shifts[recent]).sum())
    return out


def context_features(frame: pd.DataFrame) -> pd.DataFrame:
    """One row of `CONTEXT_FEATURES` (float64, NaN where unknown) per row of ``frame``.

    ``frame`` has `CONTEXT_INPUT_COLUMNS` (one row per player and game, as slate.sql returns them).
    """
    missing = [c for c in CONTEXT_INPUT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"context frame lacks columns {missing}")
    n = len(frame)
    out = {name: np.full(n, np.nan) for name in CONTEXT_FEATURES}
    # Every player of a team in a game shares the team's schedule: compute it once per (team, date).
    cache: dict[tuple[int, date], dict[str, float]] = {}
    rows = zip(frame["team_id"], frame["game_date"], frame["team_games"], strict=True)
    for i, (team_id, day_value, games_value) in enumerate(rows):
        day = _day(day_value)
        key = (int(team_id), day)
        values = cache.get(key)
        if values is None:
            values = cache[key] = _schedule_features(day, _games(games_value))
        for name, value in values.items():
            out[name][i] = value

    def floats(column: str) -> FloatArray:
        return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    out["pace_differential"] = floats("team_pace") - floats("opponent_pace")
    out["opponent_pace_last_10"] = floats("opponent_pace_last_10")
    out["opponent_ft_rate_allowed"] = floats("opponent_ft_rate_allowed")
    out["next_opponent_win_pct"] = floats("next_opponent_win_pct")
    game_day = pd.to_datetime(frame["game_date"]).to_numpy().astype("datetime64[D]")
    birth = pd.to_datetime(frame["birth_date"]).to_numpy().astype("datetime64[D]")
    with np.errstate(invalid="ignore"):
        age = (game_day - birth).astype("timedelta64[D]").astype(np.float64) / 365.25
    out["player_age"] = np.where(np.isnat(birth), np.nan, age)
    return pd.DataFrame(out, index=frame.index, columns=list(CONTEXT_FEATURES)).astype(np.float64)


def context_payload(row: pd.Series | Mapping[str, Any]) -> dict[str, float | None]:
    """One row of `context_features` as the JSON-safe dict a `PredictionRequest` carries."""
    return {name: None if _missing(row[name]) else float(row[name]) for name in CONTEXT_FEATURES}


def context_frame(contexts: Iterable[Mapping[str, Any]], index: pd.Index | None = None) -> pd.DataFrame:
    """Payload dicts back into a `CONTEXT_FEATURES` frame; a dict lacking a feature is refused."""
    rows = []
    for context in contexts:
        missing = [name for name in CONTEXT_FEATURES if name not in context]
        if missing:
            raise PoisonMessage("invalid_features", f"context lacks {missing}")
        rows.append([_number(context[name]) for name in CONTEXT_FEATURES])
    matrix = np.array(rows, dtype=np.float64).reshape(len(rows), len(CONTEXT_FEATURES))
    return pd.DataFrame(matrix, index=index, columns=list(CONTEXT_FEATURES))
