"""A real ``bigquery.Client`` whose HTTP layer is a scripted stand-in for the BigQuery REST API.

For what neither the emulator nor ``FakeBigQueryClient`` can show: what the client library itself
does around a call (re-sending a job insert whose answer was lost, fetching result pages one by
one). Only the calls a query makes are served: ``jobs.insert``,
``jobs.get``, ``jobs.getQueryResults`` (the metadata call and the result pages) and
``jobs.cancel``. Every query job finishes at once and returns one INTEGER column, one row per page.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

__all__ = ["ApiCall", "StubBigQueryApi"]

PROJECT = "p"
LOCATION = "US"
_SCHEMA = {"fields": [{"name": "player_id", "type": "INTEGER", "mode": "NULLABLE"}]}


@dataclass(frozen=True)
class ApiCall:
    """One request as the stub received it; ``at`` is ``time.monotonic()`` on arrival."""

    at: float
    method: str
    kind: str  # insert | get | results | page | cancel
    job_id: str
    page: int | None
    timeout: float | None


@dataclass
class StubBigQueryApi:
    """The scripted API. ``client()`` gives a real client that talks to it.

    ``lost_insert_answers``: how many inserts create their job but lose the answer (a connection
        reset), so that the client re-sends them and is told the job exists (409).
    ``invisible_gets``: how many ``jobs.get`` calls answer 404 although the job exists.
    ``pages``: how many result pages (one row each) a query returns.
    ``page_delay_s``: how long each page takes to answer (it answers).
    ``hanging_page``: that page (1-based) never answers: it blocks for its transport timeout
        (capped at ``hang_cap_s``, so that a test of broken code ends) and then times out.
    """

    lost_insert_answers: int = 0
    invisible_gets: int = 0
    pages: int = 1
    page_delay_s: float = 0.0
    hanging_page: int | None = None
    hang_cap_s: float = 2.0
    calls: list[ApiCall] = field(default_factory=list)
    created: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self) -> bigquery.Client:
        made = bigquery.Client(
            project=PROJECT,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            location=LOCATION,
        )
        made._connection.api_request = self.api_request
        return made

    def of_kind(self, kind: str) -> list[ApiCall]:
        return [call for call in self.calls if call.kind == kind]

    def api_request(
        self,
        method: str,
        path: str,
        query_params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        timeout: float | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        params = query_params or {}
        parts = path.strip("/").split("/")
        if method == "POST" and parts[-1] == "jobs":
            assert data is not None
            return self._insert(data, timeout)
        if method == "POST" and parts[-1] == "cancel":
            self._record("POST", "cancel", parts[-2], None, timeout)
            return {"job": self._job(parts[-2])}
        if method == "GET" and parts[-2] == "jobs":
            return self._get(parts[-1], timeout)
        if method == "GET" and parts[-2] == "queries":
            return self._results(parts[-1], params, timeout)
        raise AssertionError(f"the stub does not serve {method} {path}")

    # -- the calls

    def _record(self, method: str, kind: str, job_id: str, page: int | None, timeout: float | None) -> None:
        with self._lock:
            self.calls.append(ApiCall(time.monotonic(), method, kind, job_id, page, timeout))

    def _insert(self, data: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        job_id = data["jobReference"]["jobId"]
        self._record("POST", "insert", job_id, None, timeout)
        with self._lock:
            exists = job_id in self.created
            self.created.add(job_id)
            lose = not exists and self.lost_insert_answers > 0
            if lose:
                self.lost_insert_answers -= 1
        if exists:
            raise exceptions.Conflict(
                f"Already Exists: Job {PROJECT}:{LOCATION}.{job_id}", errors=[{"reason": "duplicate"}]
            )
        if lose:
            raise requests.exceptions.ConnectionError("connection reset by peer")
        return {**data, **self._job(job_id)}

    def _get(self, job_id: str, timeout: float | None) -> dict[str, Any]:
        self._record("GET", "get", job_id, None, timeout)
        with self._lock:
            invisible = self.invisible_gets > 0
            if invisible:
                self.invisible_gets -= 1
        if invisible or job_id not in self.created:
            raise exceptions.NotFound(f"Not found: Job {PROJECT}:{LOCATION}.{job_id}")
        return self._job(job_id)

    def _results(self, job_id: str, params: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        reference = {"projectId": PROJECT, "jobId": job_id, "location": LOCATION}
        head = {
            "jobReference": reference,
            "jobComplete": True,
            "totalRows": str(self.pages),
            "schema": _SCHEMA,
        }
        if params.get("maxResults") == 0:  # result() asking whether the job is complete
            self._record("GET", "results", job_id, None, timeout)
            return head
        token = params.get("pageToken")
        page = int(token) if token else 1
        self._record("GET", "page", job_id, page, timeout)
        if page == self.hanging_page:
            time.sleep(min(timeout if timeout is not None else self.hang_cap_s, self.hang_cap_s))
            raise requests.exceptions.ReadTimeout(f"read timed out (timeout={timeout})")
        time.sleep(self.page_delay_s)
        following = {"pageToken": str(page + 1)} if page < self.pages else {}
        return {**head, "rows": [{"f": [{"v": str(page)}]}], **following}

    def _job(self, job_id: str) -> dict[str, Any]:
        return {
            "jobReference": {"projectId": PROJECT, "jobId": job_id, "location": LOCATION},
            "configuration": {"query": {"query": "SELECT 1", "useLegacySql": False}},
            "status": {"state": "DONE"},
        }
