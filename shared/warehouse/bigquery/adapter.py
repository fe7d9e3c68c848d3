"""`BigQueryWarehouse`: the warehouse port on one BigQuery dataset.

Statements run as written in their files, with the dataset as every job's default dataset. The
tables the workers write (``predictions_raw``, ``player_outcomes``) are append-only and streamed with
``insertId`` = primary key, because streamed rows cannot be changed by DML for ~30 minutes; every
reader deduplicates them. The tables changed by DML are never streamed: rows are loaded into a
staging table and copied over by one ``INSERT ... SELECT`` that skips keys already present.
"""

from __future__ import annotations

import io
import json
import math
import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
from google.api_core import exceptions as api_exceptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import bigquery

from shared.errors import WarehouseUnavailable
from shared.logging import get_logger
from shared.schema import TABLES, VIEWS, Table, table
from shared.sql import check_params, statement
from shared.warehouse import (
    QueryParams,
    Record,
    WriteHealth,
    in_table_order,
    plain_records,
    retrying_conflicts,
)
from shared.warehouse.bigquery import dialect, values
from shared.warehouse.bigquery.jobs import (
    MAX_POLL_S,
    RPC_TIMEOUT_S,
    Answer,
    ConcurrentUpdate,
    QueryJobs,
    translated,
)

if TYPE_CHECKING:
    from shared.settings import Settings

log = get_logger(__name__)

# The client library's own variable: when set, the client talks to that endpoint (an emulator) and
# there are no credentials to look up.
EMULATOR_HOST_ENV = "BIGQUERY_EMULATOR_HOST"
# Append-only tables: streamed, never changed by DML, read through deduplicating SQL only.
STREAMED_TABLES = frozenset({"predictions_raw", "player_outcomes"})
# Staging tables of loads expire on their own if the process dies between load and copy.
STAGING_EXPIRY = timedelta(hours=1)
STAGING_PREFIX = "_staging_"
# Concurrent DML on one table can fail with "could not serialize access"; the statement is run
# again (safe: the batch statements are compare-and-swap or idempotent updates).
DML_CONFLICT_ATTEMPTS = 5


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
        self._jobs = QueryJobs(client, self.dataset_id, location, rpc_timeout_s, max_poll_s)
        self._count_lock = threading.Lock()
        self._query_count = 0
        self._health = WriteHealth()

    @classmethod
    def from_settings(cls, settings: Settings) -> BigQueryWarehouse:
        """A client for the configured project (Application Default Credentials, or the emulator)."""
        if not settings.bigquery_project:
            raise ValueError("warehouse_backend=bigquery needs NBA_PROPS_BIGQUERY_PROJECT")
        project, location = settings.bigquery_project, settings.bigquery_location
        client = bigquery.Client(project=project, location=location, credentials=_emulator_credentials())
        timeout = settings.query_timeout_s
        return cls(
            client, settings.bigquery_dataset, project=project, location=location, default_timeout_s=timeout
        )

    @property
    def query_count(self) -> int:
        return self._query_count

    @property
    def write_failure(self) -> WarehouseUnavailable | None:
        return self._health.failure

    @property
    def dataset_id(self) -> str:
        return f"{self.project}.{self.dataset}"

    def _table_id(self, name: str) -> str:
        return f"{self.dataset_id}.{name}"

    def _count(self) -> None:
        with self._count_lock:
            self._query_count += 1

    def _run(
        self,
        name: str,
        sql: str,
        parameters: Sequence[values.Parameter],
        timeout_s: float | None,
        *,
        read: bool = False,
    ) -> Answer:
        self._count()
        limit = timeout_s if timeout_s is not None else self._default_timeout_s
        return self._jobs.run(name, sql, parameters, limit, read=read)

    def _rpc(self, deadline: float) -> dict[str, Any]:
        return self._jobs.rpc(deadline)

    # -- the port ---------------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create the dataset and every table if missing, add new nullable columns, (re)create views."""
        deadline = time.monotonic() + self._default_timeout_s
        with translated("create_schema"):
            try:
                self._client.get_dataset(self.dataset_id, **self._rpc(deadline))
            except api_exceptions.NotFound:
                dataset = bigquery.Dataset(self.dataset_id)
                if self.location:
                    dataset.location = self.location
                self._client.create_dataset(dataset, exists_ok=True, **self._rpc(deadline))
                log.info("Dataset created", dataset=self.dataset_id)
            for spec in TABLES:
                self._run(f"create_{spec.name}", dialect.create_table_ddl(spec, self.dataset_id), [], None)
                self._add_new_columns(spec, deadline)
            known = [t.name for t in TABLES]
            for view in VIEWS:
                body = dialect.qualify_tables(
                    statement(f"{view}_view"), project=self.project, dataset=self.dataset, known=known
                )
                ddl = f"CREATE OR REPLACE VIEW `{self._table_id(view)}` AS\n{body}"
                self._run(f"create_{view}_view", ddl, [], None)

    def _add_new_columns(self, spec: Table, deadline: float) -> None:
        """A table made by an older version gains the nullable columns added since (appended last).

        Through the tables API, as Terraform does it: the emulator does not parse ALTER TABLE ADD
        COLUMN.
        """
        existing = self._client.get_table(self._table_id(spec.name), **self._rpc(deadline))
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
        existing.schema = [*existing.schema, *(dialect.schema_field(c) for c in missing)]
        self._client.update_table(existing, ["schema"], **self._rpc(deadline))
        log.info("Columns added", table=spec.name, columns=[c.name for c in missing])

    def _read(self, name: str, params: QueryParams, timeout_s: float | None) -> Answer:
        stmt = statement(name)
        check_params(stmt, dict(params))
        return self._run(name, stmt.bigquery, values.parameters(stmt.params, params), timeout_s, read=True)

    def query(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> pd.DataFrame:
        answer = self._read(name, params, timeout_s)
        return values.frame(values.arrow_table(answer.schema, answer.rows))

    def records(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> list[Record]:
        return plain_records(self._read(name, params, timeout_s).rows)

    def execute(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> int:
        stmt = statement(name)
        check_params(stmt, dict(params))
        parameters = values.parameters(stmt.params, params)
        try:
            with self._health.watching():
                for attempt in retrying_conflicts(ConcurrentUpdate, DML_CONFLICT_ATTEMPTS, most_s=2.0):
                    with attempt:
                        job = self._run(name, stmt.bigquery, parameters, timeout_s).job
        except ConcurrentUpdate as exc:
            raise WarehouseUnavailable(f"{name}: concurrent updates persisted: {exc}") from exc
        return int(job.num_dml_affected_rows or 0)

    def append(self, table_name: str, rows: Sequence[Mapping[str, Any]]) -> int:
        with self._health.watching():
            return self._append(table_name, rows)

    def load_frame(self, table_name: str, frame: pd.DataFrame) -> int:
        with self._health.watching():
            return self._load_frame(table_name, frame)

    def _append(self, table_name: str, rows: Sequence[Mapping[str, Any]]) -> int:
        if not rows:
            return 0
        spec = table(table_name)
        if spec.name not in STREAMED_TABLES:
            # Streamed rows cannot be changed by DML for ~30 minutes: batch bookkeeping is loaded.
            return self._load_frame(
                table_name, pd.DataFrame.from_records(list(rows), columns=spec.column_names)
            )
        records = values.json_rows(spec, rows)
        row_ids = ["|".join(str(record[k]) for k in spec.primary_key) for record in records]
        deadline = time.monotonic() + self._default_timeout_s
        self._count()
        with translated(f"append {table_name}"):
            errors = self._client.insert_rows_json(
                self._table_id(spec.name), records, row_ids=row_ids, **self._rpc(deadline)
            )
        if errors:
            raise ValueError(f"{table_name}: BigQuery refused rows: {errors[:3]}")
        return len(records)

    def _load_frame(self, table_name: str, frame: pd.DataFrame) -> int:
        if frame.empty:
            return 0
        spec, ordered = in_table_order(table_name, frame)
        if spec.primary_key:
            # Keep the first row of a key, as INSERT OR IGNORE does on DuckDB.
            ordered = ordered.drop_duplicates(subset=list(spec.primary_key), keep="first")
        records = values.json_rows(spec, ordered.to_dict("records"))
        staging = self._table_id(f"{STAGING_PREFIX}{spec.name}_{uuid.uuid4().hex[:12]}")
        deadline = time.monotonic() + self._default_timeout_s
        with translated(f"load {table_name}"):
            self._load_staging(spec, staging, records, deadline)
            try:
                sql, parameters = dialect.copy_new_keys(spec, self._table_id(spec.name), staging, ordered)
                self._run(f"load_{spec.name}", sql, parameters, max(deadline - time.monotonic(), 0.001))
            finally:
                self._drop_staging(staging)
        return len(frame)

    def _drop_staging(self, staging: str) -> None:
        """Best effort: a staging table left behind expires on its own (STAGING_EXPIRY)."""
        try:
            self._client.delete_table(
                staging, not_found_ok=True, **self._rpc(time.monotonic() + RPC_TIMEOUT_S)
            )
        except Exception as exc:  # the rows are in (or not) whatever happens to the staging table
            log.warning("Could not drop a staging table", table=staging, error=str(exc))

    def _load_staging(
        self, spec: Table, staging: str, records: list[dict[str, Any]], deadline: float
    ) -> None:
        schema = [dialect.schema_field(c) for c in spec.columns]
        holder = bigquery.Table(staging, schema=schema)
        holder.expires = datetime.now(UTC) + STAGING_EXPIRY
        self._client.create_table(holder, **self._rpc(deadline))
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
            timeout=self._jobs.rpc_timeout(deadline),
        )
        try:
            job.result(retry=self._jobs.retry(deadline), timeout=max(deadline - time.monotonic(), 0.001))
        except TimeoutError as exc:
            raise WarehouseUnavailable(f"load of {spec.name} did not finish in time") from exc

    def sql(self, text: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Ad-hoc read for tests and the CLI (never on the nightly path); ``@name`` parameters."""
        parameters = [values.untyped_parameter(k, v) for k, v in (params or {}).items()]
        answer = self._run("adhoc", text, parameters, None, read=True)
        return values.frame(values.arrow_table(answer.schema, answer.rows))

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]


def _emulator_credentials() -> Credentials | None:
    """None (Application Default Credentials), or no credentials at all when talking to an emulator."""
    if not os.environ.get(EMULATOR_HOST_ENV):
        return None
    return AnonymousCredentials()  # type: ignore[no-untyped-call]
