"""Test doubles. Real adapters are used wherever they are cheap; these stand in where they are not."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from shared.errors import QueryTimeout, WarehouseUnavailable
from shared.transport import OutgoingMessage, PublishReport
from shared.warehouse import QueryParams, Warehouse, frame_records


class FakePublisher:
    """Keeps what it was given; can be told to fail some keys."""

    def __init__(self, fail: Callable[[OutgoingMessage], str | None] | None = None) -> None:
        self.sent: list[tuple[str, OutgoingMessage]] = []
        self._fail = fail
        self.closed = False

    def publish(self, messages: Sequence[OutgoingMessage]) -> PublishReport:
        report = PublishReport()
        for message in messages:
            reason = self._fail(message) if self._fail else None
            if reason:
                report.failed[message.key] = reason
                continue
            message_id = uuid.uuid4().hex
            self.sent.append((message_id, message))
            report.published[message.key] = message_id
            report.largest_bytes = max(report.largest_bytes, len(message.data))
            report.total_bytes += len(message.data)
        return report

    def close(self) -> None:
        self.closed = True


class SpyWarehouse:
    """Wraps a real warehouse and records every named query (the three-query guarantee is tested on it)."""

    def __init__(self, inner: Warehouse) -> None:
        self.inner = inner
        self.queries: list[str] = []
        self._lock = threading.Lock()

    @property
    def query_count(self) -> int:
        return len(self.queries)

    def create_schema(self) -> None:
        self.inner.create_schema()

    def query(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> pd.DataFrame:
        with self._lock:
            self.queries.append(name)
        return self.inner.query(name, params, timeout_s=timeout_s)

    def records(
        self, name: str, params: QueryParams, *, timeout_s: float | None = None
    ) -> list[dict[str, Any]]:
        # Through `query`, so that what a subclass does to a read applies to both forms.
        return frame_records(self.query(name, params, timeout_s=timeout_s))

    def execute(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> int:
        return self.inner.execute(name, params, timeout_s=timeout_s)

    def append(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        return self.inner.append(table, rows)

    def load_frame(self, table: str, frame: pd.DataFrame) -> int:
        return self.inner.load_frame(table, frame)

    @property
    def write_failure(self) -> WarehouseUnavailable | None:
        return self.inner.write_failure

    def close(self) -> None:
        self.inner.close()


class SlowWarehouse(SpyWarehouse):
    """A warehouse whose named query takes `delay_s`; honours the timeout the way the adapters do."""

    def __init__(self, inner: Warehouse, slow_query: str, delay_s: float) -> None:
        super().__init__(inner)
        self.slow_query = slow_query
        self.delay_s = delay_s

    def query(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> pd.DataFrame:
        if name == self.slow_query:
            with self._lock:
                self.queries.append(name)
            limit = timeout_s if timeout_s is not None else float("inf")
            started = time.monotonic()
            time.sleep(min(self.delay_s, limit))
            if self.delay_s > limit:
                raise QueryTimeout(name, limit, time.monotonic() - started)
            return self.inner.query(name, params, timeout_s=timeout_s)
        return super().query(name, params, timeout_s=timeout_s)
