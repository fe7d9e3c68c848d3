"""Helpers of the fault suite: a controllable clock, recorded alerts, servers on loopback, envelopes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from coordinator.alerts import Alert, AlertManager
from coordinator.app import CoordinatorContainer
from coordinator.app import create_app as create_coordinator_app
from coordinator.batches import BatchCoordinator
from shared.contracts import PredictionRequest, PushEnvelope
from shared.settings import Settings
from shared.transport import Publisher
from shared.warehouse import Warehouse
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.support.fakes import FakePublisher


class ManualClock:
    """Real time until told otherwise; `advance` moves it on (stalls without waiting for them)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._frozen: datetime | None = None

    def __call__(self) -> datetime:
        return self._frozen if self._frozen is not None else datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        if self._frozen is not None:
            self._frozen += timedelta(seconds=seconds)
        else:
            self._offset += timedelta(seconds=seconds)

    def freeze(self) -> None:
        self._frozen = self()


class RecordingSink:
    """An alert sink that keeps what it was sent."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


def coordinator_container(
    warehouse: Warehouse,
    settings: Settings,
    publisher: Publisher | None = None,
    clock: Callable[[], datetime] | None = None,
    sink: RecordingSink | None = None,
) -> CoordinatorContainer:
    alerts = AlertManager(sinks=[sink] if sink else [])
    publisher = publisher or FakePublisher()
    kwargs: dict[str, Any] = {"alerts": alerts}
    if clock is not None:
        kwargs["clock"] = clock
    coordinator = BatchCoordinator(warehouse, publisher, settings, **kwargs)
    return CoordinatorContainer(settings, warehouse, publisher, coordinator, alerts)


def coordinator_client(
    warehouse: Warehouse,
    settings: Settings,
    publisher: Publisher | None = None,
    clock: Callable[[], datetime] | None = None,
    sink: RecordingSink | None = None,
) -> TestClient:
    return TestClient(
        create_coordinator_app(coordinator_container(warehouse, settings, publisher, clock, sink))
    )


def envelope(
    request: PredictionRequest,
    *,
    attempt: int = 1,
    message_id: str = "m-1",
    published_at: datetime | None = None,
) -> dict[str, Any]:
    return PushEnvelope.wrap(
        request.to_bytes(), request.attributes(), message_id, attempt, "sub", published_at=published_at
    )


def count(warehouse: DuckDbWarehouse, table: str, where: str = "TRUE") -> int:
    return int(warehouse.sql(f"SELECT COUNT(*) AS n FROM {table} WHERE {where}").at[0, "n"])


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll until true; a bounded wait, never a timing assertion."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(0.02)


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Run an ASGI app with uvicorn on a free loopback port, in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=10)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), 30, "server start")
    assert server.started, "server failed to start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


class Outage:
    """An ASGI front for the worker: passes `healthy_first` requests, then answers 503 (as Cloud Run
    does for an instance that is gone) to the next `refuse` requests, then passes everything again."""

    def __init__(self, app: ASGIApp, *, healthy_first: int, refuse: int) -> None:
        self.app = app
        self.healthy_first = healthy_first
        self.refuse = refuse
        self.seen = 0
        self.refused = 0
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/push"):
            with self._lock:
                self.seen += 1
                down = self.seen > self.healthy_first and self.refused < self.refuse
                if down:
                    self.refused += 1
            if down:
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": b"instance gone"})
                return
        await self.app(scope, receive, send)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def requests_for_night(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> list[PredictionRequest]:
    return BatchCoordinator(league_warehouse, FakePublisher(), settings).load(game_date, "batch-1").requests
