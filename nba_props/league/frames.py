"""The league as one DataFrame per warehouse table, in the warehouse's columns and dtypes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionDtype

from nba_props.league.knobs import TABLE_NAMES
from shared.schema import ColumnType, Table, table
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


def conform(frame: pd.DataFrame, table_name: str) -> pd.DataFrame:
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
