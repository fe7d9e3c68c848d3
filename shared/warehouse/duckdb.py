"""DuckDB file warehouse: the embedded default. One process owns the file; threads share it.

DuckDB's dialect lives here too: the BigQuery SQL files transpiled by sqlglot, DDL from the schema.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import pyarrow as pa
import sqlglot

from shared.errors import QueryTimeout, WarehouseFault, WarehouseUnavailable
from shared.logging import get_logger
from shared.schema import TABLES, VIEWS, ColumnType, Table, table
from shared.sql import SqlStatement, check_params, statement
from shared.warehouse import (
    QueryParams,
    Record,
    WriteHealth,
    in_table_order,
    plain_records,
    retrying_conflicts,
)
from shared.warehouse.group_commit import GroupWriter

if TYPE_CHECKING:
    from shared.settings import Settings


log = get_logger(__name__)


class _WriteConflict(Exception):
    """Two transactions touched the same key at once; the loser retries."""


# What DuckDB's message says when the file, not the statement, is at fault (DuckDB raises these as
# transaction, input or I/O errors alike, so only the text tells them from a write conflict).
_FAULTS: tuple[tuple[str, WarehouseFault, str], ...] = (
    ("no space left on device", WarehouseFault.DISK_FULL, "no space left on device for {path}"),
    ("disk quota exceeded", WarehouseFault.DISK_FULL, "no space left on device for {path} (quota)"),
    ("read-only", WarehouseFault.READ_ONLY, "the DuckDB file {path} is read-only"),
    ("permission denied", WarehouseFault.PERMISSION_DENIED, "permission denied on {path}"),
    ("could not set lock", WarehouseFault.LOCKED, "the DuckDB file {path} is in use by {holder}"),
)
# The lock's message adds nothing an operator needs beyond the holder's pid.
_TERSE = frozenset({WarehouseFault.LOCKED})
_LOCK_HOLDER = re.compile(r"\(PID (\d+)\)")


def _fault(what: str, path: str, exc: duckdb.Error) -> WarehouseUnavailable | None:
    """A fault of the file (full disk, read-only, permission, lock) as the typed error naming it."""
    message = str(exc)
    for marker, fault, summary in _FAULTS:
        if marker in message.lower():
            pid = _LOCK_HOLDER.search(message)
            holder = f"another process (pid {pid.group(1)})" if pid else "another process"
            text = f"{what}: {summary.format(path=path, holder=holder)}"
            return WarehouseUnavailable(text if fault in _TERSE else f"{text} ({message})", fault=fault)
    return None


_DUCKDB_TYPES = {
    ColumnType.STRING: "VARCHAR",
    ColumnType.INT64: "BIGINT",
    ColumnType.FLOAT64: "DOUBLE",
    ColumnType.BOOL: "BOOLEAN",
    ColumnType.DATE: "DATE",
    ColumnType.TIMESTAMP: "TIMESTAMPTZ",
}
# A write conflict is retried this often before it counts as "unavailable".
_CONFLICT_ATTEMPTS = 8


def duckdb_sql(stmt: SqlStatement) -> str:
    """The statement's BigQuery SQL in DuckDB's dialect."""
    return _transpile(stmt.bigquery)


@cache
def _transpile(sql: str) -> str:
    return sqlglot.transpile(sql, read="bigquery", write="duckdb")[0]


def create_table_ddl(spec: Table) -> str:
    lines = [f"    {c.name} {_DUCKDB_TYPES[c.type]}{' NOT NULL' if c.required else ''}" for c in spec.columns]
    if spec.primary_key:
        lines.append(f"    PRIMARY KEY ({', '.join(spec.primary_key)})")
    body = ",\n".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {spec.name} (\n{body}\n)"


_ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.STRING: pa.string(),
    ColumnType.INT64: pa.int64(),
    ColumnType.FLOAT64: pa.float64(),
    ColumnType.BOOL: pa.bool_(),
    ColumnType.DATE: pa.date32(),
    ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
}


def _arrow_rows(spec: Table, rows: Sequence[Mapping[str, Any]]) -> pa.Table | None:
    """The rows as an Arrow table of the table's column types, or None to take the pandas path.

    Only plain values convert (what the services write: str, int, float, date, aware datetime,
    None); anything else (a naive timestamp, whose zone DuckDB would take from the session, a date
    as text, pandas scalars) goes through the pandas path, which behaved that way before.
    """
    timestamps = [c.name for c in spec.columns if c.type is ColumnType.TIMESTAMP]
    for row in rows:
        for name in timestamps:
            value = row.get(name)
            if value is not None and not (isinstance(value, datetime) and value.tzinfo is not None):
                return None
    schema = pa.schema([pa.field(c.name, _ARROW_TYPES[c.type]) for c in spec.columns])
    try:
        return pa.Table.from_pylist(list(rows), schema=schema)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None


class DuckDbWarehouse:
    """`Warehouse` on a DuckDB file (or ``:memory:``)."""

    def __init__(
        self, path: Path | str, *, default_timeout_s: float = 120.0, read_only: bool = False
    ) -> None:
        self.path = str(path)
        self._read_only = read_only
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._faults("cannot open the warehouse"):
                self._root = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            raise WarehouseUnavailable(f"cannot open DuckDB file {self.path}: {exc}") from exc
        self._default_timeout_s = default_timeout_s
        self._health = WriteHealth()
        self._closed = False
        self._count_lock = threading.Lock()
        self._query_count = 0
        self._local = threading.local()
        self._writers_lock = threading.Lock()
        self._writers: dict[str, GroupWriter] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> DuckDbWarehouse:
        return cls(settings.duckdb_path, default_timeout_s=settings.query_timeout_s)

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def query_count(self) -> int:
        return self._query_count

    @property
    def write_failure(self) -> WarehouseUnavailable | None:
        return self._health.failure

    @contextmanager
    def _faults(self, what: str) -> Iterator[None]:
        """A DuckDB error that names a fault of the file becomes `WarehouseUnavailable` at once, so
        that nothing retries it as a write conflict; any other error passes unchanged."""
        try:
            yield
        except duckdb.Error as exc:
            fault = _fault(what, self.path, exc)
            if fault is not None:
                raise fault from exc
            raise

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

    def _run(
        self, name: str, sql: str, params: QueryParams, timeout_s: float | None
    ) -> duckdb.DuckDBPyConnection:
        limit = timeout_s if timeout_s is not None else self._default_timeout_s
        cursor = self._cursor()
        timer = threading.Timer(limit, cursor.interrupt)
        timer.daemon = True
        self._count()
        started = time.monotonic()
        timer.start()
        try:
            with self._faults(name):
                return cursor.execute(sql, dict(params))
        except duckdb.InterruptException as exc:
            raise QueryTimeout(name, limit, time.monotonic() - started) from exc
        except duckdb.TransactionException as exc:
            raise _WriteConflict(str(exc)) from exc
        except duckdb.ConstraintException as exc:
            # Two concurrent INSERT ... WHERE NOT EXISTS (batch_lock_init) both saw no row; the one
            # that committed second retries and now sees it.
            if "Duplicate key" in str(exc):
                raise _WriteConflict(str(exc)) from exc
            raise
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            raise WarehouseUnavailable(f"{name}: {exc}") from exc
        finally:
            timer.cancel()

    # -- the port ---------------------------------------------------------------------------------

    def create_schema(self) -> None:
        with self._faults("create_schema"):
            self._create_schema()

    def _create_schema(self) -> None:
        cursor = self._cursor()
        for t in TABLES:
            cursor.execute(create_table_ddl(t))
            # A file made by an older version gains the nullable columns added since (always
            # appended last, as BigQuery requires), so positional inserts keep lining up.
            present = {
                str(row[0])
                for row in cursor.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [t.name]
                ).fetchall()
            }
            for c in t.columns:
                if c.name not in present and not c.required:
                    cursor.execute(f"ALTER TABLE {t.name} ADD COLUMN {c.name} {_DUCKDB_TYPES[c.type]}")
        for view in VIEWS:
            body = duckdb_sql(statement(f"{view}_view"))
            cursor.execute(f"CREATE OR REPLACE VIEW {view} AS {body}")

    def _statement(
        self, name: str, params: QueryParams, timeout_s: float | None
    ) -> duckdb.DuckDBPyConnection:
        stmt = statement(name)
        check_params(stmt, dict(params))
        return self._run(name, duckdb_sql(stmt), params, timeout_s)

    def query(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> pd.DataFrame:
        frame: pd.DataFrame = self._statement(name, params, timeout_s).df()
        return frame

    def records(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> list[Record]:
        result = self._statement(name, params, timeout_s)
        columns = [column[0] for column in result.description]
        return plain_records(dict(zip(columns, row, strict=True)) for row in result.fetchall())

    def execute(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> int:
        try:
            with self._health.watching():
                for attempt in retrying_conflicts(_WriteConflict, 5):
                    with attempt:
                        result = self._statement(name, params, timeout_s).fetchone()
        except _WriteConflict as exc:
            raise WarehouseUnavailable(f"{name}: write conflict persisted: {exc}") from exc
        return int(result[0]) if result else 0

    def append(self, table_name: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Group commit: appends arriving together share one INSERT and one commit.

        A DuckDB commit costs milliseconds (WAL write and fsync) whatever it holds, and commits are
        serialized, so one transaction per pushed message caps the worker at a few hundred rows a
        second. Concurrent callers queue their rows; one of them writes everything queued in one
        transaction and wakes the others. Each caller still returns only once its rows are committed
        (a push is acknowledged only after its row is durable), and gets its own error.
        """
        if not rows:
            return 0
        spec = table(table_name)
        with self._writers_lock:
            writer = self._writers.get(spec.name)
            if writer is None:
                writer = self._writers[spec.name] = GroupWriter(
                    lambda batch: self._write_rows(spec.name, batch), self._default_timeout_s
                )
        with self._health.watching():
            writer.write(list(rows))
        return len(rows)

    def _write_rows(self, table_name: str, rows: list[Mapping[str, Any]]) -> None:
        spec = table(table_name)
        if spec.primary_key and len(rows) > 1:
            # One statement must not carry a key twice (a redelivery racing its original).
            seen: set[tuple[Any, ...]] = set()
            unique = []
            for row in rows:
                key = tuple(row.get(k) for k in spec.primary_key)
                if key not in seen:
                    seen.add(key)
                    unique.append(row)
            rows = unique
        arrow = _arrow_rows(spec, rows)
        if arrow is None:
            self.load_frame(table_name, pd.DataFrame.from_records(rows, columns=spec.column_names))
            return
        self._retrying(table_name, lambda: self._insert_arrow(spec.name, arrow))

    def _retrying(self, table_name: str, write: Callable[[], None]) -> None:
        try:
            for attempt in retrying_conflicts(_WriteConflict, _CONFLICT_ATTEMPTS):
                with attempt:
                    write()
        except _WriteConflict as exc:
            raise WarehouseUnavailable(f"{table_name}: write conflict persisted: {exc}") from exc

    def _insert_arrow(self, table_name: str, incoming_rows: pa.Table) -> None:
        """A plain INSERT first (a key already there is rare: a redelivery), INSERT OR IGNORE after.

        ``incoming_rows`` is read by DuckDB's replacement scan of this frame's local variables,
        which costs about a millisecond less than registering it. Measured on prediction rows, this
        takes about a third of the CPU of a registered pandas frame with INSERT OR IGNORE.
        """
        cursor = self._cursor()
        columns = ", ".join(incoming_rows.column_names)
        for verb in ("INSERT", "INSERT OR IGNORE"):
            self._count()
            try:
                with self._faults(f"append {table_name}"):
                    cursor.execute(
                        f"{verb} INTO {table_name} ({columns}) SELECT {columns} FROM incoming_rows"
                    )
                return
            except duckdb.TransactionException as exc:
                raise _WriteConflict(str(exc)) from exc
            except duckdb.ConstraintException as exc:
                if "Duplicate key" not in str(exc):
                    raise ValueError(f"{table_name}: {exc}") from exc
                if verb != "INSERT":
                    # OR IGNORE only sees committed rows: a concurrent transaction committed the
                    # same key first, and the retry will skip it.
                    raise _WriteConflict(str(exc)) from exc

    def load_frame(self, table_name: str, frame: pd.DataFrame) -> int:
        if frame.empty:
            return 0
        spec, ordered = in_table_order(table_name, frame)
        with self._health.watching():
            self._retrying(table_name, lambda: self._insert_ignoring_existing(spec.name, ordered))
        return len(ordered)

    def _insert_ignoring_existing(self, table_name: str, frame: pd.DataFrame) -> None:
        cursor = self._cursor()
        self._count()
        try:
            cursor.register("incoming_rows", frame)
            try:
                with self._faults(f"load {table_name}"):
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
        """Checkpoint, then close (once): the file holds every committed row and no write-ahead log
        remains; a failed checkpoint is logged, and the next open replays the log."""
        if self._closed:
            return
        self._closed = True
        if self.path != ":memory:" and not self._read_only:
            try:
                self._root.execute("CHECKPOINT")
            except duckdb.Error as exc:  # the log still holds the rows; the next open replays it
                log.warning("DuckDB checkpoint on close failed", path=self.path, error=str(exc))
        self._root.close()
