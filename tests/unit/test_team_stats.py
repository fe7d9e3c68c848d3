"""team_game_stats on a tiny, hand-checked frame: two players a side in game G1, and a game G2 in
which only one team has rows."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from nba_props.team_stats import team_game_stats
from shared.schema import TEAM_GAME_STATS

HOME, AWAY = 1610612737, 1610612738

# Columns: team, minutes, points, fga, fta, oreb, tov, fg3m, paint, mid-range.
_ROWS = [
    ("G1", HOME, AWAY, True, 1, 30.0, 20, 15, 4, 2, 3, 2, 8, 4),
    ("G1", HOME, AWAY, True, 2, 25.0, 10, 8, 2, 1, 1, 0, 6, 2),
    ("G1", AWAY, HOME, False, 3, 30.0, 18, 14, 5, 0, 2, 3, None, 3),
    ("G1", AWAY, HOME, False, 4, 25.0, 13, 9, 0, 2, 2, 1, 4, 2),
    ("G2", HOME, AWAY, False, 1, 33.0, 25, 18, 6, 1, 2, 3, 10, 2),
]


def _logs() -> pd.DataFrame:
    frame = pd.DataFrame(
        _ROWS,
        columns=[
            "game_id",
            "team_id",
            "opponent_team_id",
            "is_home",
            "player_id",
            "minutes",
            "points",
            "fga",
            "fta",
            "oreb",
            "tov",
            "fg3m",
            "points_paint",
            "points_mid_range",
        ],
    )
    frame["game_date"] = pd.to_datetime(frame["game_id"].map({"G1": "2025-11-01", "G2": "2025-11-03"}))
    frame["season"] = "2025-26"
    for col in ("points_paint", "points_mid_range"):
        frame[col] = frame[col].astype("Int64")
    return frame


@pytest.fixture
def stats() -> pd.DataFrame:
    return team_game_stats(_logs()).set_index("team_id")


def test_returns_exactly_the_schema_columns_in_order() -> None:
    assert list(team_game_stats(_logs()).columns) == TEAM_GAME_STATS.column_names


def test_drops_a_game_in_which_only_one_team_has_rows() -> None:
    assert set(team_game_stats(_logs())["game_id"]) == {"G1"}


def test_sums_each_side_and_reads_the_opponent_from_the_other_side(stats: pd.DataFrame) -> None:
    home, away = stats.loc[HOME], stats.loc[AWAY]
    assert (home["points"], home["opp_points"], away["points"], away["opp_points"]) == (30, 31, 31, 30)
    assert (home["fga"], home["fta"], home["opp_fga"], home["opp_fta"]) == (23, 6, 23, 5)
    assert home["opponent_team_id"] == AWAY and away["opponent_team_id"] == HOME
    assert bool(home["is_home"]) and not bool(away["is_home"])
    assert not bool(home["won"]) and bool(away["won"])
    assert home["minutes"] == 55.0


def test_possessions_pace_and_ratings_follow_the_box_score_estimate(stats: pd.DataFrame) -> None:
    home, away = stats.loc[HOME], stats.loc[AWAY]
    # FGA + 0.44 FTA - OREB + TOV: 23 + 2.64 - 3 + 4 and 23 + 2.2 - 2 + 4.
    assert home["possessions"] == pytest.approx(26.64)
    assert home["opp_possessions"] == pytest.approx(27.2)
    assert away["possessions"] == pytest.approx(27.2)
    # 48 x mean possessions / (team minutes / 5) = 48 x 26.92 / 11.
    assert home["pace"] == pytest.approx(48 * 26.92 / 11) == away["pace"]
    assert home["off_rating"] == pytest.approx(100 * 30 / 26.64)
    assert home["def_rating"] == pytest.approx(100 * 31 / 27.2)
    assert away["off_rating"] == pytest.approx(home["def_rating"])


def test_three_point_points_are_three_times_the_made_threes(stats: pd.DataFrame) -> None:
    assert (stats.loc[HOME, "points_three"], stats.loc[HOME, "opp_points_three"]) == (6, 12)


def test_a_zone_is_null_for_a_team_with_any_player_row_lacking_it(stats: pd.DataFrame) -> None:
    home, away = stats.loc[HOME], stats.loc[AWAY]
    assert home["points_paint"] == 14 and home["points_mid_range"] == 6
    assert pd.isna(away["points_paint"]) and away["points_mid_range"] == 5
    assert pd.isna(home["opp_points_paint"]) and home["opp_points_mid_range"] == 5
    assert away["opp_points_paint"] == 14


def test_keeps_nullable_integers_for_the_zones() -> None:
    dtypes = team_game_stats(_logs()).dtypes
    assert str(dtypes["points_paint"]) == "Int64" and str(dtypes["opp_points_mid_range"]) == "Int64"
    assert str(dtypes["points"]) == "int64" and str(dtypes["pace"]) == "float64"


def test_empty_logs_give_an_empty_frame_with_the_schema_columns() -> None:
    empty = team_game_stats(_logs().iloc[0:0])
    assert empty.empty and list(empty.columns) == TEAM_GAME_STATS.column_names


def test_needs_no_particular_row_order() -> None:
    shuffled = team_game_stats(_logs().sample(frac=1.0, random_state=3))
    ordered = team_game_stats(_logs())
    pd.testing.assert_frame_equal(shuffled, ordered)
    assert not any(math.isnan(v) for v in ordered["pace"])
