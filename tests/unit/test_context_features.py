"""Context features on hand-checked cases: travel and its direction, road trips, the schedule ahead,
team pace, age; and their round trip through the payload."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shared.errors import PoisonMessage
from shared.features.context import (
    CONTEXT_FEATURES,
    context_features,
    context_frame,
    context_payload,
    haversine_miles,
)
from shared.features.sets import V8CTX_FEATURES

# Arenas as nba_props.nba_teams has them.
MSG = (40.7505, -73.9934, "America/New_York")  # New York
CRYPTO = (34.0430, -118.2673, "America/Los_Angeles")  # Los Angeles
FOOTPRINT = (33.4457, -112.0712, "America/Phoenix")  # Phoenix: no daylight saving
BALL = (39.7487, -105.0077, "America/Denver")  # Denver
D = date(2024, 1, 15)


def game(
    day: date, arena: tuple[float, float, str], *, home: bool, tipoff: datetime | None = None
) -> dict[str, Any]:
    lat, lon, zone = arena
    return {
        "game_date": day,
        "tipoff_utc": tipoff,
        "is_home": home,
        "arena_lat": lat,
        "arena_lon": lon,
        "time_zone": zone,
    }


def features(games: list[dict[str, Any]], day: date = D, **columns: Any) -> pd.Series:
    row = {
        "game_date": pd.Timestamp(day),
        "team_id": 1,
        "team_pace": 100.0,
        "opponent_pace": 98.5,
        "opponent_pace_last_10": 97.25,
        "opponent_ft_rate_allowed": 0.25,
        "next_opponent_win_pct": 0.6,
        "birth_date": pd.NaT,
        "team_games": games,
        **columns,
    }
    return context_features(pd.DataFrame([row])).iloc[0]


def test_new_york_to_los_angeles_is_about_2450_miles_and_three_zones_west() -> None:
    out = features([game(D - timedelta(days=2), MSG, home=False), game(D, CRYPTO, home=False)])
    assert out["travel_miles"] == pytest.approx(2448, abs=10)
    assert out["time_zone_changes"] == -3.0


def test_los_angeles_to_new_york_is_three_zones_east() -> None:
    out = features([game(D - timedelta(days=1), CRYPTO, home=True), game(D, MSG, home=False)])
    assert out["time_zone_changes"] == 3.0
    assert out["travel_miles"] == pytest.approx(haversine_miles(*CRYPTO[:2], *MSG[:2]))


def test_phoenix_is_an_hour_ahead_of_los_angeles_in_winter_and_level_in_summer_time() -> None:
    winter = features([game(D - timedelta(days=1), CRYPTO, home=True), game(D, FOOTPRINT, home=False)])
    march = date(2024, 3, 20)
    spring = features(
        [game(march - timedelta(days=1), CRYPTO, home=True), game(march, FOOTPRINT, home=False)], day=march
    )
    assert winter["time_zone_changes"] == 1.0
    assert spring["time_zone_changes"] == 0.0
    # Denver and Phoenix share a clock in winter only.
    summer_denver = features(
        [game(march - timedelta(days=2), BALL, home=True), game(march, FOOTPRINT, home=False)], day=march
    )
    assert summer_denver["time_zone_changes"] == -1.0


def test_a_home_stand_travels_no_miles_and_counts_no_road_games() -> None:
    out = features([game(D - timedelta(days=2), MSG, home=True), game(D, MSG, home=True)])
    assert out["travel_miles"] == 0.0 and out["time_zone_changes"] == 0.0
    assert out["consecutive_road_games"] == 0.0


def test_a_road_trip_counts_its_games_and_sums_the_trips_of_the_last_14_days() -> None:
    trip = [
        game(D - timedelta(days=16), MSG, home=True),  # before the window
        game(D - timedelta(days=14), CRYPTO, home=False),  # trip arrives 14 days before: outside
        game(D - timedelta(days=13), MSG, home=True),  # arrives 13 days before: inside
        game(D - timedelta(days=4), FOOTPRINT, home=False),
        game(D - timedelta(days=2), CRYPTO, home=False),
        game(D, BALL, home=False),
    ]
    out = features(trip)
    assert out["consecutive_road_games"] == 3.0
    legs = [(CRYPTO, MSG), (MSG, FOOTPRINT), (FOOTPRINT, CRYPTO), (CRYPTO, BALL)]
    expected = sum(float(haversine_miles(*a[:2], *b[:2])) for a, b in legs)
    assert out["miles_traveled_last_14_days"] == pytest.approx(expected)
    # +3 (LA→NY), -2 (NY→PHX in January: Mountain standard), -1 (PHX→LA), +1 (LA→DEN).
    assert out["time_zones_crossed_last_14_days"] == 7.0
    assert out["travel_miles"] == pytest.approx(float(haversine_miles(*CRYPTO[:2], *BALL[:2])))


def test_without_a_game_in_the_previous_three_weeks_travel_is_unknown() -> None:
    out = features([game(D - timedelta(days=40), MSG, home=True), game(D, CRYPTO, home=False)])
    assert math.isnan(out["travel_miles"]) and math.isnan(out["time_zone_changes"])
    assert math.isnan(out["miles_traveled_last_14_days"])
    assert out["consecutive_road_games"] == 1.0


def test_the_schedule_ahead_gives_rest_density_and_primetime() -> None:
    eight_pm_eastern = datetime(2024, 1, 17, 1, 0, tzinfo=UTC)
    seven_pm_eastern = datetime(2024, 1, 19, 0, 0, tzinfo=UTC)
    games = [
        game(D, MSG, home=True),
        game(D + timedelta(days=1), MSG, home=True, tipoff=eight_pm_eastern),
        game(D + timedelta(days=3), MSG, home=True, tipoff=seven_pm_eastern),
        game(D + timedelta(days=7), MSG, home=True),
        game(D + timedelta(days=8), MSG, home=True),
    ]
    out = features(games)
    assert out["next_game_days_rest"] == 1.0
    assert out["games_in_next_7_days"] == 3.0
    assert out["next_game_is_primetime"] == 1.0
    later = features([g for g in games if g["game_date"] != D + timedelta(days=1)])
    assert later["next_game_days_rest"] == 3.0 and later["next_game_is_primetime"] == 0.0


def test_the_last_game_of_a_season_has_no_next_game() -> None:
    out = features([game(D - timedelta(days=1), MSG, home=True), game(D, MSG, home=True)])
    assert math.isnan(out["next_game_days_rest"]) and math.isnan(out["next_game_is_primetime"])
    assert out["games_in_next_7_days"] == 0.0


def test_pace_and_opponent_columns_pass_through_and_age_is_in_years() -> None:
    out = features([game(D, MSG, home=True)], birth_date=pd.Timestamp(date(2000, 1, 15)))
    assert out["pace_differential"] == pytest.approx(1.5)
    assert out["opponent_pace_last_10"] == 97.25 and out["opponent_ft_rate_allowed"] == 0.25
    assert out["next_opponent_win_pct"] == 0.6
    assert out["player_age"] == pytest.approx(24.0, abs=0.01)
    unknown = features([game(D, MSG, home=True)])
    assert math.isnan(unknown["player_age"])


def test_bigquery_style_arrays_and_missing_schedules_are_accepted() -> None:
    as_array = features(
        list(np.array([game(D - timedelta(days=2), MSG, home=False), game(D, CRYPTO, home=False)]))
    )
    assert as_array["time_zone_changes"] == -3.0
    nothing = features([])
    assert math.isnan(nothing["travel_miles"]) and nothing["games_in_next_7_days"] == 0.0


def test_the_payload_carries_the_features_exactly_and_a_missing_one_is_refused() -> None:
    out = features(
        [game(D - timedelta(days=2), MSG, home=False), game(D, CRYPTO, home=False)],
        birth_date=pd.Timestamp(date(1999, 7, 4)),
    )
    payload = json.loads(json.dumps(context_payload(out)))
    back = context_frame([payload])
    expected = out.to_numpy(dtype=float)
    np.testing.assert_array_equal(back.iloc[0].to_numpy(), expected)  # NaN == NaN here
    assert list(back.columns) == list(CONTEXT_FEATURES) == list(V8CTX_FEATURES[33:])
    del payload["travel_miles"]
    with pytest.raises(PoisonMessage, match="travel_miles"):
        context_frame([payload])
