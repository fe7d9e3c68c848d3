"""The dialect-free building blocks of the schema: column types, columns and tables."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ColumnType(StrEnum):
    STRING = "STRING"
    INT64 = "INT64"
    FLOAT64 = "FLOAT64"
    BOOL = "BOOL"
    DATE = "DATE"
    TIMESTAMP = "TIMESTAMP"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    partition_by: str | None = None
    # Month partitions keep a decade of history far below BigQuery's 10,000-partition limit.
    partition_granularity: str = "DAY"
    cluster_by: tuple[str, ...] = ()
    require_partition_filter: bool = False

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def cols(*spec: tuple[str, ColumnType] | tuple[str, ColumnType, bool] | Column) -> tuple[Column, ...]:
    out: list[Column] = []
    for item in spec:
        if isinstance(item, Column):
            out.append(item)
        elif len(item) == 2:
            out.append(Column(item[0], item[1]))
        else:
            out.append(Column(item[0], item[1], item[2]))
    return tuple(out)


STRING, INT64, FLOAT64, BOOL, DATE, TIMESTAMP = (
    ColumnType.STRING,
    ColumnType.INT64,
    ColumnType.FLOAT64,
    ColumnType.BOOL,
    ColumnType.DATE,
    ColumnType.TIMESTAMP,
)
