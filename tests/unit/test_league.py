"""The synthetic league: deterministic, schema-exact, and internally consistent."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from nba_props.league import BOOKMAKERS, INJURY_STATUSES, TABLE_NAMES, League, generate_league
from nba_props.nba_teams import NBA_TEAMS
from nba_props.team_stats import team_game_stats
from shared.schema import ColumnType, table
from shared.warehouse.duckdb import DuckDbWarehouse

PLAYED_THROUGH = date(2025, 12, 1)


def _small(seed: int, played_through: date = PLAYED_THROUGH) -> League:
    """One season of ten-man rosters: the whole season is simulated, so this is still a full league."""
    return generate_league(seed, seasons=("2025-26",), played_through=played_through, players_per_team=10)


@pytest.fixture(scope="module")
def league() -> League:
    return _small(3)


@pytest.fixture(scope="module")
def two_seasons() -> League:
    return generate_league(5, players_per_team=12)


def _sides(schedule: pd.DataFrame) -> pd.DataFrame:
    home = schedule.assign(team_id=schedule["home_team_id"], is_home=True)
    away = schedule.assign(team_id=schedule["away_team_id"], is_home=False)
    return pd.concat([home, away]).sort_values(["season", "team_id", "game_date"], ignore_index=True)


# -- determinism ----------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_league(league: League) -> None:
    again = _small(3)
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(getattr(league, name), getattr(again, name), obj=name)


def test_another_seed_gives_another_league(league: League) -> None:
    other = _small(4)
    assert not league.player_game_logs["points"].equals(other.player_game_logs["points"])


def test_moving_played_through_does_not_rewrite_history(league: League) -> None:
    later = _small(3, PLAYED_THROUGH + timedelta(days=10))
    cut = pd.Timestamp(PLAYED_THROUGH)
    earlier_logs = later.player_game_logs.loc[later.player_game_logs["game_date"] <= cut]
    pd.testing.assert_frame_equal(league.player_game_logs, earlier_logs.reset_index(drop=True))
    before = league.prop_line_snapshots.loc[league.prop_line_snapshots["game_date"] <= cut]
    pd.testing.assert_frame_equal(
        before.reset_index(drop=True),
        later.prop_line_snapshots.loc[later.prop_line_snapshots["game_date"] <= cut].reset_index(drop=True),
    )


# -- schema -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_every_frame_has_the_schema_columns_dtypes_and_required_values(league: League, name: str) -> None:
    frame = league.frames()[name]
    spec = table(name)
    assert list(frame.columns) == spec.column_names
    assert not frame.empty
    for column in spec.columns:
        values = frame[column.name]
        if column.required:
            assert not values.isna().any(), f"{name}.{column.name} has NULLs"
        kind = str(values.dtype)
        expected = {
            ColumnType.INT64: {"int64", "Int64"},
            ColumnType.FLOAT64: {"float64"},
            ColumnType.BOOL: {"bool", "boolean"},
            ColumnType.DATE: {"datetime64[us]"},
            ColumnType.TIMESTAMP: {"datetime64[us, UTC]"},
            ColumnType.STRING: {"str", "string", "object"},
        }[column.type]
        assert kind in expected, f"{name}.{column.name} is {kind}"


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_primary_keys_are_unique(league: League, name: str) -> None:
    spec = table(name)
    assert not league.frames()[name].duplicated(list(spec.primary_key)).any()


def test_writes_every_table_to_a_duckdb_warehouse(league: League) -> None:
    warehouse = DuckDbWarehouse(":memory:")
    try:
        handed_over = league.write(warehouse)
        for name in TABLE_NAMES:
            stored = int(warehouse.sql(f"SELECT COUNT(*) AS n FROM {name}").at[0, "n"])
            assert stored == handed_over[name] == len(league.frames()[name]), name
        dates = warehouse.sql("SELECT MIN(game_date) AS first_day FROM player_game_logs")
        assert pd.Timestamp(dates.at[0, "first_day"]) == league.player_game_logs["game_date"].min()
    finally:
        warehouse.close()


# -- teams and players -----------------------------------------------------------------------------


def test_has_the_thirty_teams(league: League) -> None:
    assert sorted(league.teams["team_id"]) == sorted(t.team_id for t in NBA_TEAMS)
    assert league.teams["abbreviation"].is_unique


def test_rosters_have_the_requested_size_and_plausible_ages(league: League) -> None:
    players = league.players
    assert (players.groupby("team_id").size() == 10).all()
    ages = (pd.Timestamp("2025-10-21") - players["birth_date"]).dt.days / 365.25
    assert ages.between(19, 40).all()
    assert set(players["position"]) <= {"G", "F", "C", "G-F", "F-C"}
    assert players["name"].is_unique


def test_players_keep_their_team_and_a_few_are_new_each_season(two_seasons: League) -> None:
    logs, players = two_seasons.player_game_logs, two_seasons.players
    assert (logs.groupby(["season", "player_id"])["team_id"].nunique() == 1).all()
    per_season = logs.groupby("season")["player_id"].unique()
    newcomers = set(per_season["2026-27"]) - set(per_season["2025-26"])
    assert 0 < len(newcomers) <= 2 * len(NBA_TEAMS)
    departed = players["team_id"].isna().sum()
    assert 0 < departed <= 2 * len(NBA_TEAMS)


# -- schedule ---------------------------------------------------------------------------------------


def test_every_team_plays_82_games_41_at_home(league: League) -> None:
    sides = _sides(league.schedule)
    assert len(league.schedule) == 1230
    assert (sides.groupby("team_id").size() == 82).all()
    assert (sides.loc[sides["is_home"]].groupby("team_id").size() == 41).all()
    assert league.schedule["game_id"].is_unique


def test_no_team_plays_twice_a_day_or_three_nights_running(league: League) -> None:
    sides = _sides(league.schedule)
    assert not sides.duplicated(["team_id", "game_date"]).any()
    two_games_back = sides.groupby("team_id")["game_date"].diff(2).dt.days
    assert not (two_games_back == 2).any()


def test_back_to_backs_are_as_common_as_in_the_real_league(league: League) -> None:
    sides = _sides(league.schedule)
    back_to_backs = (
        (sides.groupby("team_id")["game_date"].diff().dt.days == 1).groupby(sides["team_id"]).sum()
    )
    assert 11 <= back_to_backs.mean() <= 16.5  # real 2022-24: 13.7 per team and season


def test_the_season_runs_from_late_october_to_mid_april_with_games_most_days(league: League) -> None:
    days = league.schedule["game_date"]
    assert days.min() == pd.Timestamp("2025-10-21")
    assert pd.Timestamp("2026-04-08") <= days.max() <= pd.Timestamp("2026-04-14")
    assert days.nunique() >= 155
    assert (league.schedule["season"] == "2025-26").all() and (league.schedule["phase"] == "regular").all()


def test_tip_offs_are_evening_local_times_on_the_game_date(league: League) -> None:
    zones = {t.team_id: t.time_zone for t in NBA_TEAMS}
    for team_id, games in league.schedule.groupby("home_team_id"):
        local = games["tipoff_utc"].dt.tz_convert(ZoneInfo(zones[int(team_id)]))
        assert local.dt.hour.between(19, 20).all()
        assert (local.dt.tz_localize(None).dt.normalize() == games["game_date"]).all()


# -- box scores -------------------------------------------------------------------------------------


def test_box_scores_exist_exactly_for_games_played_through_the_cut(league: League) -> None:
    logs, schedule = league.player_game_logs, league.schedule
    played = schedule.loc[schedule["game_date"] <= pd.Timestamp(PLAYED_THROUGH), "game_id"]
    assert set(logs["game_id"]) == set(played)
    assert (logs.groupby("game_id")["team_id"].nunique() == 2).all()
    assert (
        league.next_game_date
        == schedule.loc[schedule["game_date"] > pd.Timestamp(PLAYED_THROUGH), "game_date"].min().date()
    )


def test_points_add_up_from_makes_and_from_zones(league: League) -> None:
    logs = league.player_game_logs
    assert (logs["points"] == 2 * logs["fgm"] + logs["fg3m"] + logs["ftm"]).all()
    assert (
        logs["points_paint"] + logs["points_mid_range"] + 3 * logs["fg3m"] + logs["ftm"] == logs["points"]
    ).all()
    assert (logs["fgm"] <= logs["fga"]).all() and (logs["fg3m"] <= logs["fg3a"]).all()
    assert (logs["fg3a"] <= logs["fga"]).all() and (logs["ftm"] <= logs["fta"]).all()
    assert (logs["reb"] == logs["oreb"] + logs["dreb"]).all()
    assert (logs["pf"] <= 6).all()


def test_players_who_did_not_play_have_no_row_and_five_start(league: League) -> None:
    logs = league.player_game_logs
    assert (logs["minutes"] > 0).all()
    per_team = logs.groupby(["game_id", "team_id"])
    assert (per_team["starter"].sum() == 5).all()
    assert per_team.size().between(5, 10).all() and per_team.size().mean() > 8.5
    # Whole minutes summing to five players on the floor: 240, plus 25 per overtime.
    assert ((per_team["minutes"].sum() - 240) % 25 == 0).all()


def test_plus_minus_adds_up_to_five_times_the_margin(league: League) -> None:
    logs = league.player_game_logs
    stats = league.team_game_stats.set_index(["game_id", "team_id"])
    plus_minus = logs.groupby(["game_id", "team_id"])["plus_minus"].sum()
    margin = (stats["points"] - stats["opp_points"]).reindex(plus_minus.index)
    assert (plus_minus - 5 * margin).abs().max() <= 6  # per-player rounding only


def test_every_game_has_a_winner_and_team_stats_come_from_the_box_scores(league: League) -> None:
    stats = league.team_game_stats
    assert (stats.groupby("game_id")["won"].sum() == 1).all()
    expected = team_game_stats(league.player_game_logs)
    pd.testing.assert_frame_equal(stats, expected)
    assert stats["pace"].between(80, 125).all()


def test_players_out_on_the_final_report_do_not_play(league: League) -> None:
    reports = league.injury_reports.merge(league.schedule[["game_id", "tipoff_utc"]], on="game_id")
    latest = reports.sort_values("reported_at").groupby(["game_id", "player_id"]).tail(1)
    out = latest.loc[latest["status"] == "OUT", ["game_id", "player_id"]]
    played = out.merge(league.player_game_logs[["game_id", "player_id"]], on=["game_id", "player_id"])
    assert played.empty
    assert (reports["reported_at"] < reports["tipoff_utc"]).all()
    assert set(reports["status"]) <= set(INJURY_STATUSES)


# -- lines and the slate to predict -------------------------------------------------------------------


def test_lines_exist_up_to_the_next_game_date_and_never_beyond(league: League) -> None:
    lines = league.prop_line_snapshots
    next_day = pd.Timestamp(league.next_game_date)
    assert lines["game_date"].max() == next_day
    assert set(lines["bookmaker"]) == set(BOOKMAKERS)
    assert (lines["line"] % 1 == 0.5).all() and (lines["line"] > 0).all()
    prices = pd.concat([lines["over_price"], lines["under_price"]])
    assert (prices.abs() >= 100).all() and prices.between(-130, 115).all()


def test_snapshots_open_the_day_before_and_only_played_games_have_one_after_tip(league: League) -> None:
    lines = league.prop_line_snapshots.merge(league.schedule[["game_id", "tipoff_utc"]], on="game_id")
    lead = (lines["tipoff_utc"] - lines["snapshot_at"]).dt.total_seconds() / 3600
    opening = lead.groupby([lines["game_id"], lines["player_id"], lines["bookmaker"]]).max()
    assert opening.between(20, 26).all()
    after_tip = lines.loc[lead <= 0]
    assert not after_tip.empty
    assert (after_tip["game_date"] <= pd.Timestamp(PLAYED_THROUGH)).all()


def test_the_next_slate_has_lines_no_lines_for_bench_players_and_out_players(league: League) -> None:
    next_day = pd.Timestamp(league.next_game_date)
    games = league.schedule.loc[league.schedule["game_date"] == next_day]
    teams = set(games["home_team_id"]) | set(games["away_team_id"])
    roster = league.players.loc[league.players["team_id"].isin(teams), "player_id"]
    lines = league.prop_line_snapshots
    lined = set(lines.loc[lines["game_date"] == next_day, "player_id"])
    assert 0 < len(lined & set(roster)) < len(roster)
    out = league.injury_reports.loc[
        (league.injury_reports["game_date"] == next_day) & (league.injury_reports["status"] == "OUT")
    ]
    assert not out.empty
    assert not league.player_game_logs["game_date"].eq(next_day).any()


def test_lines_are_near_what_players_score(league: League) -> None:
    lines = league.prop_line_snapshots.merge(league.schedule[["game_id", "tipoff_utc"]], on="game_id")
    before_tip = lines.loc[lines["snapshot_at"] < lines["tipoff_utc"]]
    closing = before_tip.sort_values("snapshot_at").groupby(["game_id", "player_id"]).tail(1)
    scored = closing.merge(league.player_game_logs, on=["game_id", "player_id"])
    error = (scored["points"] - scored["line"]).abs().mean()
    assert 3.5 < error < 6.5
    assert 0.4 < (scored["points"] > scored["line"]).mean() < 0.6


def test_rejects_a_malformed_season_and_a_tiny_roster() -> None:
    with pytest.raises(ValueError, match="season"):
        generate_league(seasons=("2025-2026",))
    with pytest.raises(ValueError, match="players_per_team"):
        generate_league(players_per_team=5)


def test_by_default_the_last_season_is_played_for_45_days(two_seasons: League) -> None:
    assert two_seasons.played_through == date(2026, 10, 20) + timedelta(days=45)
    assert two_seasons.next_game_date is not None and two_seasons.next_game_date > two_seasons.played_through
    assert set(np.unique(two_seasons.schedule["season"])) == {"2025-26", "2026-27"}
    assert set(two_seasons.player_game_logs["season"]) == {"2025-26", "2026-27"}
