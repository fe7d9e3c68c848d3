"""THE OLD WAYS, for comparison only: code the nightly path replaced, kept so the bench can time it
against what replaced it on the same inputs. The services never import this module.

* `PerPlayerWarehouse`: the loader of the system this project replaces, one history query and one
  lines query per player.
* `OldDuckDbAppend`: ``DuckDbWarehouse.append`` before group commit, verbatim apart from its name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from shared.schema import table
from shared.warehouse import QueryParams, Warehouse

PER_PLAYER_QUERIES = frozenset({"history", "lines"})


class PerPlayerWarehouse:
    """A `Warehouse` that splits ``history`` and ``lines`` into one query per player id (the same SQL
    file, ``player_ids=[that player]``) and concatenates the answers in player order, as frames or
    as records; every other call goes to the wrapped warehouse as it is."""

    def __init__(self, inner: Warehouse) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def query(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> pd.DataFrame:
        if name not in PER_PLAYER_QUERIES:
            return self.inner.query(name, params, timeout_s=timeout_s)
        frames = [
            self.inner.query(name, {**params, "player_ids": [player]}, timeout_s=timeout_s)
            for player in params["player_ids"]
        ]
        non_empty = [f for f in frames if not f.empty]
        if not non_empty:
            return frames[0] if frames else self.inner.query(name, params, timeout_s=timeout_s)
        return pd.concat(non_empty, ignore_index=True)

    def records(
        self, name: str, params: QueryParams, *, timeout_s: float | None = None
    ) -> list[dict[str, Any]]:
        if name not in PER_PLAYER_QUERIES:
            return self.inner.records(name, params, timeout_s=timeout_s)
        return [
            row
            for player in params["player_ids"]
            for row in self.inner.records(name, {**params, "player_ids": [player]}, timeout_s=timeout_s)
        ]


class OldDuckDbAppend:
    """One ``INSERT OR IGNORE`` per call from a registered pandas frame: one transaction a message."""

    def __init__(self, path: Path) -> None:
        self._root = duckdb.connect(str(path))
        self.statements = 0
        self._local: dict[int, duckdb.DuckDBPyConnection] = {}

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        key = threading.get_ident()
        if key not in self._local:
            self._local[key] = self._root.cursor()
        return self._local[key]

    def append(self, table_name: str, rows: Sequence[Mapping[str, Any]]) -> None:
        spec = table(table_name)
        frame = pd.DataFrame.from_records(list(rows), columns=spec.column_names)
        ordered = frame.reindex(columns=spec.column_names)
        cursor = self._cursor()
        self.statements += 1
        cursor.register("incoming_rows", ordered)
        try:
            for attempt in range(8):
                try:
                    cursor.execute(f"INSERT OR IGNORE INTO {spec.name} SELECT * FROM incoming_rows")
                    return
                except (duckdb.TransactionException, duckdb.ConstraintException):
                    if attempt == 7:
                        raise
                    time.sleep(0.01)
        finally:
            cursor.unregister("incoming_rows")

    def close(self) -> None:
        self._root.close()
