"""Box scores of a season, vectorised over (team-game, roster slot) arrays.

Possessions come from both teams' pace; each ends in a turnover, a trip to the line or a shot, and
an offensive rebound buys another shot. Minutes are role minutes with noise and drift, rescaled to
the team's 240. The team's totals are shared out among the players on the floor, and makes are
binomial with percentages scaled by the game's efficiency (home court, rest, travel, matchup).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nba_props.league.games import GameContext, TeamGames, game_context, team_games
from nba_props.league.injuries import Availability, draw_availability
from nba_props.league.knobs import (
    ASSISTED_SHARE,
    DOUBTFUL,
    DREB_CREDIT,
    FGA_PER_POSSESSION,
    FIRST_DEEP_SLOT,
    FORM_PERSISTENCE,
    FOUL_CALLING_SD,
    FT_SHARE_SHAPE,
    FTA_PER_POSSESSION,
    GAMES_PER_TEAM,
    MIN_PLAYERS_USED,
    MINUTES_FORM_SD,
    MINUTES_NOISE,
    N_TEAMS,
    OREB_CHANCE,
    OUT,
    OVERTIME_RATE,
    PLAYER_ID_BASE,
    QUESTIONABLE,
    REASONS,
    REGULATION_MINUTES,
    SHOOTING_LUCK_SD,
    SHOT_SHARE_SHAPE,
    STARTERS,
    TOV_PER_POSSESSION,
    USAGE_FORM_SD,
    FloatArray,
    IntArray,
)
from nba_props.league.players import Rosters, slot_minutes
from nba_props.league.schedule import Schedule, hours
from nba_props.nba_teams import NBA_TEAMS


def _drift(rng: np.random.Generator, slots: int, sd: float | FloatArray) -> FloatArray:
    """A stationary AR(1) per (team, slot) along the season, as (team-games, slots).

    x_k = sum_j phi^(k-j) e_j = phi^k * cumsum(phi^-j e_j): vectorised, and phi^-81 is harmless."""
    phi = FORM_PERSISTENCE
    shape = (N_TEAMS, GAMES_PER_TEAM, slots)
    shocks = rng.normal(0.0, sd * np.sqrt(1.0 - phi**2), shape)
    shocks[:, 0, :] = rng.normal(0.0, sd, (N_TEAMS, slots))
    power = phi ** np.arange(GAMES_PER_TEAM, dtype=np.float64)[None, :, None]
    drift: FloatArray = power * np.cumsum(shocks / power, axis=1)
    return drift.reshape(N_TEAMS * GAMES_PER_TEAM, slots)


def _whole_minutes(minutes: FloatArray, totals: IntArray) -> IntArray:
    """Round each row to whole minutes keeping its total (largest remainder), as box scores do."""
    floor = np.floor(minutes)
    short = np.rint(totals - floor.sum(axis=1)).astype(np.int64)
    order = np.argsort(-(minutes - floor), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(minutes.shape[1]), order.shape), axis=1)
    whole: IntArray = (floor + (rank < short[:, None])).astype(np.int64)
    return whole


def proportions(weight: FloatArray) -> FloatArray:
    shares: FloatArray = weight / np.maximum(weight.sum(axis=1, keepdims=True), 1e-12)
    return shares


def _share(rng: np.random.Generator, totals: IntArray, weight: FloatArray) -> IntArray:
    """Split each row's total among its players in proportion to weight (multinomially)."""
    split: IntArray = rng.multinomial(totals, proportions(weight)).astype(np.int64)
    return split


def _points_per_attempt(shooting: FloatArray) -> FloatArray:
    """Expected points per field-goal attempt, free throws included."""
    three, two_pct, three_pct, ft_rate, ft_pct = (shooting[..., i] for i in range(5))
    per_attempt: FloatArray = 2.0 * two_pct * (1.0 - three) + 3.0 * three_pct * three + ft_rate * ft_pct
    return per_attempt


def slot_values(slots: int, by_role: tuple[float, float, float]) -> FloatArray:
    """A per-slot array from (starters, rotation, deep bench) values."""
    slot = np.arange(slots)
    values: FloatArray = np.select(
        [slot < STARTERS, slot < FIRST_DEEP_SLOT], [by_role[0], by_role[1]], by_role[2]
    ).astype(np.float64)
    return values


def _play_minutes(
    rng: np.random.Generator, context: GameContext, availability: Availability, role: FloatArray
) -> IntArray:
    """Whole minutes per (row, slot); 0 for those who did not get in."""
    rows, slots = role.shape
    _, play_probability = slot_minutes(slots)
    slot = np.arange(slots)
    starter_slot, deep_slot = slot < STARTERS, slot >= FIRST_DEEP_SLOT
    blow = context.blowout[:, None]
    in_game = availability.plays & (rng.random((rows, slots)) < play_probability + deep_slot * 0.8 * blow)
    # A short-handed team dresses its deep bench: at least eight play whenever eight are available.
    idle = availability.plays & ~in_game
    shortfall = np.maximum(MIN_PLAYERS_USED - in_game.sum(axis=1), 0)
    in_game |= idle & (np.cumsum(idle, axis=1) <= shortfall[:, None])
    # Blowouts rest the starters and empty the bench.
    garbage_time = np.where(starter_slot, 1.0 - 0.2 * blow, np.where(deep_slot, 1.0 + 2.5 * blow, 1.0))
    noise = np.exp(rng.normal(0.0, 1.0, (rows, slots)) * slot_values(slots, MINUTES_NOISE))
    desired = np.where(in_game, role * noise * availability.minutes_factor * garbage_time, 0.0)
    share = desired * (context.team_minutes / desired.sum(axis=1))[:, None]
    # Nobody plays more than 44 minutes of a regulation game (unless fewer than six can play at
    # all); what a capped player cannot play goes to the others in proportion.
    cap = np.maximum(
        44.0 + 5.0 * context.overtimes, context.team_minutes / np.maximum(in_game.sum(axis=1), 1) + 1.0
    )[:, None]
    excess = np.clip(share - cap, 0.0, None).sum(axis=1, keepdims=True)
    share = np.minimum(share, cap)
    room = np.where(share < cap, share, 0.0)
    share = share + excess * room / np.maximum(room.sum(axis=1, keepdims=True), 1e-9)
    return _whole_minutes(share, context.team_minutes)


def _box_scores(
    rng: np.random.Generator,
    sides: TeamGames,
    context: GameContext,
    minutes: IntArray,
    shot_weight: FloatArray,
    shooting: FloatArray,
    rates: FloatArray,
) -> dict[str, IntArray]:
    """Counting stats per (row, slot).

    Every possession ends in a turnover, a trip to the line or a shot, and a miss the offence
    rebounds buys another shot, so FGA + 0.44 FTA - OREB + TOV adds back up to the possessions.
    Each team total is shared out among the players on the floor: one player's big night takes
    shots from his teammates, and an injured star's shots go to the others."""
    rows, slots = minutes.shape
    turnovers = rng.poisson(context.possessions * TOV_PER_POSSESSION)
    foul_calling = rng.lognormal(0.0, FOUL_CALLING_SD, rows)  # some nights the whistle is busier
    free_throws = rng.poisson(context.possessions * FTA_PER_POSSESSION * context.efficiency * foul_calling)
    first_shots = np.maximum(np.rint(context.possessions - turnovers - 0.44 * free_throws), 40).astype(
        np.int64
    )

    three_rate = np.clip(shooting[..., 0] * rng.lognormal(0.0, 0.05, (rows, slots)), 0.0, 0.95)
    luck = context.efficiency[:, None] * rng.lognormal(0.0, SHOOTING_LUCK_SD, (rows, slots))
    two_pct = np.clip(shooting[..., 1] * luck, 0.0, 0.95)
    three_pct = np.clip(shooting[..., 2] * luck, 0.0, 0.9)

    def shoot(attempts: IntArray) -> tuple[IntArray, IntArray, IntArray]:
        threes = rng.binomial(attempts, three_rate)
        return threes, rng.binomial(threes, three_pct), rng.binomial(attempts - threes, two_pct)

    fga = _share(rng, first_shots, shot_weight)
    fg3a, fg3m, fg2m = shoot(fga)
    team_oreb = rng.binomial((fga - fg3m - fg2m).sum(axis=1), OREB_CHANCE)
    second_chance = _share(rng, team_oreb, shot_weight)
    fg3a_2, fg3m_2, fg2m_2 = shoot(second_chance)
    fga, fg3a, fg3m, fg2m = fga + second_chance, fg3a + fg3a_2, fg3m + fg3m_2, fg2m + fg2m_2
    lumpy = rng.gamma(FT_SHARE_SHAPE, 1.0, (rows, slots))
    fta = _share(rng, free_throws, shot_weight * shooting[..., 3] * lumpy)
    ftm = rng.binomial(fta, shooting[..., 4])
    points = 2 * fg2m + 3 * fg3m + ftm

    # No ties in basketball: the side that "won the overtime" gets one more free throw, by its
    # busiest player.
    totals = points.sum(axis=1)
    tied = np.flatnonzero(totals[sides.home_row] == totals[sides.away_row])
    winner = np.where(rng.random(tied.size) < 0.5, sides.home_row[tied], sides.away_row[tied])
    busiest = np.argmax(minutes[winner], axis=1)
    for made_or_tried in (fta, ftm, points):
        made_or_tried[winner, busiest] += 1

    paint = rng.binomial(fg2m, shooting[..., 5])
    fgm = fg2m + fg3m
    misses = (fga - fgm).sum(axis=1)
    # The defence gets the misses the offence did not, less team rebounds nobody is credited with.
    opp = sides.opponent_row
    team_dreb = rng.binomial(np.maximum(misses[opp] - team_oreb[opp], 0), DREB_CREDIT)
    by_minutes = minutes[..., None] * rates
    oreb = _share(rng, team_oreb, by_minutes[..., 0])
    dreb = _share(rng, team_dreb, by_minutes[..., 1])

    totals = points.sum(axis=1)
    margin = totals - totals[opp]
    on_court = rng.normal(0.0, 1.0, (rows, slots)) * 4.0 * np.sqrt(minutes / 36.0)
    # Demeaned by minutes so a team's plus-minus adds up to five times its margin.
    on_court -= minutes * (on_court.sum(axis=1) / minutes.sum(axis=1))[:, None]
    plus_minus = margin[:, None] * minutes / (context.team_minutes / 5)[:, None] + on_court
    return {
        "points": points,
        "fgm": fgm,
        "fga": fga,
        "fg3m": fg3m,
        "fg3a": fg3a,
        "ftm": ftm,
        "fta": fta,
        "oreb": oreb,
        "dreb": dreb,
        "reb": oreb + dreb,
        "ast": _share(rng, rng.binomial(fgm.sum(axis=1), ASSISTED_SHARE), by_minutes[..., 2]),
        "stl": rng.poisson(by_minutes[..., 3]),
        "blk": rng.poisson(by_minutes[..., 4]),
        "tov": _share(rng, turnovers, by_minutes[..., 5]),
        "pf": np.minimum(rng.poisson(by_minutes[..., 6]), 6),  # six fouls and you are out
        "plus_minus": np.rint(plus_minus).astype(np.int64),
        "points_paint": 2 * paint,
        "points_mid_range": 2 * (fg2m - paint),
    }


def _expected_points(
    context: GameContext,
    sides: TeamGames,
    status: IntArray,
    role: FloatArray,
    usage: FloatArray,
    shooting: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Expected minutes and points per (row, slot) from what is known before tip-off: statuses,
    roles, recent form and the matchup, not the night's draws."""
    _, play_probability = slot_minutes(role.shape[1])
    availability = np.select(
        [(status == OUT) | (status == DOUBTFUL), status == QUESTIONABLE], [0.0, 0.7], 1.0
    )
    expected_role = role * play_probability * availability
    overtime_minutes = OVERTIME_RATE * 1.17 * 25.0
    minutes = expected_role * ((REGULATION_MINUTES + overtime_minutes) / expected_role.sum(axis=1))[:, None]
    weight = minutes * usage
    possessions = context.pace_pair[sides.game] * (1.0 + overtime_minutes / REGULATION_MINUTES)
    fga = (possessions * FGA_PER_POSSESSION)[:, None] * proportions(weight)
    fta = (possessions * FTA_PER_POSSESSION * context.expected_efficiency)[:, None] * proportions(
        weight * shooting[..., 3]
    )
    three, two_pct, three_pct = shooting[..., 0], shooting[..., 1], shooting[..., 2]
    per_shot = 2.0 * two_pct * (1.0 - three) + 3.0 * three_pct * three
    points: FloatArray = fga * per_shot * context.expected_efficiency[:, None] + fta * shooting[..., 4]
    return minutes, points


def simulate_season(
    rng: np.random.Generator, sched: Schedule, rosters: Rosters, season_index: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Box scores of every game of a season, and the pre-game view of every rostered player-game
    (status, expected minutes, expected points) that lines and injury reports are built from."""
    members = rosters.members[season_index]
    slots = members.shape[1]
    games = sched.frame
    sides = team_games(sched)
    context = game_context(rng, sched, sides)
    rows = sides.team.size
    availability = draw_availability(rng, sides.rest_days, slots)

    # Roles drift over the season; the night's noise comes on top in _play_minutes.
    role_minutes, _ = slot_minutes(slots)
    minutes_form = _drift(rng, slots, slot_values(slots, MINUTES_FORM_SD))
    usage_form = _drift(rng, slots, USAGE_FORM_SD)
    role = role_minutes * rosters.minutes_bias[season_index][sides.team] * np.exp(minutes_form)
    minutes = _play_minutes(rng, context, availability, role)
    played = minutes > 0
    starter = played & (np.cumsum(played, axis=1) <= STARTERS)

    shooting = rosters.shooting[members][sides.team]  # (rows, slots, 6)
    # Usage: shots per minute that turn the player's talent (points per minute) into points.
    usage = rosters.talent[season_index][sides.team] / _points_per_attempt(shooting) * np.exp(usage_form)
    share_shape = slot_values(slots, SHOT_SHARE_SHAPE)
    shot_weight = minutes * usage * rng.gamma(share_shape, 1.0 / share_shape, (rows, slots))
    rates = rosters.rates[members][sides.team] * rosters.stat_scale[season_index]
    box = _box_scores(rng, sides, context, minutes, shot_weight, shooting, rates)

    team_ids = np.array([t.team_id for t in NBA_TEAMS], dtype=np.int64)
    player_ids = PLAYER_ID_BASE + 1 + members[sides.team]
    row, slot = np.nonzero(played)
    game = sides.game[row]
    logs = pd.DataFrame(
        {
            "game_id": games["game_id"].to_numpy()[game],
            "game_date": games["game_date"].to_numpy()[game],
            "season": games["season"].to_numpy()[game],
            "player_id": player_ids[row, slot],
            "team_id": team_ids[sides.team[row]],
            "opponent_team_id": team_ids[sides.opponent[row]],
            "is_home": sides.home[row],
            "starter": starter[row, slot],
            "minutes": minutes[row, slot].astype(np.float64),
            **{name: values[row, slot] for name, values in box.items()},
        }
    )

    expected_minutes, expected_points = _expected_points(
        context, sides, availability.status, role, usage, shooting
    )
    tipoff = games["tipoff_utc"].dt.tz_localize(None).to_numpy()[sides.game]
    # The first report comes the afternoon before; a late decision an hour or so before tip-off.
    reported = tipoff[:, None] - hours(rng.uniform(18.0, 30.0, (rows, slots)))
    ruled_out = tipoff[:, None] - hours(rng.uniform(0.5, 1.5, (rows, slots)))
    reason_text = np.array([*REASONS, ""], dtype=object)[availability.reason]
    slate = pd.DataFrame(
        {
            "game_id": np.repeat(games["game_id"].to_numpy()[sides.game], slots),
            "game_date": np.repeat(games["game_date"].to_numpy()[sides.game], slots),
            "tipoff_utc": np.repeat(tipoff, slots),
            "player_id": player_ids.ravel(),
            "status": availability.status.ravel(),
            "reason": reason_text.ravel(),
            "late_out": availability.late_out.ravel(),
            "played": played.ravel(),
            "expected_minutes": expected_minutes.ravel(),
            "expected_points": expected_points.ravel(),
            "reported_at": reported.ravel(),
            "ruled_out_at": ruled_out.ravel(),
        }
    )
    return logs, slate
