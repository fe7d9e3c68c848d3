"""The coordinator service: Cloud Scheduler POSTs /start; operators GET /status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from coordinator.batches import BatchCoordinator, BatchStatus
from shared.errors import (
    BatchConflict,
    BatchNotFound,
    ConfigurationError,
    NbaPropsError,
    PublishError,
    QueryTimeout,
    WarehouseUnavailable,
)
from shared.logging import configure_logging, get_logger
from shared.settings import Settings
from shared.transport import Publisher, make_publisher
from shared.warehouse import Warehouse, make_warehouse

log = get_logger(__name__)


@dataclass
class CoordinatorContainer:
    """Everything the routes need, built once."""

    settings: Settings
    warehouse: Warehouse
    publisher: Publisher
    coordinator: BatchCoordinator

    @classmethod
    def build(cls, settings: Settings, warehouse: Warehouse | None = None) -> CoordinatorContainer:
        warehouse = warehouse or make_warehouse(settings)
        publisher = make_publisher(settings, warehouse)
        return cls(settings, warehouse, publisher, BatchCoordinator(warehouse, publisher, settings))

    def close(self) -> None:
        self.publisher.close()


class StartRequest(BaseModel):
    """Body of POST /start (optional): which night to run, and whether to supersede a running batch."""

    model_config = ConfigDict(extra="forbid")

    game_date: date | None = Field(default=None, ge=date(2000, 1, 1), le=date(2100, 12, 31))
    force: bool = False


class StartResponse(BaseModel):
    batch_id: str | None
    game_date: date
    expected: int
    status: str
    published: int = 0
    skipped: int = 0


def _container(request: Request) -> CoordinatorContainer:
    container: CoordinatorContainer = request.app.state.container
    return container


ContainerDep = Annotated[CoordinatorContainer, Depends(_container)]

# Typed errors become HTTP answers here and nowhere else.
_STATUS_BY_ERROR: tuple[tuple[type[NbaPropsError], int, str], ...] = (
    (BatchConflict, 409, "batch_running"),
    (BatchNotFound, 404, "not_found"),
    (QueryTimeout, 504, "query_timeout"),
    (WarehouseUnavailable, 503, "warehouse_unavailable"),
    (PublishError, 502, "publish_failed"),
    (ConfigurationError, 500, "misconfigured"),
)


def _error_response(exc: NbaPropsError) -> JSONResponse:
    for kind, status, code in _STATUS_BY_ERROR:
        if isinstance(exc, kind):
            body: dict[str, Any] = {"error": code, "detail": str(exc)}
            if isinstance(exc, BatchConflict):
                body.update(batch_id=exc.batch_id, status=exc.status)
            if isinstance(exc, QueryTimeout):
                body.update(query=exc.query, timeout_s=exc.timeout_s, elapsed_s=round(exc.elapsed_s, 2))
            return JSONResponse(body, status_code=status)
    return JSONResponse({"error": "internal", "detail": str(exc)}, status_code=500)


def create_app(container: CoordinatorContainer | None = None, settings: Settings | None = None) -> FastAPI:
    """The coordinator app. Tests pass a container of fakes; production builds real clients here."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = container is None
        if owned:
            resolved = settings or Settings()
            configure_logging(resolved)
            app.state.container = CoordinatorContainer.build(resolved)
        else:
            app.state.container = container
        log.info("Coordinator ready", backend=app.state.container.settings.warehouse_backend.value)
        try:
            yield
        finally:
            if owned:
                app.state.container.close()

    app = FastAPI(title="nba-props coordinator", version="1", lifespan=lifespan)

    @app.exception_handler(NbaPropsError)
    async def _handle(_: Request, exc: NbaPropsError) -> JSONResponse:
        return _error_response(exc)

    @app.post("/start", status_code=202, response_model=StartResponse)
    async def start(c: ContainerDep, body: StartRequest | None = None) -> Any:
        """Load tonight's slate in three queries and fan out one message per player."""
        body = body or StartRequest()
        result = await run_in_threadpool(c.coordinator.start, body.game_date, force=body.force)
        payload = result.as_json()
        if result.status == BatchStatus.NO_GAMES:
            return JSONResponse(payload, status_code=200)
        return payload

    @app.get("/status")
    async def status(c: ContainerDep, batch_id: Annotated[str | None, Query(max_length=64)] = None) -> Any:
        """Progress of a batch (default: the latest), counted from the warehouse."""
        return await run_in_threadpool(c.coordinator.status, batch_id)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(c: ContainerDep) -> Any:
        """Readiness: the warehouse answers a cheap query."""
        try:
            await run_in_threadpool(c.warehouse.query, "batch_latest", {"game_date": None}, timeout_s=10)
        except NbaPropsError as exc:
            return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)
        return {"status": "ready"}

    return app
