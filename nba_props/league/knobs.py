"""The synthetic league's constants and calibration knobs (docs/calibration.md shows what they
reproduce), and the array types its modules share."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from nba_props.nba_teams import NBA_TEAMS

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

N_TEAMS: Final = len(NBA_TEAMS)
GAMES_PER_TEAM: Final = 82
REGULATION_MINUTES: Final = 240  # five players x 48 minutes
PLAYER_ID_BASE: Final = 9_100_000  # far above any real nba_api person id, so the two never collide


# -- calibration knobs (docs/calibration.md shows what they reproduce) ----------------------------

# Roles. Minutes per roster slot before rescaling to the team's 240, and how often a healthy player
# in that slot gets into the game at all: the last four or five are garbage-time players, often DNP.
ROLE_MINUTES: Final = (38.5, 36.5, 34.7, 33.1, 31.7, 24.0, 21.5, 19.0, 16.5, 10.5, 6.0, 4.5, 3.5, 3.0)
PLAY_PROBABILITY: Final = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.99, 0.98, 0.96, 0.60, 0.40, 0.28, 0.20, 0.16)
EXTRA_SLOT_MINUTES: Final = 3.0  # rosters longer than 14
EXTRA_SLOT_PLAY: Final = 0.12
STARTERS: Final = 5
FIRST_DEEP_SLOT: Final = 9
MIN_PLAYERS_USED: Final = 8
# Per-game noise and slow drift (AR(1), log scale) of minutes, by role: starters, rotation, deep
# bench. Bench roles swing far more than starters' (real minutes sd 7-8 against 5). The drift is
# what makes a recent average a better guess than a season-long one, as in the real logs.
MINUTES_NOISE: Final = (0.07, 0.33, 0.65)
MINUTES_FORM_SD: Final = (0.08, 0.25, 0.40)
FORM_PERSISTENCE: Final = 0.95
# Talent is points per minute. Real scoring per minute is flat (~0.36-0.41) for role players and
# jumps for the one or two stars a team has: a floor plus an exponential tail, smoothed by a little
# log-normal noise. Roles follow talent, imperfectly (coaches also play defenders and veterans).
TALENT_FLOOR: Final = 0.25
TALENT_TAIL: Final = 0.16
TALENT_SMOOTHING: Final = 0.08
ROOKIE_DISCOUNT: Final = 0.9
ROLE_NOISE: Final = 0.12
# Shot share on the night: a drifting usage, and a gamma shock whose shape is by role (a star's
# share is steady, a bench player's swings with garbage time and matchups). Free throws are lumpier
# still (and-ones, late fouling): real player FTA varies about twice as much as Poisson.
USAGE_FORM_SD: Final = 0.10
SHOT_SHARE_SHAPE: Final = (150.0, 15.0, 6.0)
FT_SHARE_SHAPE: Final = 4.0
FOUL_DRAWING: Final = 0.8  # free-throw rate grows with talent: scorers draw fouls
SHOOTING_LUCK_SD: Final = 0.05  # log-sd of a player's shooting percentages on the night
# Team game. Real 2022-24 per team game: 101.2 estimated possessions, 88.6 FGA, 22.6 FTA (sd 7.0:
# overdispersed), 13.2 TOV, 10.5 OREB (22.6% of misses), 33.0 DREB (92% of the misses left to the
# defence), 26.0 AST on 42.1 FGM.
PACE_MEAN: Final = 100.6
PACE_TEAM_SD: Final = 2.2
PACE_GAME_SD: Final = 3.6
FGA_PER_POSSESSION: Final = 0.875
FTA_PER_POSSESSION: Final = 0.223
TOV_PER_POSSESSION: Final = 0.130
OREB_CHANCE: Final = 0.255  # of first-shot misses; second-chance misses all go to the defence
DREB_CREDIT: Final = 0.92
ASSISTED_SHARE: Final = 0.618
FOUL_CALLING_SD: Final = 0.18
OVERTIME_RATE: Final = 0.06
TEAM_OFFENCE_SD: Final = 0.028
TEAM_DEFENCE_SD: Final = 0.022
# Game-efficiency effects on every make and trip to the line.
HOME_EDGE: Final = 0.018  # home ~1.8% more efficient than away (real 2022-24: +2.0% points)
BACK_TO_BACK: Final = 0.04  # second night of a back-to-back: -4%
LONG_REST: Final = 0.01  # three or more days off: +1%
PER_TIME_ZONE: Final = 0.007  # each time zone crossed since the last game: -0.7%
BLOWOUT_SWING: Final = 0.04  # efficiency swing of a lopsided game, which also empties the bench
# Per-36-minute rates by position (OREB, DREB, AST, STL, BLK, TOV, PF). Rebounds, assists and
# turnovers are shares of the team's totals; steals, blocks and fouls are rescaled so that a team's
# totals match the real per-game means.
TEAM_STAT_TARGETS: Final = (10.5, 33.0, 26.0, 7.4, 4.9, 13.2, 19.4)
POSITIONS: Final = ("G", "F", "C", "G-F", "F-C")
POSITION_SHARE: Final = (0.36, 0.30, 0.16, 0.10, 0.08)
POSITION_RATES: Final = (
    (0.7, 3.6, 5.6, 1.2, 0.3, 2.0, 2.4),
    (1.4, 5.0, 2.7, 1.0, 0.6, 1.5, 2.9),
    (3.2, 7.8, 2.3, 0.8, 1.6, 1.8, 3.4),
    (1.0, 4.3, 3.8, 1.1, 0.45, 1.7, 2.6),
    (2.3, 6.4, 2.5, 0.9, 1.1, 1.6, 3.1),
)
# Shooting profile by position: share of FGA from three, 2P%, 3P%, FTA per FGA, FT%, paint share of
# two-point makes (the rest are mid-range).
POSITION_SHOOTING: Final = (
    (0.47, 0.515, 0.370, 0.22, 0.81, 0.70),
    (0.44, 0.545, 0.365, 0.23, 0.77, 0.80),
    (0.13, 0.615, 0.340, 0.32, 0.70, 0.93),
    (0.46, 0.525, 0.370, 0.22, 0.79, 0.75),
    (0.30, 0.575, 0.355, 0.27, 0.74, 0.87),
)
# Injury report: spells of OUT games (mostly short, some long), one-game statuses, and stars
# resting the second night of a back-to-back.
SPELL_START: Final = 0.014
SPELL_SHORT_MEAN: Final = 3.0
SPELL_LONG_MEAN: Final = 14.0
SPELL_LONG_SHARE: Final = 0.15
SINGLE_STATUS_RATE: Final = (0.005, 0.02, 0.015)  # DOUBTFUL, QUESTIONABLE, PROBABLE
PLAYS_WHEN: Final = (0.0, 0.2, 0.72, 0.97)  # chance to play: OUT, DOUBTFUL, QUESTIONABLE, PROBABLE
STAR_REST: Final = 0.08
# Prop market.
LINE_MIN_MINUTES: Final = 15.0
BOOK_LISTING: Final = (0.96, 0.95, 0.82, 0.75)  # chance a book lists a starter, in BOOKMAKERS order
MARKET_NOISE: Final = 0.9
MARKET_RECENT_WEIGHT: Final = 0.45  # weight of the last-10 average in the market's estimate
MEDIAN_BELOW_MEAN: Final = 0.5
LOWEST_LINE: Final = 3.0  # books do not hang points lines much below 3.5

# Games per day by weekday, Monday first (real 2021-24: 8.1, 5.8, 9.9, 4.8, 9.6, 7.0, 7.6).
WEEKDAY_WEIGHT: Final = (1.07, 0.77, 1.31, 0.64, 1.27, 0.93, 1.0)
LOCAL_TIPOFF_MINUTES: Final = (19 * 60, 19 * 60 + 30, 20 * 60, 20 * 60 + 30)
LOCAL_TIPOFF_SHARE: Final = (0.42, 0.33, 0.18, 0.07)

INJURY_REASONS: Final = (
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
REST_REASON: Final = "Rest"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Synthetic names: common first and last names, combined without repetition.
FIRST_NAMES: Final = _words(
    "Aaron Andre Bam Ben Brandon Caleb Cam Chris Cole Damian Darius De'Andre Derrick Devin Dylan "
    "Elijah Evan Franz Gary Grant Isaiah Jalen Jamal Jaren Jaylen Jordan Josh Julius Karl Keegan "
    "Kevin Kyle Lamar Luka Malik Marcus Mikal Myles Nikola Obi Onyeka Pascal Quentin RJ Reggie "
    "Scottie Shai Terry Tre Tyrese Victor Walker Xavier Zach Zion Alperen Dejounte Herb Immanuel Nic"
)
LAST_NAMES: Final = _words(
    "Adams Allen Anderson Bailey Barnes Bell Bennett Brooks Brown Bryant Carter Clark Coleman Collins "
    "Cooper Davis Edwards Ellis Evans Fisher Flores Ford Foster Gordon Graham Grant Green Hall Harris "
    "Hayes Henderson Hill Holmes Howard Hughes Jackson James Jenkins Johnson Jones Jordan Kelly King "
    "Lewis Martin Mitchell Moore Morgan Murray Nelson Okafor Parker Perry Porter Powell Price Reed "
    "Richardson Robinson Ross Russell Sanders Scott Simmons Smith Stewart Sullivan Thomas Thompson "
    "Turner Walker Wallace Washington Watson White Williams Wilson Wright Young Diallo"
)

# Status codes in the dense arrays; index into STATUS_TEXT.
NOT_LISTED, OUT, DOUBTFUL, QUESTIONABLE, PROBABLE = 0, 1, 2, 3, 4
STATUS_TEXT: Final = ("", *INJURY_STATUSES)
REASONS: Final = (*INJURY_REASONS, REST_REASON)
CHANCE_TO_PLAY: Final = (1.0, *PLAYS_WHEN)  # by status code
