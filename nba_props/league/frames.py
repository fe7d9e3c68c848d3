"""The League: one DataFrame per warehouse table (schema columns, warehouse dtypes), played through a date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from nba_props.league.knobs import TABLE_NAMES
from shared.warehouse import Warehouse


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
