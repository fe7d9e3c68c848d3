"""A fake ``google.cloud.bigquery.Client``: just the calls BigQueryWarehouse makes, recorded.

It exists for what the emulator cannot show: the emulator runs every job synchronously and ignores
``job_timeout_ms`` and cancellation, so a job that never finishes (and what the adapter does about
it) can only be staged here. Each job's fate is decided by a ``JobPlan`` the test chooses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import requests
from google.cloud import bigquery

__all__ = ["FakeBigQueryClient", "FakeQueryJob", "JobPlan", "StallingClient", "Submitted"]


@dataclass
class JobPlan:
    """What one query job does.

    ``polls_until_done``: how many ``jobs.get`` polls it stays running (None: it never finishes).
    ``error_result``: the job's ``status.errorResult`` when it fails on the server.
    ``insert_error``: raised by the insert call itself (``client.query``).
    ``insert_hangs``: the insert call blocks for its whole transport timeout, then times out (what
    the emulator's synchronous jobs do to a slow query).
    """

    polls_until_done: int | None = 0
    frame: pd.DataFrame = field(default_factory=pd.DataFrame)
    dml_affected_rows: int | None = None
    error_result: dict[str, str] | None = None
    insert_error: BaseException | None = None
    insert_hangs: bool = False


_FIELD_TYPES = {
    pa.types.is_boolean: "BOOLEAN",
    pa.types.is_integer: "INTEGER",
    pa.types.is_floating: "FLOAT",
    pa.types.is_timestamp: "TIMESTAMP",
    pa.types.is_date: "DATE",
}


class _Rows:
    """What ``QueryJob.result()`` returns, as far as the adapter reads it: a schema and pages."""

    def __init__(self, frame: pd.DataFrame) -> None:
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
        self.schema = [
            bigquery.SchemaField(
                f.name, next((name for test, name in _FIELD_TYPES.items() if test(f.type)), "STRING")
            )
            for f in arrow.schema
        ]
        index = {f.name: i for i, f in enumerate(self.schema)}
        self.pages = [[bigquery.Row(tuple(row.values()), index) for row in arrow.to_pylist()]]


class FakeQueryJob:
    """A query job whose progress is driven by its plan; records how it was waited for."""

    def __init__(self, job_id: str, sql: str, config: bigquery.QueryJobConfig, plan: JobPlan) -> None:
        self.job_id = job_id
        self.query = sql
        self.config = config
        self.plan = plan
        self.polls = 0
        self.done_timeouts: list[float | None] = []

    @property
    def state(self) -> str:
        remaining = self.plan.polls_until_done
        return "DONE" if remaining is not None and self.polls >= remaining else "RUNNING"

    def done(self, retry: Any = None, timeout: float | None = None) -> bool:
        self.done_timeouts.append(timeout)
        if self.state != "DONE":
            self.polls += 1
        return self.state == "DONE"

    @property
    def error_result(self) -> dict[str, str] | None:
        return self.plan.error_result if self.state == "DONE" else None

    def exception(self) -> BaseException | None:
        if not self.error_result:
            return None
        from google.api_core import exceptions

        return exceptions.BadRequest(self.error_result.get("message", ""), errors=[self.error_result])

    def result(
        self, retry: Any = None, timeout: float | None = None, job_retry: Any = None, page_size: Any = None
    ) -> _Rows:
        if self.state != "DONE":
            raise AssertionError("the adapter fetched rows of a job that had not finished")
        error = self.exception()
        if error is not None:
            raise error
        return _Rows(self.plan.frame)

    @property
    def num_dml_affected_rows(self) -> int | None:
        return self.plan.dml_affected_rows


@dataclass(frozen=True)
class Submitted:
    """One ``client.query`` call, whether or not it produced a job."""

    sql: str
    config: bigquery.QueryJobConfig
    job_id: str


@dataclass
class _Load:
    destination: str
    data: bytes
    config: bigquery.LoadJobConfig


class _LoadJob:
    def result(self, retry: Any = None, timeout: float | None = None) -> None:
        return None


class FakeBigQueryClient:
    """Records queries, cancellations, streamed rows and loads; ``plan`` decides each query job."""

    project = "fake-project"

    def __init__(self, plan: Callable[[str], JobPlan] | None = None) -> None:
        self.plan = plan or (lambda _sql: JobPlan())
        self.jobs: list[FakeQueryJob] = []
        self.submitted: list[Submitted] = []
        self.cancelled: list[str] = []
        self.streamed: list[tuple[str, list[dict[str, Any]], list[str]]] = []
        self.loads: list[_Load] = []
        self.stream_errors: list[dict[str, Any]] = []
        # Tables as an older version of the schema left them: name -> their schema fields.
        self.old_schemas: dict[str, list[bigquery.SchemaField]] = {}
        self.updated: list[tuple[bigquery.Table, list[str]]] = []
        self.closed = False
        self._lock = threading.Lock()

    # -- jobs
    def query(
        self,
        query: str,
        job_config: bigquery.QueryJobConfig | None = None,
        job_id: str | None = None,
        location: str | None = None,
        retry: Any = None,
        job_retry: Any = None,
        timeout: float | None = None,
    ) -> FakeQueryJob:
        assert job_config is not None and job_id is not None
        plan = self.plan(query)
        with self._lock:
            self.submitted.append(Submitted(query, job_config, job_id))
        if plan.insert_hangs:
            time.sleep(timeout or 0.0)
            raise requests.exceptions.ReadTimeout(f"read timed out after {timeout} s")
        if plan.insert_error is not None:
            raise plan.insert_error
        job = FakeQueryJob(job_id, query, job_config, plan)
        with self._lock:
            self.jobs.append(job)
        return job

    def cancel_job(
        self, job_id: str, location: str | None = None, retry: Any = None, timeout: float | None = None
    ) -> None:
        with self._lock:
            self.cancelled.append(job_id)

    # -- streaming and loads
    def insert_rows_json(
        self,
        table: str,
        json_rows: Sequence[Mapping[str, Any]],
        row_ids: Sequence[str] | None = None,
        retry: Any = None,
        timeout: float | None = None,
    ) -> list[dict[str, Any]]:
        with self._lock:
            self.streamed.append((table, [dict(r) for r in json_rows], list(row_ids or [])))
        return list(self.stream_errors)

    def load_table_from_file(
        self,
        file_obj: IO[bytes],
        destination: str,
        job_config: bigquery.LoadJobConfig | None = None,
        location: str | None = None,
        rewind: bool = False,
        timeout: float | None = None,
    ) -> _LoadJob:
        assert job_config is not None
        with self._lock:
            self.loads.append(_Load(destination, file_obj.read(), job_config))
        return _LoadJob()

    # -- tables and datasets
    def get_dataset(self, dataset: str, retry: Any = None, timeout: float | None = None) -> None:
        return None

    def create_dataset(
        self, dataset: Any, exists_ok: bool = False, retry: Any = None, timeout: Any = None
    ) -> None:
        return None

    def create_table(
        self, table: Any, exists_ok: bool = False, retry: Any = None, timeout: Any = None
    ) -> None:
        return None

    def get_table(self, table: str, retry: Any = None, timeout: float | None = None) -> bigquery.Table:
        """The table as created from shared/schema.py, unless ``old_schemas`` says otherwise."""
        from shared.schema import table as spec_of

        name = table.rsplit(".", 1)[1]
        if name in self.old_schemas:
            return bigquery.Table(table, schema=list(self.old_schemas[name]))
        spec = spec_of(name)
        mode = {True: "REQUIRED", False: "NULLABLE"}
        return bigquery.Table(
            table,
            schema=[bigquery.SchemaField(c.name, c.type.value, mode=mode[c.required]) for c in spec.columns],
        )

    def update_table(
        self, table: bigquery.Table, fields: Sequence[str], retry: Any = None, timeout: Any = None
    ) -> None:
        with self._lock:
            self.updated.append((table, list(fields)))

    def delete_table(
        self, table: str, retry: Any = None, timeout: float | None = None, not_found_ok: bool = False
    ) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    # -- what the tests read
    def job_for(self, fragment: str) -> FakeQueryJob:
        """The one job whose SQL contains ``fragment``."""
        found = [job for job in self.jobs if fragment in job.query]
        assert len(found) == 1, f"{len(found)} jobs contain {fragment!r}"
        return found[0]


class StallingClient:
    """A real client, except that every job whose SQL contains ``fragment`` never finishes.

    For end-to-end timeout tests on the emulator, whose own jobs always finish (synchronously).
    Cancellations of the stalled jobs are recorded instead of sent.
    """

    def __init__(self, inner: bigquery.Client, fragment: str) -> None:
        self.inner = inner
        self.fragment = fragment
        self.stalled: list[FakeQueryJob] = []
        self.cancelled: list[str] = []

    def query(self, query: str, job_config: Any = None, job_id: Any = None, **kwargs: Any) -> Any:
        if self.fragment in query:
            job = FakeQueryJob(str(job_id), query, job_config, JobPlan(polls_until_done=None))
            self.stalled.append(job)
            return job
        return self.inner.query(query, job_config=job_config, job_id=job_id, **kwargs)

    def cancel_job(self, job_id: str, **kwargs: Any) -> Any:
        if any(job.job_id == job_id for job in self.stalled):
            self.cancelled.append(job_id)
            return None
        return self.inner.cancel_job(job_id, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
