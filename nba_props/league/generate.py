"""`generate_league`: every season is simulated whole, box scores and lines included, then cut at
`played_through`, so moving that date never changes the history before it."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from nba_props.frames import conform
from nba_props.league.box_scores import simulate_season
from nba_props.league.frames import League
from nba_props.league.injuries import injury_reports
from nba_props.league.lines import prop_lines
from nba_props.league.players import draw_rosters, players_frame
from nba_props.league.schedule import season_calendar, season_schedule, season_start_year, to_date
from nba_props.nba_teams import teams_frame
from nba_props.team_stats import team_game_stats


def generate_league(
    seed: int = 7,
    *,
    seasons: tuple[str, ...] = ("2025-26", "2026-27"),
    played_through: date | None = None,
    players_per_team: int = 14,
) -> League:
    """A synthetic league, identical for identical arguments.

    `played_through` defaults to 45 days into the last season, so the last season is partly played
    and the day after has games to predict, with lines and an injury report but no box scores.
    """
    if not seasons or list(seasons) != sorted(set(seasons)):
        raise ValueError(f"seasons must be distinct and ascending, got {seasons!r}")
    # Fewer than ten cannot absorb injuries without five men playing 48 minutes; NBA rosters stop
    # at fifteen plus three two-way players.
    if not 10 <= players_per_team <= 18:
        raise ValueError(f"players_per_team must be between 10 and 18, got {players_per_team}")
    start_years = [season_start_year(s) for s in seasons]
    calendars = [season_calendar(y) for y in start_years]
    if played_through is None:
        played_through = to_date(calendars[-1].days[0]) + timedelta(days=45)

    roster_seq, schedule_seq, box_seq, line_seq = np.random.SeedSequence(seed).spawn(4)
    rosters = draw_rosters(np.random.default_rng(roster_seq), calendars, players_per_team)
    season_rngs = [np.random.default_rng(s) for s in box_seq.spawn(len(seasons))]
    schedule_rngs = [np.random.default_rng(s) for s in schedule_seq.spawn(len(seasons))]

    games: list[pd.DataFrame] = []
    logs: list[pd.DataFrame] = []
    slates: list[pd.DataFrame] = []
    for index, (season, year, calendar) in enumerate(zip(seasons, start_years, calendars, strict=True)):
        schedule = season_schedule(schedule_rngs[index], season, year, calendar)
        season_logs, slate = simulate_season(season_rngs[index], schedule, rosters, index)
        games.append(schedule.frame)
        logs.append(season_logs)
        slates.append(slate)

    schedule_frame = pd.concat(games, ignore_index=True)
    all_logs = pd.concat(logs, ignore_index=True)
    all_slates = pd.concat(slates, ignore_index=True)

    cutoff = pd.Timestamp(played_through)
    upcoming = schedule_frame.loc[schedule_frame["game_date"] > cutoff, "game_date"]
    horizon = upcoming.min() if not upcoming.empty else cutoff
    lines = prop_lines(np.random.default_rng(line_seq), all_slates, all_logs, cutoff, horizon)
    box_scores = conform(all_logs.loc[all_logs["game_date"] <= cutoff], "player_game_logs")

    return League(
        teams=conform(teams_frame(), "teams"),
        players=conform(players_frame(rosters), "players"),
        schedule=conform(schedule_frame, "schedule"),
        player_game_logs=box_scores,
        team_game_stats=conform(team_game_stats(box_scores), "team_game_stats"),
        prop_line_snapshots=conform(lines, "prop_line_snapshots"),
        injury_reports=conform(injury_reports(all_slates, horizon), "injury_reports"),
        played_through=played_through,
    )
