"""BigQuery warehouse: the cloud adapter of the warehouse port.

It runs the same BigQuery Standard SQL files as `DuckDbWarehouse` (there transpiled), as written:
tables stay unqualified and every job gets the dataset as its default dataset. Views are the
exception (BigQuery refuses a view without dataset-qualified tables) and are qualified when created.

Why it is built this way (README.md, Cloud mode has the longer story):

- **Timeouts.** Every job carries ``job_timeout_ms`` (the server stops it), and the client waits for
  it by polling ``jobs.get`` until a deadline: ``QueryJob.result(timeout=...)`` overshoots, because
  ``jobs.getQueryResults`` hangs up to 10 s on the server per call. At the deadline the job is
  cancelled (best effort; ``job_timeout_ms`` is the backstop) and ``QueryTimeout`` is raised. Every
  RPC has a transport timeout and a retry that ends at the same deadline: the client's default
  retry would keep going for 10 minutes. The result pages are downloaded under that deadline too
  (the client would give each page at least 120 s), and a job insert whose answer was lost (the
  client re-sends it and hears 409) is found by its id and waited for.
- **Writes that never meet a DML limit.** BigQuery allows 2 running + 20 queued UPDATE/MERGE/DELETE
  per table, and rows streamed in the last ~30 minutes cannot be changed by DML at all. So the
  tables the workers write (``predictions_raw``, ``player_outcomes``) are append-only: rows are
  streamed with ``insertId`` = primary key (BigQuery drops most redeliveries) and every reader
  deduplicates (the ``predictions`` view, ``QUALIFY``/``DISTINCT`` in the status queries), which
  makes the result exact whatever the streaming layer keeps. The tables the coordinator changes
  with DML (``batches``, ``batch_locks``) are never streamed; all other tables are loaded with a
  load job into a staging table and copied over by one ``INSERT ... SELECT`` that skips keys
  already present (the port's keep-the-first semantics).
- **Errors.** What retrying later may fix (5xx, rate limits, network) becomes
  ``WarehouseUnavailable``; what it cannot (bad SQL, a missing table, no permission) propagates
  unchanged, so it fails loudly instead of being retried forever.
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import requests
from google.api_core import exceptions as api_exceptions
from google.api_core.retry import Retry
from google.auth import exceptions as auth_exceptions
from google.cloud import bigquery

from shared.errors import QueryTimeout, WarehouseUnavailable
from shared.logging import get_logger
from shared.schema import TABLES, VIEWS, Column, ColumnType, Table, table
from shared.sql import check_params, qualify_tables, statement
from shared.warehouse import QueryParams, frame_records

if TYPE_CHECKING:
    from shared.settings import Settings

log = get_logger(__name__)

# The client library's own variable: when set, the client talks to that endpoint (an emulator) and
# there are no credentials to look up.
EMULATOR_HOST_ENV = "BIGQUERY_EMULATOR_HOST"

# Append-only tables: streamed, never changed by DML, read through deduplicating SQL only.
STREAMED_TABLES = frozenset({"predictions_raw", "player_outcomes"})

# How long one RPC (not a query) may take before it counts as failed; a query's deadline caps it.
RPC_TIMEOUT_S = 30.0
# Polling jobs.get starts fast (most batch queries finish in well under a second) and backs off.
FIRST_POLL_S = 0.05
MAX_POLL_S = 1.0
# Staging tables of loads expire on their own if the process dies between load and copy.
STAGING_EXPIRY = timedelta(hours=1)
STAGING_PREFIX = "_staging_"
# Concurrent DML on one table can fail with "could not serialize access"; the statement is retried
# (safe: the batch statements are compare-and-swap or idempotent updates).
DML_CONFLICT_ATTEMPTS = 5
CANCEL_TIMEOUT_S = 5.0

_ARRAY_TYPE = re.compile(r"^ARRAY<(\w+)>$")
_SCALAR_TYPES = frozenset({"STRING", "INT64", "FLOAT64", "BOOL", "DATE", "TIMESTAMP"})
# Reasons in an error payload that mean "try again later", on an HTTP error or a failed job.
_TRANSIENT_REASONS = frozenset(
    {
        "backendError",
        "internalError",
        "rateLimitExceeded",
        "quotaExceeded",
        "jobBackendError",
        "jobInternalError",
        "jobRateLimitExceeded",
        "badGateway",
        "stopped",  # cancelled by someone else
    }
)
_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    api_exceptions.ServerError,  # 5xx
    api_exceptions.TooManyRequests,
    api_exceptions.RetryError,  # a bounded retry ran out on transient errors
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    auth_exceptions.TransportError,
    ConnectionError,
)
_NULLABLE_TYPES: dict[pa.DataType, Any] = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
_NUMPY_WHEN_COMPLETE: dict[str, np.dtype[Any]] = {"Int64": np.dtype("int64"), "boolean": np.dtype("bool")}


class _ConcurrentUpdate(WarehouseUnavailable):
    """BigQuery refused a DML statement because another one changed the table meanwhile.

    ``execute`` runs the statement again; anywhere else it is simply "try again later".
    """


class BigQueryWarehouse:
    """`Warehouse` on one BigQuery dataset."""

    def __init__(
        self,
        client: bigquery.Client,
        dataset: str,
        *,
        project: str | None = None,
        location: str | None = None,
        default_timeout_s: float = 120.0,
        rpc_timeout_s: float = RPC_TIMEOUT_S,
        max_poll_s: float = MAX_POLL_S,
    ) -> None:
        self._client = client
        self.project: str = project or client.project
        self.dataset = dataset
        self.location = location
        self._default_timeout_s = default_timeout_s
        self._rpc_timeout_s = rpc_timeout_s
        self._max_poll_s = max_poll_s
        self._count_lock = threading.Lock()
        self._query_count = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> BigQueryWarehouse:
        """A client for the configured project (Application Default Credentials, or the emulator)."""
        if not settings.bigquery_project:
            raise ValueError("warehouse_backend=bigquery needs NBA_PROPS_BIGQUERY_PROJECT")
        credentials = None
        if os.environ.get(EMULATOR_HOST_ENV):
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        client = bigquery.Client(
            project=settings.bigquery_project, location=settings.bigquery_location, credentials=credentials
        )
        return cls(
            client,
            settings.bigquery_dataset,
            project=settings.bigquery_project,
            location=settings.bigquery_location,
            default_timeout_s=settings.query_timeout_s,
        )

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def query_count(self) -> int:
        return self._query_count

    @property
    def dataset_id(self) -> str:
        return f"{self.project}.{self.dataset}"

    def _table_id(self, name: str) -> str:
        return f"{self.dataset_id}.{name}"

    def _count(self) -> None:
        with self._count_lock:
            self._query_count += 1

    def _retry(self, deadline: float) -> Retry:
        """The client's transient-error retry, ending at the deadline instead of after 10 minutes."""
        remaining = max(deadline - time.monotonic(), 0.001)
        retry: Retry = bigquery.DEFAULT_RETRY.with_timeout(remaining)
        return retry

    def _rpc_timeout(self, deadline: float) -> float:
        return max(min(self._rpc_timeout_s, deadline - time.monotonic()), 0.001)

    # -- jobs ---------------------------------------------------------------------------------------

    def _run(
        self,
        name: str,
        sql: str,
        parameters: Sequence[bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter],
        timeout_s: float | None,
        *,
        read: bool = False,
    ) -> tuple[bigquery.QueryJob, pd.DataFrame]:
        """Run one query job to completion within the limit; return the job and, if ``read``, its rows
        (else an empty frame).

        The rows are downloaded under the same deadline as the job ran: the limit covers the answer
        the caller gets, not only the server's work.
        """
        limit = timeout_s if timeout_s is not None else self._default_timeout_s
        config = bigquery.QueryJobConfig(
            query_parameters=list(parameters),
            default_dataset=self.dataset_id,
            job_timeout_ms=max(math.ceil(limit * 1000), 1),
            use_legacy_sql=False,
            labels={"nba_props_statement": _label(name)},
        )
        # An id of our own: a job whose insert call timed out can still be found and cancelled.
        job_id = f"nba_props_{_label(name)}_{uuid.uuid4().hex}"
        self._count()
        started = time.monotonic()
        deadline = started + limit
        finished = False
        try:
            try:
                job = self._client.query(
                    sql,
                    job_config=config,
                    job_id=job_id,
                    location=self.location,
                    retry=self._retry(deadline),
                    job_retry=None,
                    timeout=self._rpc_timeout(deadline),
                )
            except api_exceptions.Conflict as conflict:
                job = self._job_inserted_anyway(name, job_id, deadline, conflict)
            delay = FIRST_POLL_S
            while not job.done(retry=self._retry(deadline), timeout=self._rpc_timeout(deadline)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise concurrent.futures.TimeoutError()
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, self._max_poll_s)
            finished = True
            _raise_job_error(name, job, limit, started)
            rows = job.result(
                retry=self._retry(deadline), timeout=self._rpc_timeout(deadline), job_retry=None
            )
            frame = _frame(self._pages_within(rows, deadline)) if read else pd.DataFrame()
        except (
            concurrent.futures.TimeoutError,
            requests.exceptions.Timeout,
            api_exceptions.RetryError,
        ) as exc:
            if not _out_of_time(exc, deadline):
                raise WarehouseUnavailable(f"{name}: {exc}") from exc
            if not finished:  # a finished job has nothing left to stop
                self._cancel(name, job_id)
            raise QueryTimeout(name, limit, time.monotonic() - started) from exc
        except api_exceptions.GoogleAPICallError as exc:
            _raise_translated(name, exc)
        except _TRANSIENT_TYPES as exc:
            raise WarehouseUnavailable(f"{name}: {exc}") from exc
        return job, frame

    def _job_inserted_anyway(
        self, name: str, job_id: str, deadline: float, conflict: api_exceptions.Conflict
    ) -> bigquery.QueryJob:
        """The job behind a 409 on our own insert: the first attempt created it, its answer was lost.

        The client's retry re-sent the insert with the same id and was told the job exists. The id
        is a fresh uuid of this call, so that job is this query: wait for it instead of failing (or
        running the query twice). Right after the 409, jobs.get can still answer 404 for a moment
        (googleapis/python-bigquery#2134); it is asked again until the deadline.
        """
        log.warning("Job insert answered 409 for our own job id; using that job", query=name, job_id=job_id)
        delay = FIRST_POLL_S
        while True:
            try:
                found = self._client.get_job(
                    job_id,
                    location=self.location,
                    retry=self._retry(deadline),
                    timeout=self._rpc_timeout(deadline),
                )
            except api_exceptions.NotFound:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise concurrent.futures.TimeoutError() from None
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, self._max_poll_s)
                continue
            if not isinstance(found, bigquery.QueryJob):  # not a job this adapter made after all
                raise conflict
            return found

    def _pages_within(self, rows: Any, deadline: float) -> Any:
        """The result iterator, made to fetch its later pages within the query's deadline.

        The client gives every page request the transport timeout and retry that ``result()`` got,
        raising the timeout to at least 120 s, so a slow or hanging download would outlast the
        limit. Here each page request gets what is left of the deadline, as transport timeout and
        as retry budget, and none is sent once the deadline has passed. (The one request
        ``result()`` makes itself, for the metadata of a job already DONE, keeps the client's
        floor; the server answers it at once.)
        """
        if not isinstance(rows, bigquery.table.RowIterator):
            return rows  # a test double, whose rows are all there already

        def request(**kwargs: Any) -> Any:
            if time.monotonic() >= deadline:
                raise concurrent.futures.TimeoutError()
            return self._client._call_api(  # the call the iterator's own requester makes
                self._retry(deadline), timeout=self._rpc_timeout(deadline), **kwargs
            )

        rows.api_request = request
        return rows

    def _cancel(self, name: str, job_id: str) -> None:
        """Ask the server to stop the job; ``job_timeout_ms`` stops it anyway if this fails."""
        deadline = time.monotonic() + CANCEL_TIMEOUT_S
        try:
            self._client.cancel_job(
                job_id,
                location=self.location,
                retry=self._retry(deadline),
                timeout=self._rpc_timeout(deadline),
            )
            log.warning("Query cancelled after its timeout", query=name, job_id=job_id)
        except Exception as exc:  # a failed cancel must not hide the timeout itself
            log.warning("Could not cancel a timed-out query", query=name, job_id=job_id, error=str(exc))

    # -- the port ---------------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create the dataset and every table if missing, add new nullable columns, (re)create views."""
        deadline = time.monotonic() + self._default_timeout_s
        with self._translated("create_schema"):
            try:
                self._client.get_dataset(
                    self.dataset_id, retry=self._retry(deadline), timeout=self._rpc_timeout(deadline)
                )
            except api_exceptions.NotFound:
                dataset = bigquery.Dataset(self.dataset_id)
                if self.location:
                    dataset.location = self.location
                self._client.create_dataset(
                    dataset, exists_ok=True, retry=self._retry(deadline), timeout=self._rpc_timeout(deadline)
                )
                log.info("Dataset created", dataset=self.dataset_id)
            for spec in TABLES:
                # No PRIMARY KEY clause: BigQuery would not enforce it; the writers keep keys unique.
                self._run(f"create_{spec.name}", spec.bigquery_ddl(self.dataset_id), [], None)
                self._add_new_columns(spec, deadline)
            known = [t.name for t in TABLES]
            for view in VIEWS:
                body = qualify_tables(
                    statement(f"{view}_view"), project=self.project, dataset=self.dataset, known=known
                )
                ddl = f"CREATE OR REPLACE VIEW `{self._table_id(view)}` AS\n{body}"
                self._run(f"create_{view}_view", ddl, [], None)

    def _add_new_columns(self, spec: Table, deadline: float) -> None:
        """A table made by an older version gains the nullable columns added since (appended last).

        Through the tables API, as Terraform does it: ALTER TABLE ADD COLUMN would be a DML-free
        query job too, but the emulator does not parse it.
        """
        existing = self._client.get_table(
            self._table_id(spec.name), retry=self._retry(deadline), timeout=self._rpc_timeout(deadline)
        )
        present = {field.name for field in existing.schema}
        missing = [c for c in spec.columns if c.name not in present]
        if not missing:
            return
        required = [c.name for c in missing if c.required]
        if required:
            raise ValueError(
                f"{self._table_id(spec.name)} lacks the REQUIRED columns {required}; BigQuery adds only "
                "NULLABLE columns to an existing table, so migrate it by hand"
            )
        existing.schema = [*existing.schema, *(_schema_field(c) for c in missing)]
        self._client.update_table(
            existing, ["schema"], retry=self._retry(deadline), timeout=self._rpc_timeout(deadline)
        )
        log.info("Columns added", table=spec.name, columns=[c.name for c in missing])

    def query(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> pd.DataFrame:
        stmt = statement(name)
        check_params(stmt, dict(params))
        _, frame = self._run(name, stmt.bigquery, _parameters(stmt.params, params), timeout_s, read=True)
        return frame

    def records(
        self, name: str, params: QueryParams, *, timeout_s: float | None = None
    ) -> list[dict[str, Any]]:
        return frame_records(self.query(name, params, timeout_s=timeout_s))

    def execute(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> int:
        stmt = statement(name)
        check_params(stmt, dict(params))
        parameters = _parameters(stmt.params, params)
        for attempt in range(1, DML_CONFLICT_ATTEMPTS + 1):
            try:
                job, _ = self._run(name, stmt.bigquery, parameters, timeout_s)
            except _ConcurrentUpdate as exc:
                if attempt == DML_CONFLICT_ATTEMPTS:
                    raise WarehouseUnavailable(f"{name}: concurrent updates persisted: {exc}") from exc
                time.sleep(0.2 * attempt * (1 + np.random.default_rng().random()))
                continue
            return int(job.num_dml_affected_rows or 0)
        raise AssertionError("unreachable")  # pragma: no cover

    def append(self, table_name: str, rows: Sequence[Mapping[str, Any]]) -> int:
        if not rows:
            return 0
        spec = table(table_name)
        if spec.name not in STREAMED_TABLES:
            # Streamed rows cannot be changed by DML for ~30 minutes: batch bookkeeping is loaded.
            frame = pd.DataFrame.from_records(list(rows), columns=spec.column_names)
            return self.load_frame(table_name, frame)
        records = [_json_row(spec, row) for row in rows]
        _check_required(spec, records)
        row_ids = ["|".join(str(record[k]) for k in spec.primary_key) for record in records]
        deadline = time.monotonic() + self._default_timeout_s
        self._count()
        with self._translated(f"append {table_name}"):
            errors = self._client.insert_rows_json(
                self._table_id(spec.name),
                records,
                row_ids=row_ids,
                retry=self._retry(deadline),
                timeout=self._rpc_timeout(deadline),
            )
        if errors:
            raise ValueError(f"{table_name}: BigQuery refused rows: {errors[:3]}")
        return len(records)

    def load_frame(self, table_name: str, frame: pd.DataFrame) -> int:
        if frame.empty:
            return 0
        spec = table(table_name)
        missing = [c for c in spec.column_names if c not in frame.columns and spec.column(c).required]
        if missing:
            raise ValueError(f"{table_name}: rows lack required columns {missing}")
        ordered = frame.reindex(columns=spec.column_names)
        if spec.primary_key:
            # Keep the first row of a key, as INSERT OR IGNORE does on DuckDB.
            ordered = ordered.drop_duplicates(subset=list(spec.primary_key), keep="first")
        records = [_json_row(spec, {str(k): v for k, v in row.items()}) for row in ordered.to_dict("records")]
        _check_required(spec, records)
        staging = self._table_id(f"{STAGING_PREFIX}{spec.name}_{uuid.uuid4().hex[:12]}")
        deadline = time.monotonic() + self._default_timeout_s
        with self._translated(f"load {table_name}"):
            self._load_staging(spec, staging, records, deadline)
            try:
                sql, parameters = _copy_new_keys(spec, self._table_id(spec.name), staging, ordered)
                self._run(f"load_{spec.name}", sql, parameters, max(deadline - time.monotonic(), 0.001))
            finally:
                self._drop_staging(staging)
        return len(frame)

    def _drop_staging(self, staging: str) -> None:
        """Best effort: a staging table left behind expires on its own (STAGING_EXPIRY)."""
        deadline = time.monotonic() + RPC_TIMEOUT_S
        try:
            self._client.delete_table(
                staging, not_found_ok=True, retry=self._retry(deadline), timeout=self._rpc_timeout(deadline)
            )
        except Exception as exc:  # the rows are in (or not) whatever happens to the staging table
            log.warning("Could not drop a staging table", table=staging, error=str(exc))

    def _load_staging(
        self, spec: Table, staging: str, records: list[dict[str, Any]], deadline: float
    ) -> None:
        schema = [_schema_field(c) for c in spec.columns]
        holder = bigquery.Table(staging, schema=schema)
        holder.expires = datetime.now(UTC) + STAGING_EXPIRY
        self._client.create_table(holder, retry=self._retry(deadline), timeout=self._rpc_timeout(deadline))
        config = bigquery.LoadJobConfig(
            schema=schema,
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            job_timeout_ms=max(math.ceil(self._default_timeout_s * 1000), 1),
        )
        ndjson = "\n".join(json.dumps(r, separators=(",", ":")) for r in records).encode()
        self._count()
        # No `size`: the client then uses a resumable upload, which every endpoint accepts.
        job = self._client.load_table_from_file(
            io.BytesIO(ndjson),
            staging,
            job_config=config,
            location=self.location,
            rewind=True,
            timeout=self._rpc_timeout(deadline),
        )
        try:
            job.result(retry=self._retry(deadline), timeout=max(deadline - time.monotonic(), 0.001))
        except concurrent.futures.TimeoutError as exc:
            raise WarehouseUnavailable(f"load of {spec.name} did not finish in time") from exc

    @contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        try:
            yield
        except api_exceptions.GoogleAPICallError as exc:
            _raise_translated(what, exc)
        except _TRANSIENT_TYPES as exc:
            raise WarehouseUnavailable(f"{what}: {exc}") from exc

    def sql(self, text: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Ad-hoc read for tests and the CLI (never on the nightly path); ``@name`` parameters."""
        parameters = [_untyped_parameter(k, v) for k, v in (params or {}).items()]
        _, frame = self._run("adhoc", text, parameters, None, read=True)
        return frame

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]


def _schema_field(column: Column) -> bigquery.SchemaField:
    return bigquery.SchemaField(
        column.name, column.type.value, mode="REQUIRED" if column.required else "NULLABLE"
    )


# -- parameters ---------------------------------------------------------------------------------------


def _parameters(
    declared: Mapping[str, str], values: QueryParams
) -> list[bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter]:
    """Typed from the statement's ``-- params:`` header, so that a NULL still has its type."""
    out: list[bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter] = []
    for name, kind in declared.items():
        value = values[name]
        array = _ARRAY_TYPE.match(kind)
        if array:
            element = array.group(1)
            _check_type(name, element)
            items = [] if value is None else [_scalar(name, element, v) for v in value]
            out.append(bigquery.ArrayQueryParameter(name, element, items))
        else:
            _check_type(name, kind)
            out.append(bigquery.ScalarQueryParameter(name, kind, _scalar(name, kind, value)))
    return out


def _check_type(name: str, kind: str) -> None:
    if kind not in _SCALAR_TYPES:
        raise ValueError(f"parameter @{name}: unsupported type {kind}")


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def _scalar(name: str, kind: str, value: Any) -> Any:
    """A Python value the client serializes as `kind`; refuses values of another kind."""
    if _is_null(value):
        return None
    if isinstance(value, Enum):
        value = value.value
    try:
        if kind == "STRING":
            if not isinstance(value, str):
                raise TypeError
            return str(value)
        if kind == "INT64":
            if isinstance(value, bool | float) or not isinstance(value, int | np.integer):
                raise TypeError
            return int(value)
        if kind == "FLOAT64":
            if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
                raise TypeError
            return float(value)
        if kind == "BOOL":
            if not isinstance(value, bool | np.bool_):
                raise TypeError
            return bool(value)
        if kind == "DATE":
            if isinstance(value, datetime):
                return value.date()
            if isinstance(value, date):
                return value
            if isinstance(value, np.datetime64):
                return pd.Timestamp(value).date()
            return date.fromisoformat(value)
        if kind == "TIMESTAMP":
            stamp = value if isinstance(value, datetime) else pd.Timestamp(value).to_pydatetime()
            # Naive timestamps are UTC here, as in DuckDB's TIMESTAMPTZ columns of this schema.
            return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"parameter @{name} is declared {kind} but got {value!r}") from exc
    raise ValueError(f"parameter @{name}: unsupported type {kind}")  # pragma: no cover


def _untyped_parameter(name: str, value: Any) -> bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter:
    """For ad-hoc SQL without a header: the type follows the Python value."""
    if isinstance(value, list | tuple):
        kind = _kind_of(value[0]) if value else "STRING"
        return bigquery.ArrayQueryParameter(name, kind, [_scalar(name, kind, v) for v in value])
    kind = _kind_of(value)
    return bigquery.ScalarQueryParameter(name, kind, _scalar(name, kind, value))


def _kind_of(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "BOOL"
    if isinstance(value, int | np.integer):
        return "INT64"
    if isinstance(value, float | np.floating):
        return "FLOAT64"
    if isinstance(value, datetime):
        return "TIMESTAMP"
    if isinstance(value, date):
        return "DATE"
    return "STRING"


# -- rows -----------------------------------------------------------------------------------------------


def _json_value(column_type: ColumnType, value: Any) -> Any:
    """A schema-typed cell as the JSON the streaming and load APIs take."""
    if _is_null(value):
        return None
    if isinstance(value, Enum):
        value = value.value
    if column_type is ColumnType.DATE:
        if isinstance(value, datetime):  # includes pd.Timestamp
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        return pd.Timestamp(value).date().isoformat()
    if column_type is ColumnType.TIMESTAMP:
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
        return stamp.isoformat()
    if column_type is ColumnType.INT64:
        return int(value)
    if column_type is ColumnType.FLOAT64:
        number = float(value)
        return None if math.isinf(number) else number
    if column_type is ColumnType.BOOL:
        return bool(value)
    return str(value)


def _json_row(spec: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    return {c.name: _json_value(c.type, row.get(c.name)) for c in spec.columns}


def _check_required(spec: Table, records: Sequence[Mapping[str, Any]]) -> None:
    """Refuse the whole write, as DuckDB's NOT NULL does, before anything reaches the server."""
    required = [c.name for c in spec.columns if c.required]
    for record in records:
        empty = [name for name in required if record.get(name) is None]
        if empty:
            raise ValueError(f"{spec.name}: rows lack required columns {empty}")


def _frame(rows: Any) -> pd.DataFrame:
    """Query rows with the dtypes DuckDbWarehouse returns, so the services see one set of dtypes.

    Via Arrow (google-cloud-bigquery's own ``to_dataframe`` is deprecated): DATE becomes
    datetime64[us]; INT64 and BOOL are numpy int64/bool unless the column holds a NULL, where both
    adapters return pandas' nullable Int64/boolean; TIMESTAMP is datetime64[us, UTC].
    """
    arrow = rows.to_arrow(create_bqstorage_client=False)
    # Dates stay datetime.date inside arrays and structs (as DuckDB returns them there); top-level
    # DATE columns become datetime64 below.
    frame: pd.DataFrame = arrow.to_pandas(types_mapper=_NULLABLE_TYPES.get)
    for column, kind in zip(frame.columns, arrow.schema.types, strict=True):
        series = frame[column]
        if pa.types.is_date(kind):
            frame[column] = series.astype(np.dtype("datetime64[us]"))
        elif str(series.dtype) in _NUMPY_WHEN_COMPLETE and not series.isna().any():
            frame[column] = series.astype(_NUMPY_WHEN_COMPLETE[str(series.dtype)])
    return frame


def _copy_new_keys(
    spec: Table, target: str, staging: str, frame: pd.DataFrame
) -> tuple[str, list[bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter]]:
    """INSERT the staged rows whose key is not in the table yet (identifiers from the schema only).

    The existing keys are looked for in every partition: a key's partition date can change (a
    postponed game keeps its game_id), and the row stored first must win wherever it lies. Only two
    cases narrow the search to the partitions the loaded rows fall in: a partition column that is
    part of the key (a key then lives in one partition only), and a table with
    ``require_partition_filter``, where BigQuery refuses a query without such a filter. There
    keep-the-first holds only within the loaded date range, so such a table's key must determine
    its date (``predictions_raw``: the prediction id names the batch, and a batch is one date).
    """
    columns = ", ".join(spec.column_names)
    keys = spec.primary_key or tuple(spec.column_names)
    match = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    parameters: list[bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter] = []
    if spec.partition_by and (spec.require_partition_filter or spec.partition_by in keys):
        days = pd.to_datetime(frame[spec.partition_by])
        parameters = [
            bigquery.ScalarQueryParameter("first_day", "DATE", days.min().date()),
            bigquery.ScalarQueryParameter("last_day", "DATE", days.max().date()),
        ]
        match += f" AND t.{spec.partition_by} BETWEEN @first_day AND @last_day"
    sql = (
        f"INSERT INTO `{target}` ({columns})\n"
        f"SELECT {columns} FROM `{staging}` AS s\n"
        f"WHERE NOT EXISTS (SELECT 1 FROM `{target}` AS t WHERE {match})"
    )
    return sql, parameters


# -- errors ---------------------------------------------------------------------------------------------


def _reason(exc: BaseException | Mapping[str, Any] | None) -> str:
    if isinstance(exc, Mapping):
        return str(exc.get("reason") or "")
    errors = getattr(exc, "errors", None) or []
    first = errors[0] if errors else None
    return str(first.get("reason") or "") if isinstance(first, Mapping) else ""


def _is_timeout(reason: str, message: str) -> bool:
    return reason == "timeout" or "timed out" in message.lower()


def _out_of_time(exc: BaseException, deadline: float) -> bool:
    """Whether a wait ended because the query's time ran out (``QueryTimeout``), not because the
    service kept failing (``WarehouseUnavailable``). A retry gives up just before the deadline
    rather than sleep past it, so one that gave up on RPCs that timed out counts as out of time."""
    if isinstance(exc, concurrent.futures.TimeoutError) or time.monotonic() >= deadline:
        return True
    if isinstance(exc, api_exceptions.RetryError):
        return isinstance(exc.cause, requests.exceptions.Timeout | concurrent.futures.TimeoutError)
    return False


def _raise_job_error(name: str, job: bigquery.QueryJob, limit: float, started: float) -> None:
    """A job that finished with an error: its server-side timeout, or the error translated."""
    error = job.error_result
    if not error:
        return
    message = str(error.get("message") or "")
    if _is_timeout(_reason(error), message):
        raise QueryTimeout(name, limit, time.monotonic() - started)
    exc = job.exception()  # type: ignore[no-untyped-call]
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        raise _translate(name, exc)
    raise api_exceptions.BadRequest(f"{name}: {message}")  # type: ignore[no-untyped-call]


def _translate(name: str, exc: api_exceptions.GoogleAPICallError) -> Exception:
    """Transient → WarehouseUnavailable; a DML conflict → retried; anything else stays as it is."""
    message = str(exc.message or exc)
    if "concurrent update" in message.lower() or "could not serialize access" in message.lower():
        return _ConcurrentUpdate(message)
    if isinstance(exc, _TRANSIENT_TYPES) or _reason(exc) in _TRANSIENT_REASONS:
        return WarehouseUnavailable(f"{name}: {message}")
    return exc


def _raise_translated(name: str, exc: api_exceptions.GoogleAPICallError) -> NoReturn:
    translated = _translate(name, exc)
    if translated is exc:
        raise exc
    raise translated from exc


def _label(name: str) -> str:
    """A job label / id fragment: lowercase letters, digits, underscores, at most 63 characters."""
    return re.sub(r"[^a-z0-9_]", "_", name.lower())[:63]
