"""A seeded, realistic synthetic NBA league: the embedded demo's data, the tests' fixtures and the
benchmarks' load, calibrated against real nba_api game logs (docs/calibration.md).

Each concern (rosters, schedule, box scores, lines) draws from its own numpy Generator spawned
from the seed, so changing how lines are drawn does not reshuffle the box scores.
"""

from nba_props.league.frames import League
from nba_props.league.generate import generate_league
from nba_props.league.knobs import BOOKMAKERS, INJURY_STATUSES, TABLE_NAMES

__all__ = ["BOOKMAKERS", "INJURY_STATUSES", "TABLE_NAMES", "League", "generate_league"]
