"""DataFrames shaped like warehouse tables, for the synthetic league, the importers and team stats."""

from __future__ import annotations

import pandas as pd

from shared.schema import ColumnType, table


def conform(frame: pd.DataFrame, table_name: str) -> pd.DataFrame:
    """Exactly the table's columns in schema order, with the dtypes the warehouse reads back (naive
    timestamps are taken as UTC); strings stay as they are."""
    spec = table(table_name)
    out = frame.reindex(columns=spec.column_names).reset_index(drop=True)
    for column in spec.columns:
        name = column.name
        if column.type is ColumnType.INT64:
            out[name] = out[name].astype("int64" if column.required else "Int64")
        elif column.type is ColumnType.FLOAT64:
            out[name] = out[name].astype("float64")
        elif column.type is ColumnType.BOOL:
            out[name] = out[name].astype("bool" if column.required else "boolean")
        elif column.type is ColumnType.DATE:
            out[name] = pd.to_datetime(out[name]).astype("datetime64[us]")
        elif column.type is ColumnType.TIMESTAMP:
            out[name] = pd.to_datetime(out[name], utc=True).astype("datetime64[us, UTC]")
    return out
