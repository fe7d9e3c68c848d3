"""Team aggregates per game, derived from box scores: a pure function, no I/O."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nba_props.frames import conform
from shared.schema import TEAM_GAME_STATS

# Summed per (game, team). Missing counts are skipped: nba_api and the synthetic league always carry
# them, and one missing cell should not erase a team's whole game.
_COUNTS = ("points", "fga", "fta", "oreb", "tov", "fg3m")
# Shot zones are different: a source either has them for every row or they are unknown, and a
# partial sum would silently understate the zone. Any NULL makes the team's zone NULL.
_ZONES = ("points_paint", "points_mid_range")
_KEYS = ["game_id", "team_id"]


def team_game_stats(logs: pd.DataFrame) -> pd.DataFrame:
    """One team_game_stats row per team and game from player_game_logs rows (schema columns).

    Possessions use the standard box-score estimate FGA + 0.44·FTA - OREB + TOV. Games in which only
    one team has rows are dropped: the opponent's side cannot be known.
    """
    if logs.empty:
        return conform(pd.DataFrame(columns=TEAM_GAME_STATS.column_names), "team_game_stats")

    grouped = logs.groupby(_KEYS, sort=True)
    side = grouped[["game_date", "season", "is_home"]].first()
    side = side.join(grouped[list(_COUNTS)].sum())
    side["minutes"] = grouped["minutes"].sum().astype("float64")
    for zone in _ZONES:
        incomplete = logs[zone].isna().groupby([logs[k] for k in _KEYS]).any()
        side[zone] = grouped[zone].sum().astype("Int64").mask(incomplete)
    side = side.reset_index()

    # Keep games with exactly two sides; sorted by (game_id, team_id), each game's two rows are then
    # adjacent, and the opponent of row i is row i XOR 1.
    sides_per_game = side.groupby("game_id")["team_id"].transform("size")
    side = side.loc[sides_per_game == 2].reset_index(drop=True)
    opp = side.iloc[np.arange(len(side)) ^ 1].reset_index(drop=True)

    fga = side["fga"].fillna(0).astype("float64")
    possessions = (
        fga + 0.44 * side["fta"].fillna(0) - side["oreb"].fillna(0) + side["tov"].fillna(0)
    ).astype("float64")
    opp_possessions = possessions.iloc[np.arange(len(side)) ^ 1].reset_index(drop=True)

    out = pd.DataFrame(
        {
            "game_id": side["game_id"],
            "game_date": side["game_date"],
            "season": side["season"],
            "team_id": side["team_id"],
            "opponent_team_id": opp["team_id"],
            "is_home": side["is_home"],
            "won": side["points"] > opp["points"],
            "points": side["points"],
            "opp_points": opp["points"],
            "possessions": possessions,
            "opp_possessions": opp_possessions,
            "minutes": side["minutes"],
            # Pace is possessions per 48 minutes of one team on the floor (team minutes / 5), so
            # overtime games are not inflated.
            "pace": 48.0 * ((possessions + opp_possessions) / 2.0) / (side["minutes"] / 5.0),
            "off_rating": 100.0 * side["points"] / possessions,
            "def_rating": 100.0 * opp["points"] / opp_possessions,
            "fta": side["fta"],
            "fga": side["fga"],
            "opp_fta": opp["fta"],
            "opp_fga": opp["fga"],
            "points_three": 3 * side["fg3m"],
            "opp_points_three": 3 * opp["fg3m"],
            "points_paint": side["points_paint"],
            "opp_points_paint": opp["points_paint"],
            "points_mid_range": side["points_mid_range"],
            "opp_points_mid_range": opp["points_mid_range"],
        }
    )
    return conform(out, "team_game_stats")
