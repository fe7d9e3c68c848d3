"""Leakage audit: the features of a game on date D depend only on what was known before D.

For a few dates D of the generated league (real arenas, tip-offs, birth dates, lines, injury
reports), every feature of every feature set (the 33 V8 features, the 13 context features of
"v8ctx", the 11 long-memory history features of "v8hist") is computed through the training path
(slate.sql and lines.sql over a window, history.sql, `feature_columns`) and through the serving
path (the same statements for one night, `plan_slate`, the message as JSON,
`request_features`). Then everything on or after D is destroyed — box scores and team aggregates
of D scrambled, later ones deleted, injury reports and line snapshots after tip-off added, later
ones deleted — and both paths must give the same vectors again, bit for bit. The schedule itself is
kept: it is published before the season, and the forward-schedule features read dates, never
results.

A control perturbs the last game *before* D instead and checks the features do move: the audit
would notice a leak.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from coordinator.slate import plan_slate
from shared.contracts import PredictionRequest
from shared.features.sets import FEATURE_SETS, request_features, union_of
from shared.features.window import history_params
from shared.settings import Settings
from shared.training import build_training_frame
from shared.warehouse.duckdb import DuckDbWarehouse

PRIORITY = Settings().bookmaker_priority
BOX_SCORE_STATS = (
    *("minutes", "points", "fgm", "fga", "fg3m", "fg3a", "ftm", "fta", "oreb", "dreb", "reb", "ast"),
    *("stl", "blk", "tov", "pf", "plus_minus", "points_paint", "points_mid_range"),
)
TEAM_STATS = (
    *("points", "opp_points", "possessions", "opp_possessions", "minutes", "pace", "off_rating"),
    *("def_rating", "fta", "fga", "opp_fta", "opp_fga", "points_three", "opp_points_three"),
    *("points_paint", "opp_points_paint", "points_mid_range", "opp_points_mid_range"),
)
EVERY_FEATURE = union_of(list(FEATURE_SETS))
# Features that may legitimately be missing for every player on a given date of this league.
SOMETIMES_ALL_MISSING = {"vegas_line_move", "injury_risk", "shot_zone_mismatch_score"}


def training_features(wh: DuckDbWarehouse, day: date) -> pd.DataFrame:
    features, _, meta = build_training_frame(wh, day, day, PRIORITY, columns=EVERY_FEATURE)
    return features.set_axis(pd.Index(meta["player_id"], name="player_id")).sort_index()


def serving_features(wh: DuckDbWarehouse, day: date) -> pd.DataFrame:
    slate = wh.query("slate", {"start_date": day, "end_date": day, "rostered": True})
    ids = [int(p) for p in slate["player_id"]]
    history = wh.query("history", history_params(day, ids))
    lines = wh.query("lines", {"start_date": day, "end_date": day, "player_ids": ids})
    rows = []
    for request in plan_slate(
        slate, history, lines, batch_id=f"audit-{day}", bookmaker_priority=PRIORITY, min_history_games=0
    ).requests:
        delivered = PredictionRequest.model_validate_json(request.to_bytes())
        row = pd.concat([request_features(delivered, name) for name in FEATURE_SETS], axis=1)
        row = row.loc[:, ~row.columns.duplicated()]  # the V8 columns come with every set
        rows.append(row[list(EVERY_FEATURE)].set_axis([request.player_id]))
    return pd.concat(rows).rename_axis("player_id").sort_index()


def destroy_the_future(wh: DuckDbWarehouse, day: date) -> None:
    """Scramble every result dated D, delete everything later, add post-tip-off reports and lines."""
    params = {"day": day}
    for column in BOX_SCORE_STATS:
        wh.sql(f"UPDATE player_game_logs SET {column} = {column} * 3 + 7 WHERE game_date = $day", params)
    for column in TEAM_STATS:
        wh.sql(f"UPDATE team_game_stats SET {column} = {column} * 2 + 11 WHERE game_date = $day", params)
    wh.sql("UPDATE team_game_stats SET won = NOT won WHERE game_date = $day", params)
    for table in ("player_game_logs", "team_game_stats", "injury_reports", "prop_line_snapshots"):
        wh.sql(f"DELETE FROM {table} WHERE game_date > $day", params)
    wh.sql(
        """
        INSERT INTO injury_reports
        SELECT l.game_id, l.game_date, l.player_id, 'OUT', 'after tip-off', s.tipoff_utc + INTERVAL 1 HOUR
        FROM player_game_logs AS l JOIN schedule AS s USING (game_id)
        WHERE l.game_date = $day AND s.tipoff_utc IS NOT NULL
        """,
        params,
    )
    wh.sql(
        """
        INSERT INTO prop_line_snapshots
        SELECT l.game_id, l.game_date, l.player_id, 'draftkings', 99.5, -110, -110,
               s.tipoff_utc + INTERVAL 5 MINUTE
        FROM player_game_logs AS l JOIN schedule AS s USING (game_id)
        WHERE l.game_date = $day AND s.tipoff_utc IS NOT NULL
        """,
        params,
    )


def played_days(wh: DuckDbWarehouse) -> list[date]:
    days = wh.sql("SELECT DISTINCT game_date FROM player_game_logs ORDER BY 1")["game_date"]
    return [d.date() for d in pd.to_datetime(days)]


@pytest.mark.parametrize("pick", ["early", "middle", "second_season"])
def test_no_feature_of_a_game_changes_when_everything_on_or_after_its_date_is_destroyed(
    league_warehouse: DuckDbWarehouse, pick: str
) -> None:
    wh = league_warehouse
    days = played_days(wh)
    second_season = [d for d in days if d >= date(2026, 9, 1)]
    day = {"early": days[8], "middle": days[len(days) // 3], "second_season": second_season[6]}[pick]

    trained_before = training_features(wh, day)
    served_before = serving_features(wh, day)
    future = (
        "SELECT SUM(points) FILTER (WHERE game_date = $day) AS on_day, "
        "COUNT(*) FILTER (WHERE game_date > $day) AS later FROM player_game_logs"
    )
    untouched = wh.sql(future, {"day": day}).iloc[0]
    destroy_the_future(wh, day)
    destroyed = wh.sql(future, {"day": day}).iloc[0]
    assert destroyed["on_day"] != untouched["on_day"]
    assert untouched["later"] > 0 and destroyed["later"] == 0
    trained_after = training_features(wh, day)
    served_after = serving_features(wh, day)

    assert tuple(trained_before.columns) == EVERY_FEATURE and len(trained_before) > 30
    pd.testing.assert_frame_equal(trained_after, trained_before, check_exact=True, obj=f"training {day}")
    pd.testing.assert_frame_equal(served_after, served_before, check_exact=True, obj=f"serving {day}")

    # Training rows are what serving computes, context features included (players who have since
    # changed teams are not on a past date's slate: rosters come from today's `players`).
    both = trained_before.index.intersection(served_before.index)
    assert len(both) > 0.8 * len(trained_before)
    pd.testing.assert_frame_equal(
        served_before.loc[both], trained_before.loc[both], check_exact=False, rtol=1e-12, atol=1e-12
    )

    # Every feature took part: none is missing for everyone (except the listed, date-dependent ones).
    all_missing = {c for c in EVERY_FEATURE if trained_before[c].isna().all()}
    assert all_missing <= SOMETIMES_ALL_MISSING, all_missing


def test_the_audit_notices_a_change_before_the_date(league_warehouse: DuckDbWarehouse) -> None:
    wh = league_warehouse
    days = played_days(wh)
    day = days[len(days) // 3]
    before = training_features(wh, day)
    month = {"day": day, "start": day - timedelta(days=30)}
    wh.sql(
        "UPDATE player_game_logs SET points = points + 9, minutes = minutes + 5, fga = fga + 3 "
        "WHERE game_date >= $start AND game_date < $day",
        month,
    )
    wh.sql("UPDATE team_game_stats SET pace = pace + 9 WHERE game_date >= $start AND game_date < $day", month)
    # And every player's latest game before D disappears: the last game moves back.
    wh.sql(
        "DELETE FROM player_game_logs AS l WHERE l.game_date = (SELECT MAX(m.game_date) "
        "FROM player_game_logs AS m WHERE m.player_id = l.player_id AND m.game_date < $day)",
        {"day": day},
    )
    after = training_features(wh, day)
    changed = {c for c in EVERY_FEATURE if not np.array_equal(before[c], after[c], equal_nan=True)}
    assert {"points_avg_last_5", "minutes_avg_last_10", "opponent_pace_last_10", "pace_score"} <= changed
    assert {"points_ewma_20", "points_avg_window", "minutes_last_game", "fga_avg_last_10"} <= changed
    assert "days_since_last_game" in changed
