"""Embedded mode: the coordinator and the worker on loopback, sharing one DuckDB warehouse.

This is the one place that wires the two services together. DuckDB allows one writing process per
file, so both servers run in this process; the worker still receives real HTTP push envelopes from
the loopback transport, exactly as a Pub/Sub push subscription would send them.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from coordinator.app import CoordinatorContainer
from coordinator.app import create_app as create_coordinator_app
from shared.bootstrap import make_warehouse
from shared.settings import Settings, WarehouseBackend
from shared.warehouse import Warehouse
from worker.app import PUSH_PATH, WorkerContainer
from worker.app import create_app as create_worker_app


def _loopback_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host`` in the family its address has (``::1`` needs IPv6)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    return sock


def _http_url(host: str, port: int) -> str:
    """``http://host:port``, an IPv6 address in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass
class _Server:
    app: FastAPI
    sock: socket.socket
    server: uvicorn.Server = field(init=False)
    thread: threading.Thread = field(init=False)

    def start(self, timeout_s: float = 30.0) -> None:
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on", timeout_graceful_shutdown=10)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True, name="uvicorn"
        )
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("server failed to start (see the log above)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start within {timeout_s} s")
            time.sleep(0.01)

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return _http_url(host, port)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


class EmbeddedStack:
    """Coordinator + worker + DuckDB, started together; a context manager."""

    def __init__(
        self,
        settings: Settings,
        *,
        coordinator_port: int = 0,
        worker_port: int = 0,
        warehouse: Warehouse | None = None,
    ) -> None:
        if settings.warehouse_backend is not WarehouseBackend.DUCKDB:
            raise ValueError("embedded mode runs on the DuckDB warehouse")
        self._settings = settings
        self._warehouse = warehouse
        self._coordinator_port = coordinator_port
        self._worker_port = worker_port
        self._servers: list[_Server] = []
        self.coordinator: CoordinatorContainer | None = None
        self.worker: WorkerContainer | None = None

    def start(self) -> EmbeddedStack:
        warehouse = self._warehouse or make_warehouse(self._settings)
        warehouse.create_schema()
        host = self._settings.host
        worker_sock = _loopback_socket(host, self._worker_port)
        coordinator_sock = _loopback_socket(host, self._coordinator_port)
        push_url = f"{_http_url(host, worker_sock.getsockname()[1])}{PUSH_PATH}"
        settings = self._settings.model_copy(update={"worker_push_url": push_url})
        self.worker = WorkerContainer.build(settings, warehouse)
        self.coordinator = CoordinatorContainer.build(settings, warehouse)
        self._servers = [
            _Server(create_worker_app(self.worker), worker_sock),
            _Server(create_coordinator_app(self.coordinator), coordinator_sock),
        ]
        for server in self._servers:
            server.start()
        return self

    @property
    def coordinator_url(self) -> str:
        return self._servers[1].url

    @property
    def worker_url(self) -> str:
        return self._servers[0].url

    @property
    def warehouse(self) -> Warehouse:
        assert self.coordinator is not None, "start() first"
        return self.coordinator.warehouse

    def stop(self) -> None:
        # Stop taking batches (the coordinator's server), let the transport finish its deliveries while
        # the worker still serves (bounded by NBA_PROPS_PUSH_CLOSE_TIMEOUT_S; the rest is dead-lettered
        # and recorded), then stop the worker and close the warehouse last: the sink writes to it.
        for server in self._servers[1:]:
            server.stop()
        if self.coordinator is not None:
            self.coordinator.close()
        for server in self._servers[:1]:
            server.stop()
        if self.coordinator is not None:
            self.coordinator.warehouse.close()

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def service_app(service: str, settings: Settings) -> FastAPI:
    """One service on its own (cloud mode, or a worker in its own process)."""
    if service == "coordinator":
        return create_coordinator_app(settings=settings)
    if service == "worker":
        return create_worker_app(settings=settings)
    raise ValueError(f"unknown service {service!r}")
