"""The warehouse port: named batch reads, idempotent appends, and the few DML statements batches need.

Adapters: `DuckDbWarehouse` (embedded default) and `BigQueryWarehouse` (cloud). Both run the same
BigQuery-dialect SQL files from `shared/sql`; DuckDB gets them transpiled by sqlglot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import pandas as pd

QueryParams = Mapping[str, Any]


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

    def records(
        self, name: str, params: QueryParams, *, timeout_s: float | None = None
    ) -> list[dict[str, Any]]:
        """The named read statement's rows as plain dicts, NULLs as None (see `frame_records`)."""
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

    def close(self) -> None: ...


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts, the one place NULLs are normalised: NaN, NaT and NA become None and
    timestamps become timezone-aware `datetime`s (UTC), whatever dtype the adapter's frame used."""
    out: list[dict[str, Any]] = []
    for row in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        clean: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, pd.Timestamp):
                value = (value if value.tzinfo is not None else value.tz_localize("UTC")).to_pydatetime()
            clean[str(key)] = value
        out.append(clean)
    return out
