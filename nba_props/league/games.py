"""A season's team-games and what both sides of a game share: pace, overtime, efficiency."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nba_props.league.knobs import (
    BACK_TO_BACK,
    BLOWOUT_SWING,
    GAMES_PER_TEAM,
    HOME_EDGE,
    LONG_REST,
    N_TEAMS,
    OVERTIME_RATE,
    PACE_GAME_SD,
    PACE_MEAN,
    PACE_TEAM_SD,
    PER_TIME_ZONE,
    REGULATION_MINUTES,
    TEAM_DEFENCE_SD,
    TEAM_OFFENCE_SD,
    BoolArray,
    FloatArray,
    IntArray,
)
from nba_props.league.schedule import Schedule


@dataclass(frozen=True)
class TeamGames:
    """A season's team-games, team-major: row team * 82 + k is the team's k-th game."""

    team: IntArray
    game: IntArray  # index into the schedule
    home: BoolArray
    opponent: IntArray
    opponent_row: IntArray  # the other side of the same game
    home_row: IntArray  # per game: the home side's row
    away_row: IntArray
    rest_days: IntArray  # (teams, 82): days since the team's previous game; 7 before the first
    zones_crossed: FloatArray  # time zones between the previous game's arena and this one

    @property
    def rest(self) -> IntArray:
        rest: IntArray = self.rest_days.ravel()
        return rest


@dataclass(frozen=True)
class GameContext:
    """Draws both sides of a game share, and each side's efficiency on the night."""

    pace_pair: FloatArray  # per game: the two teams' average pace
    possessions: FloatArray  # per row
    overtimes: IntArray  # per row
    team_minutes: IntArray  # per row: 240 + 25 per overtime
    blowout: FloatArray  # per row, 0-1: how lopsided the game gets
    expected_efficiency: FloatArray  # per row: what is known before tip-off
    efficiency: FloatArray  # per row: with the night's swing


def team_games(sched: Schedule) -> TeamGames:
    n_games = sched.home.size
    side_team = np.concatenate([sched.home, sched.away])
    side_game = np.concatenate([np.arange(n_games), np.arange(n_games)])
    side_home = np.concatenate([np.ones(n_games, dtype=bool), np.zeros(n_games, dtype=bool)])
    # Game indices are in tip-off order, so sorting by (team, game) orders each team's games in time.
    order = np.lexsort((side_game, side_team))
    team, game, home = side_team[order], side_game[order], side_home[order]
    if not np.array_equal(np.bincount(team, minlength=N_TEAMS), np.full(N_TEAMS, GAMES_PER_TEAM)):
        raise RuntimeError("the matchup formula must give every team 82 games")
    home_row = np.empty(n_games, dtype=np.int64)
    away_row = np.empty(n_games, dtype=np.int64)
    home_row[game[home]] = np.flatnonzero(home)
    away_row[game[~home]] = np.flatnonzero(~home)
    opponent_row = np.where(home, away_row[game], home_row[game])

    grid = (N_TEAMS, GAMES_PER_TEAM)
    day = sched.day[game].reshape(grid)
    rest_days = np.concatenate([np.full((N_TEAMS, 1), 7), np.diff(day, axis=1)], axis=1)
    offset = sched.utc_offset[game].reshape(grid)
    zones = np.abs(np.diff(offset, axis=1, prepend=offset[:, :1])).ravel()
    return TeamGames(
        team=team,
        game=game,
        home=home,
        opponent=team[opponent_row],
        opponent_row=opponent_row,
        home_row=home_row,
        away_row=away_row,
        rest_days=rest_days.astype(np.int64),
        zones_crossed=zones,
    )


def game_context(rng: np.random.Generator, sched: Schedule, sides: TeamGames) -> GameContext:
    n_games = sched.home.size
    pace = rng.normal(PACE_MEAN, PACE_TEAM_SD, N_TEAMS)
    offence = rng.lognormal(0.0, TEAM_OFFENCE_SD, N_TEAMS)
    defence = rng.normal(0.0, TEAM_DEFENCE_SD, N_TEAMS)
    pace_pair = (pace[sched.home] + pace[sched.away]) / 2.0
    overtimes = (rng.random(n_games) < OVERTIME_RATE) * (
        1 + (rng.random(n_games) < 0.15) + (rng.random(n_games) < 0.02)
    )
    possessions = (pace_pair + rng.normal(0.0, PACE_GAME_SD, n_games)) * (48.0 + 5.0 * overtimes) / 48.0
    blowout = rng.beta(1.0, 4.0, n_games)
    home_favoured = rng.random(n_games) < 0.55
    game, home, rest = sides.game, sides.home, sides.rest
    opening_game = np.tile(np.arange(GAMES_PER_TEAM) == 0, N_TEAMS)
    expected = (
        (1.0 + np.where(home, 0.5, -0.5) * HOME_EDGE)
        * (1.0 - BACK_TO_BACK * (rest == 1))
        * (1.0 + LONG_REST * ((rest >= 3) & ~opening_game))
        * (1.0 - PER_TIME_ZONE * sides.zones_crossed)
        * offence[sides.team]
        * (1.0 - defence[sides.opponent])
    )
    swing = blowout[game] * BLOWOUT_SWING * np.where(home == home_favoured[game], 1.0, -1.0)
    return GameContext(
        pace_pair=pace_pair,
        possessions=possessions[game],
        overtimes=overtimes[game].astype(np.int64),
        team_minutes=(REGULATION_MINUTES + 25 * overtimes[game]).astype(np.int64),
        blowout=blowout[game],
        expected_efficiency=expected,
        efficiency=expected * (1.0 + swing),
    )
