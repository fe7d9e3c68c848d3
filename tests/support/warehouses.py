"""One small synthetic night, loadable into any warehouse adapter, and backend-neutral helpers.

The BigQuery emulator loads ~25k rows a second, so the night keeps only what the nightly queries
read: the full box-score history (the history query's window is 550 days), but line snapshots and
injury reports only around the predicted date (the slate and lines queries read that date alone).
Loaded into DuckDB and the emulator alike, both backends hold exactly the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import pandas as pd

from shared.warehouse import Warehouse

SEED = 23
# The generator's smallest roster: the fewest rows that still make a realistic night.
PLAYERS_PER_TEAM = 10
# Line snapshots and injury reports are kept this many days either side of the predicted date.
KEEP_AROUND_DAYS = 3
_TRIMMED = ("prop_line_snapshots", "injury_reports")


@dataclass(frozen=True)
class Night:
    """The tables of a league (trimmed as above) and the date to predict."""

    frames: dict[str, pd.DataFrame]
    game_date: date

    def load_into(self, warehouse: Warehouse) -> dict[str, int]:
        """Create the schema and load every table; returns rows handed over per table."""
        warehouse.create_schema()
        return {name: warehouse.load_frame(name, frame) for name, frame in self.frames.items()}

    @property
    def rows(self) -> int:
        return sum(len(frame) for frame in self.frames.values())


@cache
def small_night(seed: int = SEED) -> Night:
    """A seeded league with the generator's smallest rosters (generated once per process)."""
    from nba_props.league import generate_league

    league = generate_league(seed, players_per_team=PLAYERS_PER_TEAM)
    game_date = league.next_game_date
    if game_date is None:
        raise RuntimeError("the generated league has no unplayed date")
    lo = pd.Timestamp(game_date - timedelta(days=KEEP_AROUND_DAYS))
    hi = pd.Timestamp(game_date + timedelta(days=KEEP_AROUND_DAYS))
    frames = {}
    for name, frame in league.frames().items():
        if name in _TRIMMED:
            days = pd.to_datetime(frame["game_date"])
            frame = frame.loc[(days >= lo) & (days <= hi)].reset_index(drop=True)
        frames[name] = frame
    return Night(frames, game_date)
