"""A seeded, realistic synthetic NBA league: the embedded demo's data, the tests' fixtures and the
benchmarks' load. Calibrated against real nba_api game logs (docs/calibration.md).

Every season is simulated whole, box scores and lines included, and then cut at `played_through`:
moving that date never changes the history before it. Each concern (rosters, schedule, box scores,
lines) draws from its own numpy Generator spawned from the seed, so changing how lines are drawn
does not reshuffle the box scores. Everything is vectorised over (team-game, roster slot) arrays;
the only loops run over days of the schedule, seasons and a handful of time zones.

How a box score comes about, per team and game:
  * Possessions come from both teams' pace. Each ends in a turnover, a trip to the line or a shot,
    and an offensive rebound buys another shot, so the box score's possession estimate adds up.
  * Minutes: each available player's role minutes (starters ~30-36, bench 8-24, deep bench a few,
    often not at all) with game-to-game noise and slow drift, rescaled to the team's 240.
  * The team's shots, free throws, rebounds, assists and turnovers are shared out among the players
    on the floor (multinomially, by minutes x usage or x rate), so one player's big night takes
    shots from his teammates and an injured star's shots go to the others.
  * Makes are binomial with the player's percentages scaled by the game's efficiency: home court,
    rest or a back-to-back, time zones travelled, the opponent's defence and the team's offence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.extensions import ExtensionDtype

from nba_props.nba_teams import NBA_TEAMS, Conference, teams_frame
from nba_props.team_stats import team_game_stats
from shared.schema import ColumnType, Table, table
from shared.warehouse import Warehouse

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
DayArray = npt.NDArray[np.datetime64]

BOOKMAKERS: Final = ("draftkings", "fanduel", "betmgm", "caesars")
INJURY_STATUSES: Final = ("OUT", "DOUBTFUL", "QUESTIONABLE", "PROBABLE")
TABLE_NAMES: Final = (
    "teams",
    "players",
    "schedule",
    "player_game_logs",
    "team_game_stats",
    "prop_line_snapshots",
    "injury_reports",
)

_N_TEAMS: Final = len(NBA_TEAMS)
_GAMES_PER_TEAM: Final = 82
_REGULATION_MINUTES: Final = 240  # five players x 48 minutes
_PLAYER_ID_BASE: Final = 9_100_000  # far above any real nba_api person id, so the two never collide

# -- calibration knobs (docs/calibration.md shows what they reproduce) ----------------------------

# Roles. Minutes per roster slot before rescaling to the team's 240, and how often a healthy player
# in that slot gets into the game at all: the last four or five are garbage-time players, often DNP.
_ROLE_MINUTES: Final = (38.5, 36.5, 34.7, 33.1, 31.7, 24.0, 21.5, 19.0, 16.5, 10.5, 6.0, 4.5, 3.5, 3.0)
_PLAY_PROBABILITY: Final = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.99, 0.98, 0.96, 0.60, 0.40, 0.28, 0.20, 0.16)
_EXTRA_SLOT_MINUTES: Final = 3.0  # rosters longer than 14
_EXTRA_SLOT_PLAY: Final = 0.12
_STARTERS: Final = 5
_FIRST_DEEP_SLOT: Final = 9
_MIN_PLAYERS_USED: Final = 8
# Per-game noise and slow drift (AR(1), log scale) of minutes, by role: starters, rotation, deep
# bench. Bench roles swing far more than starters' (real minutes sd 7-8 against 5). The drift is
# what makes a recent average a better guess than a season-long one, as in the real logs.
_MINUTES_NOISE: Final = (0.07, 0.33, 0.65)
_MINUTES_FORM_SD: Final = (0.08, 0.25, 0.40)
_FORM_PERSISTENCE: Final = 0.95
# Talent is points per minute. Real scoring per minute is flat (~0.36-0.41) for role players and
# jumps for the one or two stars a team has: a floor plus an exponential tail, smoothed by a little
# log-normal noise. Roles follow talent, imperfectly (coaches also play defenders and veterans).
_TALENT_FLOOR: Final = 0.25
_TALENT_TAIL: Final = 0.16
_TALENT_SMOOTHING: Final = 0.08
_ROOKIE_DISCOUNT: Final = 0.9
_ROLE_NOISE: Final = 0.12
# Shot share on the night: a drifting usage, and a gamma shock whose shape is by role (a star's
# share is steady, a bench player's swings with garbage time and matchups). Free throws are lumpier
# still (and-ones, late fouling): real player FTA varies about twice as much as Poisson.
_USAGE_FORM_SD: Final = 0.10
_SHOT_SHARE_SHAPE: Final = (150.0, 15.0, 6.0)
_FT_SHARE_SHAPE: Final = 4.0
_FOUL_DRAWING: Final = 0.8  # free-throw rate grows with talent: scorers draw fouls
_SHOOTING_LUCK_SD: Final = 0.05  # log-sd of a player's shooting percentages on the night
# Team game. Real 2022-24 per team game: 101.2 estimated possessions, 88.6 FGA, 22.6 FTA (sd 7.0:
# overdispersed), 13.2 TOV, 10.5 OREB (22.6% of misses), 33.0 DREB (92% of the misses left to the
# defence), 26.0 AST on 42.1 FGM.
_PACE_MEAN: Final = 100.6
_PACE_TEAM_SD: Final = 2.2
_PACE_GAME_SD: Final = 3.6
_FGA_PER_POSSESSION: Final = 0.875
_FTA_PER_POSSESSION: Final = 0.223
_TOV_PER_POSSESSION: Final = 0.130
_OREB_CHANCE: Final = 0.255  # of first-shot misses; second-chance misses all go to the defence
_DREB_CREDIT: Final = 0.92
_ASSISTED_SHARE: Final = 0.618
_FOUL_CALLING_SD: Final = 0.18
_OVERTIME_RATE: Final = 0.06
_TEAM_OFFENCE_SD: Final = 0.028
_TEAM_DEFENCE_SD: Final = 0.022
# Game-efficiency effects on every make and trip to the line.
_HOME_EDGE: Final = 0.018  # home ~1.8% more efficient than away (real 2022-24: +2.0% points)
_BACK_TO_BACK: Final = 0.04  # second night of a back-to-back: -4%
_LONG_REST: Final = 0.01  # three or more days off: +1%
_PER_TIME_ZONE: Final = 0.007  # each time zone crossed since the last game: -0.7%
_BLOWOUT_SWING: Final = 0.04  # efficiency swing of a lopsided game, which also empties the bench
# Per-36-minute rates by position (OREB, DREB, AST, STL, BLK, TOV, PF). Rebounds, assists and
# turnovers are shares of the team's totals; steals, blocks and fouls are rescaled so that a team's
# totals match the real per-game means.
_TEAM_STAT_TARGETS: Final = (10.5, 33.0, 26.0, 7.4, 4.9, 13.2, 19.4)
_POSITIONS: Final = ("G", "F", "C", "G-F", "F-C")
_POSITION_SHARE: Final = (0.36, 0.30, 0.16, 0.10, 0.08)
_POSITION_RATES: Final = (
    (0.7, 3.6, 5.6, 1.2, 0.3, 2.0, 2.4),
    (1.4, 5.0, 2.7, 1.0, 0.6, 1.5, 2.9),
    (3.2, 7.8, 2.3, 0.8, 1.6, 1.8, 3.4),
    (1.0, 4.3, 3.8, 1.1, 0.45, 1.7, 2.6),
    (2.3, 6.4, 2.5, 0.9, 1.1, 1.6, 3.1),
)
# Shooting profile by position: share of FGA from three, 2P%, 3P%, FTA per FGA, FT%, paint share of
# two-point makes (the rest are mid-range).
_POSITION_SHOOTING: Final = (
    (0.47, 0.515, 0.370, 0.22, 0.81, 0.70),
    (0.44, 0.545, 0.365, 0.23, 0.77, 0.80),
    (0.13, 0.615, 0.340, 0.32, 0.70, 0.93),
    (0.46, 0.525, 0.370, 0.22, 0.79, 0.75),
    (0.30, 0.575, 0.355, 0.27, 0.74, 0.87),
)
# Injury report: spells of OUT games (mostly short, some long), one-game statuses, and stars
# resting the second night of a back-to-back.
_SPELL_START: Final = 0.014
_SPELL_SHORT_MEAN: Final = 3.0
_SPELL_LONG_MEAN: Final = 14.0
_SPELL_LONG_SHARE: Final = 0.15
_SINGLE_STATUS_RATE: Final = (0.005, 0.02, 0.015)  # DOUBTFUL, QUESTIONABLE, PROBABLE
_PLAYS_WHEN: Final = (0.0, 0.2, 0.72, 0.97)  # chance to play: OUT, DOUBTFUL, QUESTIONABLE, PROBABLE
_STAR_REST: Final = 0.08
# Prop market.
_LINE_MIN_MINUTES: Final = 15.0
_BOOK_LISTING: Final = (0.96, 0.95, 0.82, 0.75)  # chance a book lists a starter, in BOOKMAKERS order
_MARKET_NOISE: Final = 0.9
_MARKET_RECENT_WEIGHT: Final = 0.45  # weight of the last-10 average in the market's estimate
_MEDIAN_BELOW_MEAN: Final = 0.5
_LOWEST_LINE: Final = 3.0  # books do not hang points lines much below 3.5

# Games per day by weekday, Monday first (real 2021-24: 8.1, 5.8, 9.9, 4.8, 9.6, 7.0, 7.6).
_WEEKDAY_WEIGHT: Final = (1.07, 0.77, 1.31, 0.64, 1.27, 0.93, 1.0)
_LOCAL_TIPOFF_MINUTES: Final = (19 * 60, 19 * 60 + 30, 20 * 60, 20 * 60 + 30)
_LOCAL_TIPOFF_SHARE: Final = (0.42, 0.33, 0.18, 0.07)

_INJURY_REASONS: Final = (
    "Left Ankle Sprain",
    "Right Ankle Sprain",
    "Left Knee Soreness",
    "Right Knee Soreness",
    "Right Hamstring Strain",
    "Left Hamstring Strain",
    "Low Back Spasms",
    "Left Calf Strain",
    "Right Foot Soreness",
    "Left Wrist Sprain",
    "Right Shoulder Soreness",
    "Concussion Protocol",
    "Illness",
    "Left Groin Strain",
    "Right Hip Contusion",
)
_REST_REASON: Final = "Rest"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Synthetic names: common first and last names, combined without repetition.
_FIRST_NAMES: Final = _words(
    "Aaron Andre Bam Ben Brandon Caleb Cam Chris Cole Damian Darius De'Andre Derrick Devin Dylan "
    "Elijah Evan Franz Gary Grant Isaiah Jalen Jamal Jaren Jaylen Jordan Josh Julius Karl Keegan "
    "Kevin Kyle Lamar Luka Malik Marcus Mikal Myles Nikola Obi Onyeka Pascal Quentin RJ Reggie "
    "Scottie Shai Terry Tre Tyrese Victor Walker Xavier Zach Zion Alperen Dejounte Herb Immanuel Nic"
)
_LAST_NAMES: Final = _words(
    "Adams Allen Anderson Bailey Barnes Bell Bennett Brooks Brown Bryant Carter Clark Coleman Collins "
    "Cooper Davis Edwards Ellis Evans Fisher Flores Ford Foster Gordon Graham Grant Green Hall Harris "
    "Hayes Henderson Hill Holmes Howard Hughes Jackson James Jenkins Johnson Jones Jordan Kelly King "
    "Lewis Martin Mitchell Moore Morgan Murray Nelson Okafor Parker Perry Porter Powell Price Reed "
    "Richardson Robinson Ross Russell Sanders Scott Simmons Smith Stewart Sullivan Thomas Thompson "
    "Turner Walker Wallace Washington Watson White Williams Wilson Wright Young Diallo"
)

# Status codes in the dense arrays; index into _STATUS_TEXT.
_NONE, _OUT, _DOUBTFUL, _QUESTIONABLE, _PROBABLE = 0, 1, 2, 3, 4
_STATUS_TEXT: Final = ("", *INJURY_STATUSES)


# -- the league ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class League:
    """One DataFrame per warehouse table (schema columns, warehouse dtypes), played through a date."""

    teams: pd.DataFrame
    players: pd.DataFrame
    schedule: pd.DataFrame
    player_game_logs: pd.DataFrame
    team_game_stats: pd.DataFrame
    prop_line_snapshots: pd.DataFrame
    injury_reports: pd.DataFrame
    played_through: date

    def frames(self) -> dict[str, pd.DataFrame]:
        """The frames keyed by table name."""
        return {name: getattr(self, name) for name in TABLE_NAMES}

    @property
    def next_game_date(self) -> date | None:
        """The first scheduled date without box scores: the date the demo predicts."""
        days = self.schedule["game_date"]
        upcoming = days[days > pd.Timestamp(self.played_through)]
        return None if upcoming.empty else upcoming.min().date()

    def write(self, warehouse: Warehouse) -> dict[str, int]:
        """Create the schema and load every frame; returns rows handed over per table."""
        warehouse.create_schema()
        return {name: warehouse.load_frame(name, frame) for name, frame in self.frames().items()}


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
    start_years = [_season_start_year(s) for s in seasons]
    calendars = [_calendar(y) for y in start_years]
    if played_through is None:
        played_through = _to_date(calendars[-1].days[0]) + timedelta(days=45)

    roster_seq, schedule_seq, box_seq, line_seq = np.random.SeedSequence(seed).spawn(4)
    rosters = _rosters(np.random.default_rng(roster_seq), calendars, players_per_team)
    season_rngs = [np.random.default_rng(s) for s in box_seq.spawn(len(seasons))]
    schedule_rngs = [np.random.default_rng(s) for s in schedule_seq.spawn(len(seasons))]

    games: list[pd.DataFrame] = []
    logs: list[pd.DataFrame] = []
    slates: list[pd.DataFrame] = []
    for index, (season, year, calendar) in enumerate(zip(seasons, start_years, calendars, strict=True)):
        schedule = _schedule(schedule_rngs[index], season, year, calendar)
        season_logs, slate = _simulate_season(season_rngs[index], schedule, rosters, index)
        games.append(schedule.frame)
        logs.append(season_logs)
        slates.append(slate)

    schedule_frame = pd.concat(games, ignore_index=True)
    all_logs = pd.concat(logs, ignore_index=True)
    all_slates = pd.concat(slates, ignore_index=True)

    cutoff = pd.Timestamp(played_through)
    upcoming = schedule_frame.loc[schedule_frame["game_date"] > cutoff, "game_date"]
    horizon = upcoming.min() if not upcoming.empty else cutoff
    lines = _prop_lines(np.random.default_rng(line_seq), all_slates, all_logs, cutoff, horizon)
    box_scores = _conform(all_logs.loc[all_logs["game_date"] <= cutoff], "player_game_logs")

    return League(
        teams=_conform(teams_frame(), "teams"),
        players=_conform(_players_frame(rosters), "players"),
        schedule=_conform(schedule_frame, "schedule"),
        player_game_logs=box_scores,
        team_game_stats=_conform(team_game_stats(box_scores), "team_game_stats"),
        prop_line_snapshots=_conform(lines, "prop_line_snapshots"),
        injury_reports=_conform(_injury_reports(all_slates, horizon), "injury_reports"),
        played_through=played_through,
    )


# -- calendar and schedule ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    days: DayArray  # dates on which games may be played, ascending
    weights: FloatArray  # relative number of games on each of them


@dataclass(frozen=True)
class _Schedule:
    frame: pd.DataFrame  # schedule rows in game-id order
    home: IntArray  # team index per game
    away: IntArray
    day: IntArray  # days since the epoch
    utc_offset: FloatArray  # hours, at the home arena on the night


def _season_start_year(season: str) -> int:
    match = re.fullmatch(r"(\d{4})-(\d{2})", season)
    if match is None or (int(match[1]) + 1) % 100 != int(match[2]):
        raise ValueError(f"a season looks like '2025-26', got {season!r}")
    return int(match[1])


def _on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _to_date(day: np.datetime64) -> date:
    return date.fromordinal(date(1970, 1, 1).toordinal() + int(day.astype("datetime64[D]").astype(np.int64)))


def _calendar(start_year: int) -> _Calendar:
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
    weights = np.array([_WEEKDAY_WEIGHT[d.weekday()] for d in days], dtype=np.float64)
    weights[0] = 0.25  # opening night is two showcase games
    christmas = date(start_year, 12, 25)
    weights[days.index(christmas)] = 0.6
    return _Calendar(np.array(days, dtype="datetime64[D]"), weights)


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
    ring_position = np.empty(_N_TEAMS, dtype=np.int64)
    for in_east in (True, False):
        divisions = sorted(set(division[east == in_east].tolist()))
        members = [rng.permutation(np.flatnonzero((division == d) & (east == in_east))) for d in divisions]
        ring = np.stack(members, axis=1).ravel()  # ring[p] belongs to division p % 3
        ring_position[ring] = np.arange(ring.size)
    ring_size = _N_TEAMS // 2

    first, second = np.triu_indices(_N_TEAMS, k=1)
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


def _assign_days(rng: np.random.Generator, home: IntArray, away: IntArray, calendar: _Calendar) -> IntArray:
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
    games_left = (np.bincount(home, minlength=_N_TEAMS) + np.bincount(away, minlength=_N_TEAMS)).astype(
        np.float64
    )
    never = -(10**6)
    last = np.full(_N_TEAMS, never, dtype=np.int64)
    before_last = np.full(_N_TEAMS, never, dtype=np.int64)
    back_to_backs = np.zeros(_N_TEAMS, dtype=np.float64)
    last_met = np.full((_N_TEAMS, _N_TEAMS), never, dtype=np.int64)
    home_list, away_list = home.tolist(), away.tolist()
    step = 0
    while (pending := np.flatnonzero(game_day < 0)).size:
        in_season = step < n_days
        # Past the finale only if the greedy painted itself into a corner; the loop must still end.
        today = int(ordinals[step]) if in_season else int(ordinals[-1]) + step - n_days + 1
        share = calendar.weights[step] / weight_left[step] if in_season else 1.0
        days_left = n_days - step if in_season else 1
        wanted = int(np.clip(round(pending.size * share + rng.normal(0.0, 1.5)), 1, _N_TEAMS // 2))

        since = today - last
        second_night = since == 1
        playable = ~(second_night & (today - before_last == 2)) if in_season else np.ones(_N_TEAMS, bool)
        team_score = 2.0 * games_left / days_left - second_night * (0.28 + 0.025 * back_to_backs)
        candidates = pending[playable[home[pending]] & playable[away[pending]]]
        h, a = home[candidates], away[candidates]
        score = (
            team_score[h]
            + team_score[a]
            - 0.5 * (today - last_met[h, a] < 10)
            + rng.gumbel(0.0, 0.15, candidates.size)
        )
        busy = np.zeros(_N_TEAMS, dtype=bool)
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
    busy = np.zeros((_N_TEAMS, span + 4), dtype=bool)  # two spare days on either side of the season
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


def _schedule(rng: np.random.Generator, season: str, start_year: int, calendar: _Calendar) -> _Schedule:
    home, away = _matchups(rng)
    day = _assign_days(rng, home, away, calendar)
    local_minutes = rng.choice(np.array(_LOCAL_TIPOFF_MINUTES), size=home.size, p=_LOCAL_TIPOFF_SHARE)
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
    return _Schedule(frame, home, away, day, utc_offset)


# -- players and rosters --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rosters:
    """Everyone who ever played in the league, and who was where in which season."""

    names: list[str]
    birth: DayArray
    position: IntArray  # index into _POSITIONS
    shooting: FloatArray  # (players, 6): three rate, 2P%, 3P%, FT rate, FT%, paint share
    rates: FloatArray  # (players, 7): per-minute OREB, DREB, AST, STL, BLK, TOV, PF before scaling
    members: list[IntArray]  # per season, (teams, slots): player index, slot 0 the biggest role
    talent: list[FloatArray]  # per season, (teams, slots): points per minute
    minutes_bias: list[FloatArray]  # per season, (teams, slots): player's multiplier on his slot's minutes
    # Per season, (7,): scales rates so team totals match the real means. Only steals, blocks and
    # fouls use the level; rebounds, assists and turnovers are shares of team totals.
    stat_scale: list[FloatArray]


def _role_minutes(slots: int) -> tuple[FloatArray, FloatArray]:
    minutes = list(_ROLE_MINUTES[:slots]) + [_EXTRA_SLOT_MINUTES] * max(0, slots - len(_ROLE_MINUTES))
    play = list(_PLAY_PROBABILITY[:slots]) + [_EXTRA_SLOT_PLAY] * max(0, slots - len(_PLAY_PROBABILITY))
    return np.array(minutes, dtype=np.float64), np.array(play, dtype=np.float64)


def _new_players(
    rng: np.random.Generator, count: int, season_start: date, *, rookies: bool
) -> dict[str, npt.NDArray[np.generic]]:
    age = rng.uniform(19.3, 22.8, count) if rookies else np.clip(rng.normal(26.3, 4.0, count), 19.3, 37.5)
    birth = np.datetime64(season_start, "D") - np.round(age * 365.25).astype("timedelta64[D]")
    position = rng.choice(len(_POSITIONS), size=count, p=_POSITION_SHARE)
    base = np.array(_POSITION_SHOOTING)[position]
    spread = np.array([0.08, 0.035, 0.03, 0.0, 0.06, 0.06])
    shooting = base + rng.normal(0.0, 1.0, (count, 6)) * spread
    talent = (_TALENT_FLOOR + rng.exponential(_TALENT_TAIL, count)) * rng.lognormal(
        0.0, _TALENT_SMOOTHING, count
    )
    if rookies:
        talent *= _ROOKIE_DISCOUNT
    # Free-throw rate varies by style, and scorers draw more fouls (real stars: FTA/FGA ~0.3-0.4).
    shooting[:, 3] = base[:, 3] * rng.lognormal(0.0, 0.3, count) * (talent / 0.4) ** _FOUL_DRAWING
    shooting = np.clip(shooting, [0.0, 0.40, 0.22, 0.03, 0.45, 0.30], [0.85, 0.72, 0.45, 0.80, 0.93, 0.99])
    rates = np.array(_POSITION_RATES)[position] / 36.0 * rng.lognormal(0.0, 0.25, (count, 7))
    return {"birth": birth, "position": position, "shooting": shooting, "rates": rates, "talent": talent}


def _age_trend(age: FloatArray) -> FloatArray:
    """Year-on-year change of log talent: the young improve, the old decline."""
    return np.select([age < 23, age < 26, age < 30, age < 33], [0.08, 0.04, 0.0, -0.04], default=-0.09)


def _rosters(rng: np.random.Generator, calendars: Sequence[_Calendar], slots: int) -> _Rosters:
    starts = [_to_date(c.days[0]) for c in calendars]
    batches = [_new_players(rng, _N_TEAMS * slots, starts[0], rookies=False)]
    members = np.arange(_N_TEAMS * slots, dtype=np.int64).reshape(_N_TEAMS, slots)
    talent_now = batches[0]["talent"].astype(np.float64)
    role_minutes, play = _role_minutes(slots)

    all_members: list[IntArray] = []
    all_talent: list[FloatArray] = []
    all_bias: list[FloatArray] = []
    next_id = _N_TEAMS * slots
    for season, start in enumerate(starts):
        if season > 0:
            births = np.concatenate([b["birth"] for b in batches]).astype("datetime64[D]")
            ages = (np.datetime64(start, "D") - births).astype(np.float64) / 365.25
            talent_now = talent_now * np.exp(_age_trend(ages) + rng.normal(0.0, 0.10, ages.size))
            # One or two players per team leave each summer, older ones more likely; rookies replace them.
            leaving = rng.integers(1, 3, _N_TEAMS)
            key = rng.random((_N_TEAMS, slots)) - 0.03 * np.maximum(ages[members] - 28.0, 0.0)
            rank = np.argsort(np.argsort(key, axis=1), axis=1)
            replace = rank < leaving[:, None]
            n_new = int(replace.sum())
            batch = _new_players(rng, n_new, start, rookies=True)
            batches.append(batch)
            talent_now = np.concatenate([talent_now, batch["talent"].astype(np.float64)])
            members = members.copy()
            members[replace] = np.arange(next_id, next_id + n_new)
            next_id += n_new
        # Roles follow talent, imperfectly: coaches also play defenders and veterans.
        quality = np.log(talent_now[members]) + rng.normal(0.0, _ROLE_NOISE, members.shape)
        members = np.take_along_axis(members, np.argsort(-quality, axis=1), axis=1)
        all_members.append(members)
        all_talent.append(talent_now[members])
        all_bias.append(rng.lognormal(0.0, 0.07, members.shape))

    rates = np.concatenate([b["rates"] for b in batches]).astype(np.float64)
    expected_minutes = role_minutes * play * (_REGULATION_MINUTES / float((role_minutes * play).sum()))
    stat_scale = [
        np.array(_TEAM_STAT_TARGETS) / np.einsum("tsk,s->k", rates[m], expected_minutes) * _N_TEAMS
        for m in all_members
    ]
    # Distinct names: draw first/last combinations without replacement (4,800 of them).
    combos = rng.choice(len(_FIRST_NAMES) * len(_LAST_NAMES), size=next_id, replace=False)
    names = [
        f"{_FIRST_NAMES[c // len(_LAST_NAMES)]} {_LAST_NAMES[c % len(_LAST_NAMES)]}" for c in combos.tolist()
    ]
    return _Rosters(
        names=names,
        birth=np.concatenate([b["birth"] for b in batches]).astype("datetime64[D]"),
        position=np.concatenate([b["position"] for b in batches]).astype(np.int64),
        shooting=np.concatenate([b["shooting"] for b in batches]).astype(np.float64),
        rates=rates,
        members=all_members,
        talent=all_talent,
        minutes_bias=all_bias,
        stat_scale=stat_scale,
    )


# -- box scores -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Availability:
    status: IntArray  # (team-games, slots): status code on the report before tip-off
    reason: IntArray  # index into _REASONS, -1 without a status
    plays: BoolArray  # whether the player is available on the night
    late_out: BoolArray  # listed as doubtful/questionable/probable, then ruled out shortly before tip
    minutes_factor: FloatArray  # a questionable player or one back from injury plays less


_REASONS: Final = (*_INJURY_REASONS, _REST_REASON)
_CHANCE_TO_PLAY: Final = (1.0, *_PLAYS_WHEN)  # by status code


def _availability(rng: np.random.Generator, rest_days: IntArray, slots: int) -> _Availability:
    """Who is on the injury report, and who plays, for every (team, game, slot) of a season.

    Injuries come in spells of consecutive OUT games (mostly short, some long); the game back is
    listed questionable or probable. Stars sometimes rest the second night of a back-to-back. On top
    come one-game statuses. A doubtful or questionable player may still be ruled out before tip."""
    shape = (_N_TEAMS, _GAMES_PER_TEAM, slots)
    game_no = np.arange(_GAMES_PER_TEAM)[None, :, None]
    starts = rng.random(shape) < _SPELL_START
    length = np.where(
        rng.random(shape) < _SPELL_LONG_SHARE,
        rng.geometric(1.0 / _SPELL_LONG_MEAN, shape),
        rng.geometric(1.0 / _SPELL_SHORT_MEAN, shape),
    )
    # A running maximum of "last game of the latest spell" marks every game inside some spell.
    out = np.maximum.accumulate(np.where(starts, game_no + length - 1, -1), axis=1) >= game_no
    last_start = np.maximum.accumulate(np.where(starts, game_no, 0), axis=1)
    spell_reason = np.take_along_axis(rng.integers(0, len(_INJURY_REASONS), shape), last_start, axis=1)
    was_out = np.concatenate([np.zeros((_N_TEAMS, 1, slots), dtype=bool), out[:, :-1]], axis=1)
    returning = ~out & was_out

    status = np.zeros(shape, dtype=np.int64)
    reason = np.full(shape, -1, dtype=np.int64)
    status[out] = _OUT
    status[returning] = np.where(rng.random(int(returning.sum())) < 0.5, _QUESTIONABLE, _PROBABLE)
    reason[out | returning] = spell_reason[out | returning]

    second_night = (rest_days == 1)[:, :, None]
    star = (np.arange(slots) < 3)[None, None, :]
    resting = (status == _NONE) & second_night & star & (rng.random(shape) < _STAR_REST)
    status[resting] = _OUT
    reason[resting] = len(_REASONS) - 1

    draw = rng.random(shape)
    free = status == _NONE
    bounds = np.cumsum(_SINGLE_STATUS_RATE)
    one_off = free & (draw < bounds[-1])
    status[one_off] = np.array([_DOUBTFUL, _QUESTIONABLE, _PROBABLE])[
        np.searchsorted(bounds, draw[one_off], "right")
    ]
    reason[one_off] = rng.integers(0, len(_INJURY_REASONS), int(one_off.sum()))

    plays = rng.random(shape) < np.array(_CHANCE_TO_PLAY)[status]
    listed = (status == _DOUBTFUL) | (status == _QUESTIONABLE) | (status == _PROBABLE)
    reduced = plays & listed & (rng.random(shape) < 0.5)
    minutes_factor = np.where(reduced, rng.uniform(0.7, 0.95, shape), 1.0)
    flat = (_N_TEAMS * _GAMES_PER_TEAM, slots)
    return _Availability(
        status=status.reshape(flat),
        reason=reason.reshape(flat),
        plays=plays.reshape(flat),
        late_out=(listed & ~plays).reshape(flat),
        minutes_factor=minutes_factor.reshape(flat),
    )


def _drift(rng: np.random.Generator, slots: int, sd: float | FloatArray) -> FloatArray:
    """A stationary AR(1) per (team, slot) along the season, as (team-games, slots).

    x_k = sum_j phi^(k-j) e_j = phi^k * cumsum(phi^-j e_j): vectorised, and phi^-81 is harmless."""
    phi = _FORM_PERSISTENCE
    shape = (_N_TEAMS, _GAMES_PER_TEAM, slots)
    shocks = rng.normal(0.0, sd * np.sqrt(1.0 - phi**2), shape)
    shocks[:, 0, :] = rng.normal(0.0, sd, (_N_TEAMS, slots))
    power = phi ** np.arange(_GAMES_PER_TEAM, dtype=np.float64)[None, :, None]
    drift: FloatArray = power * np.cumsum(shocks / power, axis=1)
    return drift.reshape(_N_TEAMS * _GAMES_PER_TEAM, slots)


def _whole_minutes(minutes: FloatArray, totals: IntArray) -> IntArray:
    """Round each row to whole minutes keeping its total (largest remainder), as box scores do."""
    floor = np.floor(minutes)
    short = np.rint(totals - floor.sum(axis=1)).astype(np.int64)
    order = np.argsort(-(minutes - floor), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(minutes.shape[1]), order.shape), axis=1)
    whole: IntArray = (floor + (rank < short[:, None])).astype(np.int64)
    return whole


def _shares(weight: FloatArray) -> FloatArray:
    shares: FloatArray = weight / np.maximum(weight.sum(axis=1, keepdims=True), 1e-12)
    return shares


def _share(rng: np.random.Generator, totals: IntArray, weight: FloatArray) -> IntArray:
    """Split each row's total among its players in proportion to weight (multinomially)."""
    split: IntArray = rng.multinomial(totals, _shares(weight)).astype(np.int64)
    return split


def _points_per_attempt(shooting: FloatArray) -> FloatArray:
    """Expected points per field-goal attempt, free throws included."""
    three, two_pct, three_pct, ft_rate, ft_pct = (shooting[..., i] for i in range(5))
    per_attempt: FloatArray = 2.0 * two_pct * (1.0 - three) + 3.0 * three_pct * three + ft_rate * ft_pct
    return per_attempt


@dataclass(frozen=True)
class _TeamGames:
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
class _GameContext:
    """Draws both sides of a game share, and each side's efficiency on the night."""

    pace_pair: FloatArray  # per game: the two teams' average pace
    possessions: FloatArray  # per row
    overtimes: IntArray  # per row
    team_minutes: IntArray  # per row: 240 + 25 per overtime
    blowout: FloatArray  # per row, 0-1: how lopsided the game gets
    expected_efficiency: FloatArray  # per row: what is known before tip-off
    efficiency: FloatArray  # per row: with the night's swing


def _team_games(sched: _Schedule) -> _TeamGames:
    n_games = sched.home.size
    side_team = np.concatenate([sched.home, sched.away])
    side_game = np.concatenate([np.arange(n_games), np.arange(n_games)])
    side_home = np.concatenate([np.ones(n_games, dtype=bool), np.zeros(n_games, dtype=bool)])
    # Game indices are in tip-off order, so sorting by (team, game) orders each team's games in time.
    order = np.lexsort((side_game, side_team))
    team, game, home = side_team[order], side_game[order], side_home[order]
    if not np.array_equal(np.bincount(team, minlength=_N_TEAMS), np.full(_N_TEAMS, _GAMES_PER_TEAM)):
        raise RuntimeError("the matchup formula must give every team 82 games")
    home_row = np.empty(n_games, dtype=np.int64)
    away_row = np.empty(n_games, dtype=np.int64)
    home_row[game[home]] = np.flatnonzero(home)
    away_row[game[~home]] = np.flatnonzero(~home)
    opponent_row = np.where(home, away_row[game], home_row[game])

    grid = (_N_TEAMS, _GAMES_PER_TEAM)
    day = sched.day[game].reshape(grid)
    rest_days = np.concatenate([np.full((_N_TEAMS, 1), 7), np.diff(day, axis=1)], axis=1)
    offset = sched.utc_offset[game].reshape(grid)
    zones = np.abs(np.diff(offset, axis=1, prepend=offset[:, :1])).ravel()
    return _TeamGames(
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


def _game_context(rng: np.random.Generator, sched: _Schedule, sides: _TeamGames) -> _GameContext:
    n_games = sched.home.size
    pace = rng.normal(_PACE_MEAN, _PACE_TEAM_SD, _N_TEAMS)
    offence = rng.lognormal(0.0, _TEAM_OFFENCE_SD, _N_TEAMS)
    defence = rng.normal(0.0, _TEAM_DEFENCE_SD, _N_TEAMS)
    pace_pair = (pace[sched.home] + pace[sched.away]) / 2.0
    overtimes = (rng.random(n_games) < _OVERTIME_RATE) * (
        1 + (rng.random(n_games) < 0.15) + (rng.random(n_games) < 0.02)
    )
    possessions = (pace_pair + rng.normal(0.0, _PACE_GAME_SD, n_games)) * (48.0 + 5.0 * overtimes) / 48.0
    blowout = rng.beta(1.0, 4.0, n_games)
    home_favoured = rng.random(n_games) < 0.55
    game, home, rest = sides.game, sides.home, sides.rest
    opening_game = np.tile(np.arange(_GAMES_PER_TEAM) == 0, _N_TEAMS)
    expected = (
        (1.0 + np.where(home, 0.5, -0.5) * _HOME_EDGE)
        * (1.0 - _BACK_TO_BACK * (rest == 1))
        * (1.0 + _LONG_REST * ((rest >= 3) & ~opening_game))
        * (1.0 - _PER_TIME_ZONE * sides.zones_crossed)
        * offence[sides.team]
        * (1.0 - defence[sides.opponent])
    )
    swing = blowout[game] * _BLOWOUT_SWING * np.where(home == home_favoured[game], 1.0, -1.0)
    return _GameContext(
        pace_pair=pace_pair,
        possessions=possessions[game],
        overtimes=overtimes[game].astype(np.int64),
        team_minutes=(_REGULATION_MINUTES + 25 * overtimes[game]).astype(np.int64),
        blowout=blowout[game],
        expected_efficiency=expected,
        efficiency=expected * (1.0 + swing),
    )


def _slot_values(slots: int, by_role: tuple[float, float, float]) -> FloatArray:
    """A per-slot array from (starters, rotation, deep bench) values."""
    slot = np.arange(slots)
    values: FloatArray = np.select(
        [slot < _STARTERS, slot < _FIRST_DEEP_SLOT], [by_role[0], by_role[1]], by_role[2]
    ).astype(np.float64)
    return values


def _play_minutes(
    rng: np.random.Generator, context: _GameContext, availability: _Availability, role: FloatArray
) -> IntArray:
    """Whole minutes per (row, slot); 0 for those who did not get in."""
    rows, slots = role.shape
    _, play_probability = _role_minutes(slots)
    slot = np.arange(slots)
    starter_slot, deep_slot = slot < _STARTERS, slot >= _FIRST_DEEP_SLOT
    blow = context.blowout[:, None]
    in_game = availability.plays & (rng.random((rows, slots)) < play_probability + deep_slot * 0.8 * blow)
    # A short-handed team dresses its deep bench: at least eight play whenever eight are available.
    idle = availability.plays & ~in_game
    shortfall = np.maximum(_MIN_PLAYERS_USED - in_game.sum(axis=1), 0)
    in_game |= idle & (np.cumsum(idle, axis=1) <= shortfall[:, None])
    # Blowouts rest the starters and empty the bench.
    garbage_time = np.where(starter_slot, 1.0 - 0.2 * blow, np.where(deep_slot, 1.0 + 2.5 * blow, 1.0))
    noise = np.exp(rng.normal(0.0, 1.0, (rows, slots)) * _slot_values(slots, _MINUTES_NOISE))
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
    sides: _TeamGames,
    context: _GameContext,
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
    turnovers = rng.poisson(context.possessions * _TOV_PER_POSSESSION)
    foul_calling = rng.lognormal(0.0, _FOUL_CALLING_SD, rows)  # some nights the whistle is busier
    free_throws = rng.poisson(context.possessions * _FTA_PER_POSSESSION * context.efficiency * foul_calling)
    first_shots = np.maximum(np.rint(context.possessions - turnovers - 0.44 * free_throws), 40).astype(
        np.int64
    )

    three_rate = np.clip(shooting[..., 0] * rng.lognormal(0.0, 0.05, (rows, slots)), 0.0, 0.95)
    luck = context.efficiency[:, None] * rng.lognormal(0.0, _SHOOTING_LUCK_SD, (rows, slots))
    two_pct = np.clip(shooting[..., 1] * luck, 0.0, 0.95)
    three_pct = np.clip(shooting[..., 2] * luck, 0.0, 0.9)

    def shoot(attempts: IntArray) -> tuple[IntArray, IntArray, IntArray]:
        threes = rng.binomial(attempts, three_rate)
        return threes, rng.binomial(threes, three_pct), rng.binomial(attempts - threes, two_pct)

    fga = _share(rng, first_shots, shot_weight)
    fg3a, fg3m, fg2m = shoot(fga)
    team_oreb = rng.binomial((fga - fg3m - fg2m).sum(axis=1), _OREB_CHANCE)
    second_chance = _share(rng, team_oreb, shot_weight)
    fg3a_2, fg3m_2, fg2m_2 = shoot(second_chance)
    fga, fg3a, fg3m, fg2m = fga + second_chance, fg3a + fg3a_2, fg3m + fg3m_2, fg2m + fg2m_2
    lumpy = rng.gamma(_FT_SHARE_SHAPE, 1.0, (rows, slots))
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
    team_dreb = rng.binomial(np.maximum(misses[opp] - team_oreb[opp], 0), _DREB_CREDIT)
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
        "ast": _share(rng, rng.binomial(fgm.sum(axis=1), _ASSISTED_SHARE), by_minutes[..., 2]),
        "stl": rng.poisson(by_minutes[..., 3]),
        "blk": rng.poisson(by_minutes[..., 4]),
        "tov": _share(rng, turnovers, by_minutes[..., 5]),
        "pf": np.minimum(rng.poisson(by_minutes[..., 6]), 6),  # six fouls and you are out
        "plus_minus": np.rint(plus_minus).astype(np.int64),
        "points_paint": 2 * paint,
        "points_mid_range": 2 * (fg2m - paint),
    }


def _expected_points(
    context: _GameContext,
    sides: _TeamGames,
    status: IntArray,
    role: FloatArray,
    usage: FloatArray,
    shooting: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Expected minutes and points per (row, slot) from what is known before tip-off: statuses,
    roles, recent form and the matchup, not the night's draws."""
    _, play_probability = _role_minutes(role.shape[1])
    availability = np.select(
        [(status == _OUT) | (status == _DOUBTFUL), status == _QUESTIONABLE], [0.0, 0.7], 1.0
    )
    expected_role = role * play_probability * availability
    overtime_minutes = _OVERTIME_RATE * 1.17 * 25.0
    minutes = expected_role * ((_REGULATION_MINUTES + overtime_minutes) / expected_role.sum(axis=1))[:, None]
    weight = minutes * usage
    possessions = context.pace_pair[sides.game] * (1.0 + overtime_minutes / _REGULATION_MINUTES)
    fga = (possessions * _FGA_PER_POSSESSION)[:, None] * _shares(weight)
    fta = (possessions * _FTA_PER_POSSESSION * context.expected_efficiency)[:, None] * _shares(
        weight * shooting[..., 3]
    )
    three, two_pct, three_pct = shooting[..., 0], shooting[..., 1], shooting[..., 2]
    per_shot = 2.0 * two_pct * (1.0 - three) + 3.0 * three_pct * three
    points: FloatArray = fga * per_shot * context.expected_efficiency[:, None] + fta * shooting[..., 4]
    return minutes, points


def _simulate_season(
    rng: np.random.Generator, sched: _Schedule, rosters: _Rosters, season_index: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Box scores of every game of a season, and the pre-game view of every rostered player-game
    (status, expected minutes, expected points) that lines and injury reports are built from."""
    members = rosters.members[season_index]
    slots = members.shape[1]
    games = sched.frame
    sides = _team_games(sched)
    context = _game_context(rng, sched, sides)
    rows = sides.team.size
    availability = _availability(rng, sides.rest_days, slots)

    # Roles drift over the season; the night's noise comes on top in _play_minutes.
    role_minutes, _ = _role_minutes(slots)
    minutes_form = _drift(rng, slots, _slot_values(slots, _MINUTES_FORM_SD))
    usage_form = _drift(rng, slots, _USAGE_FORM_SD)
    role = role_minutes * rosters.minutes_bias[season_index][sides.team] * np.exp(minutes_form)
    minutes = _play_minutes(rng, context, availability, role)
    played = minutes > 0
    starter = played & (np.cumsum(played, axis=1) <= _STARTERS)

    shooting = rosters.shooting[members][sides.team]  # (rows, slots, 6)
    # Usage: shots per minute that turn the player's talent (points per minute) into points.
    usage = rosters.talent[season_index][sides.team] / _points_per_attempt(shooting) * np.exp(usage_form)
    share_shape = _slot_values(slots, _SHOT_SHARE_SHAPE)
    shot_weight = minutes * usage * rng.gamma(share_shape, 1.0 / share_shape, (rows, slots))
    rates = rosters.rates[members][sides.team] * rosters.stat_scale[season_index]
    box = _box_scores(rng, sides, context, minutes, shot_weight, shooting, rates)

    team_ids = np.array([t.team_id for t in NBA_TEAMS], dtype=np.int64)
    player_ids = _PLAYER_ID_BASE + 1 + members[sides.team]
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
    reported = tipoff[:, None] - _hours(rng.uniform(18.0, 30.0, (rows, slots)))
    ruled_out = tipoff[:, None] - _hours(rng.uniform(0.5, 1.5, (rows, slots)))
    reason_text = np.array([*_REASONS, ""], dtype=object)[availability.reason]
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


def _hours(values: FloatArray) -> npt.NDArray[np.timedelta64]:
    return np.rint(values * 3600.0).astype(np.int64).astype("timedelta64[s]")


# -- prop lines and injury reports -------------------------------------------------------------------


def _last_ten(logs: pd.DataFrame) -> pd.DataFrame:
    """Each player's average over his last ten games after every game (five at least), vectorised
    with a cumulative sum instead of a rolling window per player."""
    frame = logs[["player_id", "game_date", "points"]].sort_values(["player_id", "game_date"], kind="stable")
    by_player = frame.groupby("player_id", sort=False)
    running = by_player["points"].cumsum()
    ten_back = running.groupby(frame["player_id"]).shift(10).fillna(0)
    played = by_player.cumcount() + 1
    frame["last_ten"] = ((running - ten_back) / played.clip(upper=10)).where(played >= 5)
    return frame.dropna(subset=["last_ten"])[["player_id", "game_date", "last_ten"]]


def _prop_lines(
    rng: np.random.Generator,
    slate: pd.DataFrame,
    logs: pd.DataFrame,
    played_through: pd.Timestamp,
    horizon: pd.Timestamp,
) -> pd.DataFrame:
    """Points lines from each bookmaker for every player with a real role, over the day before tip,
    for games up to `horizon`.

    The market's estimate blends what it knows before the game (role, injuries, matchup) with the
    player's last-ten average, plus noise: a little sharper than the last-ten average alone. Books
    differ by a few tenths, open about a day before tip with one to three later snapshots, move a
    point now and then toward the news, and pull a player ruled out late. Some played games also
    have a live line after tip-off, which consumers must ignore.

    Every draw is made for every (player-game, book) of the simulation, in a fixed layout of five
    snapshot slots (opening, up to three later, live), and only then cut to the horizon: the lines
    of a game do not depend on where `played_through` falls, and only the kept games are expanded."""
    slate = slate.sort_values("game_date", kind="stable").reset_index(drop=True)
    listed = (slate["expected_minutes"] >= _LINE_MIN_MINUTES) & ~slate["status"].isin([_OUT, _DOUBTFUL])
    listed &= (slate["status"] != _QUESTIONABLE) | (rng.random(len(slate)) < 0.5)
    candidates = slate.loc[listed].reset_index(drop=True)
    recent = pd.merge_asof(
        candidates[["game_date", "player_id"]],
        _last_ten(logs).sort_values("game_date", kind="stable"),
        on="game_date",
        by="player_id",
        allow_exact_matches=False,
    )["last_ten"].to_numpy()
    expected = candidates["expected_points"].to_numpy()
    blended = (1 - _MARKET_RECENT_WEIGHT) * expected + _MARKET_RECENT_WEIGHT * recent
    market = np.where(np.isnan(recent), expected, blended)
    # Books hang the line near the median, which for right-skewed points sits below the mean.
    market = np.maximum(
        market - _MEDIAN_BELOW_MEAN + rng.normal(0.0, _MARKET_NOISE, market.size), _LOWEST_LINE
    )
    news = market + rng.normal(0.0, 0.6, market.size)  # where the market drifts by tip-off

    # (candidate, book) pairs; stars are listed everywhere, role players not by every book.
    n_books = len(BOOKMAKERS)
    pair = np.repeat(np.arange(len(candidates)), n_books)
    book = np.tile(np.arange(n_books), len(candidates))
    regular = np.where(candidates["expected_minutes"].to_numpy()[pair] >= 24, 1.0, 0.8)
    listed_by_book = rng.random(pair.size) < np.array(_BOOK_LISTING)[book] * regular
    pair, book = pair[listed_by_book], book[listed_by_book]
    n = pair.size
    opening = np.floor(market[pair] + rng.normal(0.0, 0.3, n)) + 0.5  # lines sit on the half point
    later = rng.integers(1, 4, n)
    live = rng.random(n) < 0.15
    lead_hours = rng.uniform(20.0, 26.0, n)
    slice_position = rng.uniform(0.15, 0.85, (n, 3))
    with_the_news = rng.random((n, 3))
    move_size = np.select([rng.random((n, 3)) < 0.04, rng.random((n, 3)) < 0.25], [2.0, 1.0], 0.0)
    live_move = np.round(rng.normal(0.0, 2.0, n))
    live_after_hours = rng.uniform(0.05, 1.3, n)

    kept = candidates["game_date"].to_numpy()[pair] <= horizon.to_datetime64()
    pair, book, later, live = pair[kept], book[kept], later[kept], live[kept]
    opening, lead_hours = opening[kept], lead_hours[kept]
    live_move, live_after_hours = live_move[kept], live_after_hours[kept]
    slice_position, with_the_news, move_size = slice_position[kept], with_the_news[kept], move_size[kept]

    # Times: the opening, then later snapshots in separate slices of the window up to five minutes
    # before tip (strictly increasing), then the live one after tip.
    tipoff = candidates["tipoff_utc"].to_numpy()[pair]
    opened_at = tipoff - _hours(lead_hours)
    window = ((tipoff - np.timedelta64(5, "m")) - opened_at).astype(np.float64)
    k = np.arange(1, 4)[None, :]
    fraction = (k - 1 + slice_position) / later[:, None]
    taken = np.concatenate(
        [
            opened_at[:, None],
            opened_at[:, None] + (window[:, None] * fraction).astype("timedelta64[ns]"),
            (tipoff + _hours(live_after_hours))[:, None],
        ],
        axis=1,
    )
    # Lines: moves toward the news more often than not; the live line swings from the last one.
    toward = np.sign(news[pair] - opening)
    toward = np.where(toward == 0, 1.0, toward)[:, None]
    direction = np.where(with_the_news < 0.5 + 0.3 * (news[pair] != opening)[:, None], toward, -toward)
    before_tip = opening[:, None] + np.concatenate(
        [np.zeros((pair.size, 1)), np.cumsum(direction * move_size, axis=1)], axis=1
    )
    closing = np.take_along_axis(before_tip, later[:, None], axis=1)[:, 0]
    line = np.maximum(
        np.concatenate([before_tip, (closing + live_move)[:, None]], axis=1), _LOWEST_LINE + 0.5
    )

    game_played = (candidates["game_date"].to_numpy()[pair] <= played_through.to_datetime64()) & candidates[
        "played"
    ].to_numpy()[pair].astype(bool)
    exists = np.concatenate(
        [np.ones((pair.size, 1), bool), k <= later[:, None], (live & game_played)[:, None]], axis=1
    )
    # A player ruled out late is taken off the board from that moment.
    late_out = candidates["late_out"].to_numpy()[pair].astype(bool)
    pulled = late_out[:, None] & (taken >= candidates["ruled_out_at"].to_numpy()[pair][:, None])
    row, slot = np.nonzero(exists & ~pulled)

    # Prices: -110 both ways, shaded toward the side the book expects the money on.
    chosen_line = line[row, slot]
    skew = np.clip(5.0 * np.round(2.0 * (news[pair][row] - chosen_line)), -15.0, 15.0)
    return pd.DataFrame(
        {
            "game_id": candidates["game_id"].to_numpy()[pair][row],
            "game_date": candidates["game_date"].to_numpy()[pair][row],
            "player_id": candidates["player_id"].to_numpy()[pair][row],
            "bookmaker": np.array(BOOKMAKERS)[book][row],
            "line": chosen_line,
            "over_price": _american(-110.0 - skew),
            "under_price": _american(-110.0 + skew),
            "snapshot_at": taken[row, slot],
        }
    )


def _american(price: FloatArray) -> IntArray:
    """American odds skip (-100, +100): -95 is written +105."""
    whole = np.rint(price)
    return np.where(whole > -100, whole + 200, whole).astype(np.int64)


def _injury_reports(slate: pd.DataFrame, horizon: pd.Timestamp) -> pd.DataFrame:
    """One entry per listed player-game the afternoon before, plus a late OUT when he is ruled out."""
    listed = slate.loc[(slate["status"] != _NONE) & (slate["game_date"] <= horizon)]
    status_text = np.array(_STATUS_TEXT, dtype=object)
    first = pd.DataFrame(
        {
            "game_id": listed["game_id"],
            "game_date": listed["game_date"],
            "player_id": listed["player_id"],
            "status": status_text[listed["status"].to_numpy()],
            "reason": listed["reason"],
            "reported_at": listed["reported_at"],
        }
    )
    late = listed.loc[listed["late_out"]]
    ruled_out = pd.DataFrame(
        {
            "game_id": late["game_id"],
            "game_date": late["game_date"],
            "player_id": late["player_id"],
            "status": "OUT",
            "reason": late["reason"],
            "reported_at": late["ruled_out_at"],
        }
    )
    return pd.concat([first, ruled_out], ignore_index=True).sort_values(
        ["game_date", "game_id", "player_id", "reported_at"], kind="stable", ignore_index=True
    )


# -- frames -------------------------------------------------------------------------------------------


def _players_frame(rosters: _Rosters) -> pd.DataFrame:
    """Everyone who played in any season; team_id is the current (last season's) team, NULL for
    players who have left the league."""
    count = len(rosters.names)
    team_ids = np.array([t.team_id for t in NBA_TEAMS], dtype=np.int64)
    current = rosters.members[-1]
    team_id = pd.array([pd.NA] * count, dtype="Int64")
    team_id[current.ravel()] = np.repeat(team_ids, current.shape[1])
    return pd.DataFrame(
        {
            "player_id": _PLAYER_ID_BASE + 1 + np.arange(count),
            "name": rosters.names,
            "team_id": team_id,
            "position": np.array(_POSITIONS)[rosters.position],
            "birth_date": rosters.birth,
        }
    )


def _pandas_dtype(spec: Table, name: str) -> np.dtype[Any] | ExtensionDtype | None:
    """The dtype the warehouse reads a column back as; None leaves strings as pandas made them."""
    column = spec.column(name)
    if column.type is ColumnType.INT64:
        return np.dtype("int64") if column.required else pd.Int64Dtype()
    if column.type is ColumnType.FLOAT64:
        return np.dtype("float64")
    if column.type is ColumnType.BOOL:
        return np.dtype("bool") if column.required else pd.BooleanDtype()
    if column.type is ColumnType.DATE:
        return np.dtype("datetime64[us]")
    if column.type is ColumnType.TIMESTAMP:
        return pd.DatetimeTZDtype("us", "UTC")
    return None


def _conform(frame: pd.DataFrame, table_name: str) -> pd.DataFrame:
    """Exactly the schema's columns, in its order, with the dtypes the warehouse reads back."""
    spec = table(table_name)
    out = frame.reindex(columns=spec.column_names).reset_index(drop=True)
    for name in spec.column_names:
        dtype = _pandas_dtype(spec, name)
        if isinstance(dtype, pd.DatetimeTZDtype) and not isinstance(out[name].dtype, pd.DatetimeTZDtype):
            out[name] = pd.to_datetime(out[name]).dt.tz_localize("UTC")  # naive values are UTC here
        if dtype is not None:
            out[name] = out[name].astype(dtype)
    return out
