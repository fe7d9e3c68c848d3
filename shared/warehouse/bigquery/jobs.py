"""Query jobs under a deadline: run, wait, download, cancel; BigQuery errors as the port's errors.

Every job carries ``job_timeout_ms`` (the server stops it) and the client waits for it by polling
``jobs.get`` with bounded RPCs: ``QueryJob.result(timeout=...)`` alone overshoots, each
``jobs.getQueryResults`` call hanging up to 10 s on the server. The rows are then downloaded in a
worker thread that the caller waits for only until the deadline (the client gives every page
request at least 120 s). At the deadline the job is cancelled and ``QueryTimeout`` raised.
"""

from __future__ import annotations

import concurrent.futures
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import requests
from google.api_core import exceptions as api_exceptions
from google.api_core.retry import Retry
from google.auth import exceptions as auth_exceptions
from google.cloud import bigquery
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_base,
    retry_if_exception_type,
    retry_if_result,
)

from shared.errors import QueryTimeout, WarehouseFault, WarehouseUnavailable
from shared.logging import get_logger
from shared.warehouse import Record
from shared.warehouse.bigquery.values import Parameter

log = get_logger(__name__)

# How long one RPC (not a query) may take before it counts as failed; a query's deadline caps it.
RPC_TIMEOUT_S = 30.0
# Polling jobs.get starts fast (most batch queries finish in well under a second) and backs off.
FIRST_POLL_S = 0.05
MAX_POLL_S = 1.0
CANCEL_TIMEOUT_S = 5.0
PAGE_SIZE = 10_000

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
TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    api_exceptions.ServerError,  # 5xx
    api_exceptions.TooManyRequests,
    api_exceptions.RetryError,  # a bounded retry ran out on transient errors
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    auth_exceptions.TransportError,
    ConnectionError,
)

T = TypeVar("T")


class ConcurrentUpdate(WarehouseUnavailable):
    """BigQuery refused a DML statement because another one changed the table meanwhile; ``execute``
    runs it again, anywhere else it is simply "try again later"."""


@dataclass
class Answer:
    """A finished job and, for a read, its rows (REST values: `date`, aware `datetime`, lists)."""

    job: bigquery.QueryJob
    schema: list[bigquery.SchemaField] = field(default_factory=list)
    rows: list[Record] = field(default_factory=list)


@dataclass
class QueryJobs:
    """Runs query jobs on one client, each to completion within its limit or not at all."""

    client: bigquery.Client
    default_dataset: str
    location: str | None
    rpc_timeout_s: float = RPC_TIMEOUT_S
    max_poll_s: float = MAX_POLL_S

    def retry(self, deadline: float) -> Retry:
        """The client's transient-error retry, ending at the deadline instead of after 10 minutes."""
        retry: Retry = bigquery.DEFAULT_RETRY.with_timeout(max(deadline - time.monotonic(), 0.001))
        return retry

    def rpc_timeout(self, deadline: float) -> float:
        return max(min(self.rpc_timeout_s, deadline - time.monotonic()), 0.001)

    def rpc(self, deadline: float) -> dict[str, Any]:
        """The retry and transport timeout of one call (not a query) under ``deadline``."""
        return {"retry": self.retry(deadline), "timeout": self.rpc_timeout(deadline)}

    def run(
        self, name: str, sql: str, parameters: Sequence[Parameter], limit: float, *, read: bool = False
    ) -> Answer:
        """Run one job; for a read, download its rows under the same deadline: the limit covers the
        answer the caller gets, not only the server's work."""
        config = bigquery.QueryJobConfig(
            query_parameters=list(parameters),
            default_dataset=self.default_dataset,
            job_timeout_ms=max(math.ceil(limit * 1000), 1),
            use_legacy_sql=False,
            labels={"nba_props_statement": label(name)},
        )
        # An id of our own: a job whose insert call timed out can still be found and cancelled.
        job_id = f"nba_props_{label(name)}_{uuid.uuid4().hex}"
        started = time.monotonic()
        deadline = started + limit
        finished = False
        try:
            try:
                job = self.client.query(
                    sql,
                    job_config=config,
                    job_id=job_id,
                    location=self.location,
                    retry=self.retry(deadline),
                    job_retry=None,
                    timeout=self.rpc_timeout(deadline),
                )
            except api_exceptions.Conflict as conflict:
                job = self._inserted_anyway(job_id, deadline, conflict)
            self._until(deadline, retry_if_result(lambda done: not done), lambda: self._done(job, deadline))
            finished = True
            _raise_job_error(name, job, limit, started)
            return _within(deadline, lambda: self._answer(job, deadline, read))
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
            raise_translated(name, exc)
        except TRANSIENT_TYPES as exc:
            raise WarehouseUnavailable(f"{name}: {exc}") from exc

    def _done(self, job: bigquery.QueryJob, deadline: float) -> bool:
        return bool(job.done(retry=self.retry(deadline), timeout=self.rpc_timeout(deadline)))

    def _answer(self, job: bigquery.QueryJob, deadline: float, read: bool) -> Answer:
        rows = job.result(
            retry=self.retry(deadline),
            timeout=self.rpc_timeout(deadline),
            job_retry=None,
            page_size=PAGE_SIZE,
        )
        answer = Answer(job, list(rows.schema or []))
        if read:
            for page in rows.pages:
                answer.rows.extend(dict(row.items()) for row in page)
                if time.monotonic() >= deadline:  # the caller has given up: fetch no further page
                    raise concurrent.futures.TimeoutError()
        return answer

    def _until(self, deadline: float, again: retry_base, attempt: Callable[[], T]) -> T:
        """``attempt`` until ``again`` says it is done, backing off from FIRST_POLL_S to the poll
        maximum, never sleeping past the deadline; TimeoutError once the deadline has passed."""

        def wait(state: RetryCallState) -> float:
            backoff: float = FIRST_POLL_S * 2 ** (state.attempt_number - 1)
            return max(min(backoff, self.max_poll_s, deadline - time.monotonic()), 0.0)

        retrying = Retrying(retry=again, wait=wait, stop=lambda _state: time.monotonic() >= deadline)
        try:
            return retrying(attempt)
        except RetryError:
            raise concurrent.futures.TimeoutError() from None

    def _inserted_anyway(
        self, job_id: str, deadline: float, conflict: api_exceptions.Conflict
    ) -> bigquery.QueryJob:
        """The job behind a 409 on our own insert: the first attempt created it, its answer was lost.

        The client's retry re-sent the insert with the same id and was told the job exists. The id
        is a fresh uuid of this call, so that job is this query: wait for it instead of failing (or
        running the query twice). Right after the 409, jobs.get can still answer 404 for a moment
        (googleapis/python-bigquery#2134); it is asked again until the deadline.
        """
        log.warning("Job insert answered 409 for our own job id; using that job", job_id=job_id)
        found = self._until(
            deadline,
            retry_if_exception_type(api_exceptions.NotFound),
            lambda: self.client.get_job(
                job_id,
                location=self.location,
                retry=self.retry(deadline),
                timeout=self.rpc_timeout(deadline),
            ),
        )
        if not isinstance(found, bigquery.QueryJob):  # not a job this adapter made after all
            raise conflict
        return found

    def _cancel(self, name: str, job_id: str) -> None:
        """Ask the server to stop the job; ``job_timeout_ms`` stops it anyway if this fails."""
        deadline = time.monotonic() + CANCEL_TIMEOUT_S
        try:
            self.client.cancel_job(
                job_id,
                location=self.location,
                retry=self.retry(deadline),
                timeout=self.rpc_timeout(deadline),
            )
            log.warning("Query cancelled after its timeout", query=name, job_id=job_id)
        except Exception as exc:  # a failed cancel must not hide the timeout itself
            log.warning("Could not cancel a timed-out query", query=name, job_id=job_id, error=str(exc))


def _within(deadline: float, work: Callable[[], T]) -> T:
    """``work``'s result, waited for in this thread until the deadline only; ``work`` runs in a
    daemon thread of its own, which a hanging request cannot keep a caller waiting on."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name="bigquery-answer", daemon=True).start()
    return future.result(timeout=max(deadline - time.monotonic(), 0.0))


# -- errors ---------------------------------------------------------------------------------------------


def _reason(exc: BaseException | dict[str, Any] | None) -> str:
    if isinstance(exc, dict):
        return str(exc.get("reason") or "")
    errors = getattr(exc, "errors", None) or []
    first = errors[0] if errors else None
    return str(first.get("reason") or "") if isinstance(first, dict) else ""


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
    if _reason(error) == "timeout" or "timed out" in message.lower():
        raise QueryTimeout(name, limit, time.monotonic() - started)
    exc = job.exception()  # type: ignore[no-untyped-call]
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        raise _translate(name, exc)
    raise api_exceptions.BadRequest(f"{name}: {message}")  # type: ignore[no-untyped-call]


def _translate(name: str, exc: api_exceptions.GoogleAPICallError) -> Exception:
    """Transient → WarehouseUnavailable; a DML conflict → retried; a refused permission →
    WarehouseUnavailable naming it (no retry); anything else stays as it is."""
    message = str(exc.message or exc)
    if "concurrent update" in message.lower() or "could not serialize access" in message.lower():
        return ConcurrentUpdate(message)
    if isinstance(exc, TRANSIENT_TYPES) or _reason(exc) in _TRANSIENT_REASONS:
        return WarehouseUnavailable(f"{name}: {message}")
    if isinstance(exc, api_exceptions.Forbidden) or _reason(exc) == "accessDenied":
        return WarehouseUnavailable(
            f"{name}: permission denied: {message}", fault=WarehouseFault.PERMISSION_DENIED
        )
    return exc


def raise_translated(name: str, exc: api_exceptions.GoogleAPICallError) -> NoReturn:
    translated = _translate(name, exc)
    if translated is exc:
        raise exc
    raise translated from exc


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Errors of the calls inside as the port's errors (for the calls that are not query jobs)."""
    try:
        yield
    except api_exceptions.GoogleAPICallError as exc:
        raise_translated(what, exc)
    except TRANSIENT_TYPES as exc:
        raise WarehouseUnavailable(f"{what}: {exc}") from exc


def label(name: str) -> str:
    """A job label / id fragment: lowercase letters, digits, underscores, at most 63 characters."""
    return re.sub(r"[^a-z0-9_]", "_", name.lower())[:63]
