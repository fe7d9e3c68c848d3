"""DuckDB file warehouse: the embedded default. One process owns the file; threads share it."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from shared.errors import QueryTimeout, WarehouseUnavailable
from shared.schema import TABLES, VIEWS, table
from shared.sql import check_params, statement
from shared.warehouse import QueryParams


class _WriteConflict(Exception):
    """Two transactions touched the same key at once; the loser retries."""


class DuckDbWarehouse:
    """`Warehouse` on a DuckDB file (or ``:memory:``)."""

    def __init__(
        self, path: Path | str, *, default_timeout_s: float = 120.0, read_only: bool = False
    ) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._root = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            raise WarehouseUnavailable(f"cannot open DuckDB file {self.path}: {exc}") from exc
        self._default_timeout_s = default_timeout_s
        self._count_lock = threading.Lock()
        self._query_count = 0
        self._local = threading.local()

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def query_count(self) -> int:
        return self._query_count

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        # A cursor is a connection of its own to the same database; one per thread is safe.
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._root.cursor()
            self._local.cursor = cursor
        return cursor

    def _count(self) -> None:
        with self._count_lock:
            self._query_count += 1

    def _run(self, name: str, sql: str, params: QueryParams, timeout_s: float | None) -> Any:
        limit = timeout_s if timeout_s is not None else self._default_timeout_s
        cursor = self._cursor()
        timer = threading.Timer(limit, cursor.interrupt)
        timer.daemon = True
        self._count()
        started = time.monotonic()
        timer.start()
        try:
            return cursor.execute(sql, dict(params))
        except duckdb.InterruptException as exc:
            raise QueryTimeout(name, limit, time.monotonic() - started) from exc
        except duckdb.TransactionException as exc:
            raise _WriteConflict(str(exc)) from exc
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            raise WarehouseUnavailable(f"{name}: {exc}") from exc
        finally:
            timer.cancel()

    # -- the port ---------------------------------------------------------------------------------

    def create_schema(self) -> None:
        cursor = self._cursor()
        for t in TABLES:
            cursor.execute(t.duckdb_ddl())
        for view in VIEWS:
            body = statement(f"{view}_view").duckdb
            cursor.execute(f"CREATE OR REPLACE VIEW {view} AS {body}")

    def query(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> pd.DataFrame:
        stmt = statement(name)
        check_params(stmt, dict(params))
        result = self._run(name, stmt.duckdb, params, timeout_s)
        frame: pd.DataFrame = result.df()
        return frame

    @retry(
        retry=retry_if_exception_type(_WriteConflict),
        stop=stop_after_attempt(5),
        wait=wait_random_exponential(multiplier=0.01, max=0.2),
        reraise=True,
    )
    def execute(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> int:
        stmt = statement(name)
        check_params(stmt, dict(params))
        result = self._run(name, stmt.duckdb, params, timeout_s).fetchone()
        return int(result[0]) if result else 0

    def append(self, table_name: str, rows: Sequence[Mapping[str, Any]]) -> int:
        if not rows:
            return 0
        spec = table(table_name)
        frame = pd.DataFrame.from_records(list(rows), columns=spec.column_names)
        return self.load_frame(table_name, frame)

    def load_frame(self, table_name: str, frame: pd.DataFrame) -> int:
        if frame.empty:
            return 0
        spec = table(table_name)
        missing = [c for c in spec.column_names if c not in frame.columns and spec.column(c).required]
        if missing:
            raise ValueError(f"{table_name}: rows lack required columns {missing}")
        ordered = frame.reindex(columns=spec.column_names)
        try:
            self._insert_ignoring_existing(spec.name, ordered)
        except _WriteConflict as exc:
            raise WarehouseUnavailable(f"{table_name}: write conflict persisted: {exc}") from exc
        return len(ordered)

    @retry(
        retry=retry_if_exception_type(_WriteConflict),
        stop=stop_after_attempt(8),
        wait=wait_random_exponential(multiplier=0.01, max=0.2),
        reraise=True,
    )
    def _insert_ignoring_existing(self, table_name: str, frame: pd.DataFrame) -> None:
        cursor = self._cursor()
        self._count()
        try:
            cursor.register("incoming_rows", frame)
            try:
                cursor.execute(f"INSERT OR IGNORE INTO {table_name} SELECT * FROM incoming_rows")
            finally:
                cursor.unregister("incoming_rows")
        except duckdb.TransactionException as exc:
            raise _WriteConflict(str(exc)) from exc
        except duckdb.ConstraintException as exc:
            # INSERT OR IGNORE only sees committed rows; a duplicate key here means a concurrent
            # transaction committed the same key first, and the retry will skip it.
            if "Duplicate key" in str(exc):
                raise _WriteConflict(str(exc)) from exc
            raise ValueError(f"{table_name}: {exc}") from exc

    def sql(self, text: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Ad-hoc read for tests, benchmarks and the CLI (never on the nightly path)."""
        frame: pd.DataFrame = self._cursor().execute(text, dict(params or {})).df()
        return frame

    def close(self) -> None:
        self._root.close()
