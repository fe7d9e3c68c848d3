"""The warehouse port: named batch reads, idempotent appends, and the few DML statements batches need.

Adapters (`duckdb.DuckDbWarehouse`, `bigquery.BigQueryWarehouse`) run the BigQuery-dialect SQL files
of `shared/sql`, each translating it and rendering DDL from `shared/schema.py` for its engine. Reads
come back as typed records (`records`, NULLs normalised here, once) or as a DataFrame (`query`) for
the frame pipelines of features and training.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from shared.errors import WarehouseUnavailable
from shared.schema import Table, table

QueryParams = Mapping[str, Any]
Record = dict[str, Any]


@runtime_checkable
class Warehouse(Protocol):
    """What the services need from a warehouse, and nothing more."""

    @property
    def query_count(self) -> int:
        """Statements run since this adapter was created (tests and load metrics use it)."""
        ...

    def create_schema(self) -> None:
        """Create every table and view if missing; safe to call again."""
        ...

    def query(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> pd.DataFrame:
        """Run the named read statement under the timeout; raise QueryTimeout when it expires."""
        ...

    def records(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> list[Record]:
        """The named read statement's rows as plain values (see `plain`), under the same timeout."""
        ...

    def execute(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> int:
        """Run the named DML statement (batch bookkeeping); return the number of rows it changed."""
        ...

    def append(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Append rows keyed by the table's primary key; a row whose key exists already is dropped.

        Returns the number of rows handed over. Idempotent: redelivering the same rows adds none.
        """
        ...

    def load_frame(self, table: str, frame: pd.DataFrame) -> int:
        """Bulk-load a DataFrame (generator, importer) with the same keep-the-first semantics."""
        ...

    @property
    def write_failure(self) -> WarehouseUnavailable | None:
        """Why the last write failed for want of the warehouse, until a write succeeds again; None
        while writes succeed. Costs nothing: readiness asks it on every probe."""
        ...

    def close(self) -> None: ...


class WriteHealth:
    """Remembers the failure of the last write (`WarehouseUnavailable`) until a write succeeds:
    what an adapter's `write_failure` answers. Other errors (a bad row, a timeout) leave it as is."""

    def __init__(self) -> None:
        self.failure: WarehouseUnavailable | None = None

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Run one write, recording how it ended."""
        try:
            yield
        except WarehouseUnavailable as exc:
            self.failure = exc
            raise
        self.failure = None


def is_null(value: Any) -> bool:
    """Whether a cell is SQL NULL in any of its Python spellings (None, NaN, NaT, NA)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def plain(value: Any) -> Any:
    """A cell as a plain Python value: NULLs become None, numpy scalars Python ones, timestamps
    timezone-aware `datetime`s in UTC (naive ones are UTC); dates stay `date`; arrays and structs
    are converted element by element."""
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if is_null(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def plain_records(rows: Iterable[Mapping[Any, Any]]) -> list[Record]:
    """Rows of any adapter as records of plain values: the one place NULLs are normalised."""
    return [{str(key): plain(value) for key, value in row.items()} for row in rows]


def frame_records(frame: pd.DataFrame) -> list[Record]:
    """A DataFrame's rows as records of plain values (`plain`), whatever dtypes it holds."""
    return plain_records(frame.astype(object).to_dict("records"))


def in_table_order(table_name: str, frame: pd.DataFrame) -> tuple[Table, pd.DataFrame]:
    """The table and the frame's columns in its order (absent nullable ones as NULL); refuses a frame
    that lacks a required column."""
    spec = table(table_name)
    missing = [c for c in spec.column_names if c not in frame.columns and spec.column(c).required]
    if missing:
        raise ValueError(f"{table_name}: rows lack required columns {missing}")
    return spec, frame.reindex(columns=spec.column_names)


def retrying_conflicts(conflict: type[Exception], attempts: int, *, most_s: float = 0.2) -> Retrying:
    """Run again a statement that lost a write conflict, after a random backoff of at most `most_s`;
    the last conflict is re-raised."""
    return Retrying(
        retry=retry_if_exception_type(conflict),
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=most_s / 20, max=most_s),
        reraise=True,
    )
