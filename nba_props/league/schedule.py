"""A season's calendar and schedule: the NBA's matchup formula, game days and tip-off times."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from nba_props.league.knobs import (
    LOCAL_TIPOFF_MINUTES,
    LOCAL_TIPOFF_SHARE,
    N_TEAMS,
    WEEKDAY_WEIGHT,
    DayArray,
    FloatArray,
    IntArray,
)
from nba_props.nba_teams import NBA_TEAMS, Conference


@dataclass(frozen=True)
class Calendar:
    days: DayArray  # dates on which games may be played, ascending
    weights: FloatArray  # relative number of games on each of them


@dataclass(frozen=True)
class Schedule:
    frame: pd.DataFrame  # schedule rows in game-id order
    home: IntArray  # team index per game
    away: IntArray
    day: IntArray  # days since the epoch
    utc_offset: FloatArray  # hours, at the home arena on the night


def season_start_year(season: str) -> int:
    match = re.fullmatch(r"(\d{4})-(\d{2})", season)
    if match is None or (int(match[1]) + 1) % 100 != int(match[2]):
        raise ValueError(f"a season looks like '2025-26', got {season!r}")
    return int(match[1])


def _on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def to_date(day: np.datetime64) -> date:
    return date.fromordinal(date(1970, 1, 1).toordinal() + int(day.astype("datetime64[D]").astype(np.int64)))


def season_calendar(start_year: int) -> Calendar:
    """Game days of a regular season as the NBA lays them out: a Tuesday in the third week of
    October to a Sunday in the second week of April, dark on Thanksgiving, Christmas Eve and the
    six days around the All-Star game."""
    opening = _on_or_after(date(start_year, 10, 20), 1)
    finale = _on_or_after(date(start_year + 1, 4, 8), 6)
    thanksgiving = _on_or_after(date(start_year, 11, 22), 3)
    all_star = _on_or_after(date(start_year + 1, 2, 14), 6)
    dark = {thanksgiving, date(start_year, 12, 24)} | {all_star + timedelta(days=k) for k in range(-2, 4)}
    span = [opening + timedelta(days=k) for k in range((finale - opening).days + 1)]
    days = [d for d in span if d not in dark]
    weights = np.array([WEEKDAY_WEIGHT[d.weekday()] for d in days], dtype=np.float64)
    weights[0] = 0.25  # opening night is two showcase games
    christmas = date(start_year, 12, 25)
    weights[days.index(christmas)] = 0.6
    return Calendar(np.array(days, dtype="datetime64[D]"), weights)


def _matchups(rng: np.random.Generator) -> tuple[IntArray, IntArray]:
    """Home and away team index of every game of a season, by the NBA's formula: four games against
    division rivals, four against six other conference teams and three against the remaining four
    (two at home against two of them), two against each team of the other conference. 82 games, 41
    at home, for everyone.

    Each conference is laid out on a ring with its divisions interleaved, so the teams one and two
    places away are never division rivals: those are the three-game opponents, and a team hosts the
    extra game against the two ahead of it. The order within divisions changes every season."""
    east = np.array([t.conference is Conference.EAST for t in NBA_TEAMS])
    division_names = sorted({t.division for t in NBA_TEAMS})
    division = np.array([division_names.index(t.division) for t in NBA_TEAMS])
    ring_position = np.empty(N_TEAMS, dtype=np.int64)
    for in_east in (True, False):
        divisions = sorted(set(division[east == in_east].tolist()))
        members = [rng.permutation(np.flatnonzero((division == d) & (east == in_east))) for d in divisions]
        ring = np.stack(members, axis=1).ravel()  # ring[p] belongs to division p % 3
        ring_position[ring] = np.arange(ring.size)
    ring_size = N_TEAMS // 2

    first, second = np.triu_indices(N_TEAMS, k=1)
    same_conference = east[first] == east[second]
    same_division = division[first] == division[second]
    ahead = (ring_position[second] - ring_position[first]) % ring_size
    three_games = same_conference & ~same_division & np.isin(ahead, (1, 2, ring_size - 2, ring_size - 1))
    n_games = np.where(~same_conference, 2, np.where(three_games, 3, 4))
    first_hosts = np.where(
        ~same_conference, 1, np.where(three_games, np.where(np.isin(ahead, (1, 2)), 2, 1), 2)
    )
    home = np.concatenate([np.repeat(first, first_hosts), np.repeat(second, n_games - first_hosts)])
    away = np.concatenate([np.repeat(second, first_hosts), np.repeat(first, n_games - first_hosts)])
    return home.astype(np.int64), away.astype(np.int64)


def _assign_days(rng: np.random.Generator, home: IntArray, away: IntArray, calendar: Calendar) -> IntArray:
    """Day (days since the epoch) of every game: a greedy day-by-day scheduler.

    Each day takes about its share of the games still to play; among the pairings whose teams are
    free, it prefers teams that are behind (games left per day left) and avoids second nights of
    back-to-backs, more so for a team that has had many, and rematches within ten days. Three games
    in three nights never happen. Scheduling is sequential by nature, so this loops over days; the
    inner loop walks a few dozen ranked candidates."""
    ordinals = calendar.days.astype(np.int64)
    n_days = ordinals.size
    weight_left = np.cumsum(calendar.weights[::-1])[::-1]
    game_day = np.full(home.size, -1, dtype=np.int64)
    games_left = (np.bincount(home, minlength=N_TEAMS) + np.bincount(away, minlength=N_TEAMS)).astype(
        np.float64
    )
    never = -(10**6)
    last = np.full(N_TEAMS, never, dtype=np.int64)
    before_last = np.full(N_TEAMS, never, dtype=np.int64)
    back_to_backs = np.zeros(N_TEAMS, dtype=np.float64)
    last_met = np.full((N_TEAMS, N_TEAMS), never, dtype=np.int64)
    home_list, away_list = home.tolist(), away.tolist()
    step = 0
    while (pending := np.flatnonzero(game_day < 0)).size:
        in_season = step < n_days
        # Past the finale only if the greedy painted itself into a corner; the loop must still end.
        today = int(ordinals[step]) if in_season else int(ordinals[-1]) + step - n_days + 1
        share = calendar.weights[step] / weight_left[step] if in_season else 1.0
        days_left = n_days - step if in_season else 1
        wanted = int(np.clip(round(pending.size * share + rng.normal(0.0, 1.5)), 1, N_TEAMS // 2))

        since = today - last
        second_night = since == 1
        playable = ~(second_night & (today - before_last == 2)) if in_season else np.ones(N_TEAMS, bool)
        team_score = 2.0 * games_left / days_left - second_night * (0.28 + 0.025 * back_to_backs)
        candidates = pending[playable[home[pending]] & playable[away[pending]]]
        h, a = home[candidates], away[candidates]
        score = (
            team_score[h]
            + team_score[a]
            - 0.5 * (today - last_met[h, a] < 10)
            + rng.gumbel(0.0, 0.15, candidates.size)
        )
        busy = np.zeros(N_TEAMS, dtype=bool)
        chosen: list[int] = []
        for game in candidates[np.argsort(-score, kind="stable")].tolist():
            if busy[home_list[game]] or busy[away_list[game]]:
                continue
            busy[home_list[game]] = busy[away_list[game]] = True
            chosen.append(game)
            if len(chosen) == wanted:
                break
        picked = np.array(chosen, dtype=np.int64)
        game_day[picked] = today
        playing = np.flatnonzero(busy)
        back_to_backs[playing] += second_night[playing]
        games_left[playing] -= 1
        before_last[playing] = last[playing]
        last[playing] = today
        last_met[home[picked], away[picked]] = today
        last_met[away[picked], home[picked]] = today
        step += 1
    return _pull_back_overflow(home, away, game_day, ordinals)


def _pull_back_overflow(home: IntArray, away: IntArray, game_day: IntArray, ordinals: IntArray) -> IntArray:
    """Move games the greedy left past the finale onto an earlier game day where both teams are free
    and neither gets three games in three nights, preferring days that create no back-to-back and,
    among those, the latest. Usually a handful of games, so a short loop."""
    first, finale = int(ordinals[0]), int(ordinals[-1])
    span = finale - first + 1
    game_day = game_day.copy()
    busy = np.zeros((N_TEAMS, span + 4), dtype=bool)  # two spare days on either side of the season
    in_season = game_day <= finale
    busy[home[in_season], game_day[in_season] - first + 2] = True
    busy[away[in_season], game_day[in_season] - first + 2] = True
    allowed = np.zeros(span + 4, dtype=bool)
    allowed[ordinals - first + 2] = True
    for game in np.flatnonzero(~in_season).tolist():
        both = busy[[home[game], away[game]]]  # (2, days)
        prev2, prev1, next1, next2 = (np.roll(both, k, axis=1) for k in (2, 1, -1, -2))
        three_in_three = (prev2 & prev1) | (prev1 & next1) | (next1 & next2)
        free = allowed & ~both.any(axis=0) & ~three_in_three.any(axis=0)
        if not free.any():
            continue  # stays after the finale; the invariants (82 games, 41 at home) still hold
        back_to_backs = (prev1 | next1).sum(axis=0)
        day = np.flatnonzero(free)[np.lexsort((-np.flatnonzero(free), back_to_backs[free]))[0]]
        game_day[game] = first + day - 2
        busy[[home[game], away[game]], day] = True
    return game_day


def season_schedule(rng: np.random.Generator, season: str, start_year: int, calendar: Calendar) -> Schedule:
    home, away = _matchups(rng)
    day = _assign_days(rng, home, away, calendar)
    local_minutes = rng.choice(np.array(LOCAL_TIPOFF_MINUTES), size=home.size, p=LOCAL_TIPOFF_SHARE)
    local = day.astype("datetime64[D]").astype("datetime64[m]") + local_minutes.astype("timedelta64[m]")
    zones = np.array([t.time_zone for t in NBA_TEAMS])[home]
    utc = np.empty(home.size, dtype="datetime64[ns]")
    for zone in np.unique(zones).tolist():  # a handful of time zones, each converted in one call
        mask = zones == zone
        converted = pd.DatetimeIndex(local[mask]).tz_localize(zone).tz_convert("UTC").tz_localize(None)
        utc[mask] = converted.to_numpy()
    utc_offset = (local.astype("datetime64[ns]") - utc).astype("timedelta64[m]").astype(np.float64) / 60.0

    order = np.lexsort((home, utc, day))  # game ids follow tip-off order, as the NBA numbers them
    home, away, day, utc, utc_offset = home[order], away[order], day[order], utc[order], utc_offset[order]
    team_ids = np.array([t.team_id for t in NBA_TEAMS], dtype=np.int64)
    game_ids = [f"002{start_year % 100:02d}{k + 1:05d}" for k in range(home.size)]
    frame = pd.DataFrame(
        {
            "game_id": game_ids,
            "game_date": day.astype("datetime64[D]"),
            "tipoff_utc": pd.DatetimeIndex(utc).tz_localize("UTC"),
            "home_team_id": team_ids[home],
            "away_team_id": team_ids[away],
            "season": season,
            "phase": "regular",
        }
    )
    return Schedule(frame, home, away, day, utc_offset)


def hours(values: FloatArray) -> npt.NDArray[np.timedelta64]:
    return np.rint(values * 3600.0).astype(np.int64).astype("timedelta64[s]")
