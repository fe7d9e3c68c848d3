"""The coordinator service's composition root: the container, the lifespan, the error→HTTP table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from coordinator.alerts import AlertManager
from coordinator.batch_store import BatchNotResumable
from coordinator.batches import BatchCoordinator
from coordinator.http_input import validation_error_response
from coordinator.night_checks import NightChecks
from coordinator.routes_batches import router as batches_router
from coordinator.routes_grading import router as grading_router
from shared.auth import (
    AuthUnavailable,
    PermissionDenied,
    Unauthenticated,
    authenticate_requests,
    install_auth,
)
from shared.bootstrap import make_publisher, make_warehouse
from shared.errors import (
    BatchConflict,
    BatchNotFound,
    ConfigurationError,
    NbaPropsError,
    PublishError,
    QueryTimeout,
    WarehouseUnavailable,
)
from shared.limits import COORDINATOR_MAX_BODY_BYTES, BodySizeLimit
from shared.logging import configure_logging, get_logger
from shared.settings import Settings
from shared.transport import Publisher
from shared.warehouse import Warehouse

log = get_logger(__name__)


@dataclass
class CoordinatorContainer:
    """Everything the routes need, built once."""

    settings: Settings
    warehouse: Warehouse
    publisher: Publisher
    coordinator: BatchCoordinator
    # Log-only unless built from settings (durable dedup in the warehouse, webhook, Pub/Sub topic).
    alerts: AlertManager = field(default_factory=AlertManager)

    @classmethod
    def build(cls, settings: Settings, warehouse: Warehouse | None = None) -> CoordinatorContainer:
        warehouse = warehouse or make_warehouse(settings)
        publisher = make_publisher(settings, warehouse)
        alerts = AlertManager.from_settings(settings, warehouse)
        checks = NightChecks(warehouse, alerts, settings)
        coordinator = BatchCoordinator(
            warehouse, publisher, settings, on_complete=checks.after_batch, alerts=alerts
        )
        return cls(settings, warehouse, publisher, coordinator, alerts)

    def close(self) -> None:
        self.publisher.close()
        self.alerts.close()


def _container(request: Request) -> CoordinatorContainer:
    container: CoordinatorContainer = request.app.state.container
    return container


ContainerDep = Annotated[CoordinatorContainer, Depends(_container)]

# Typed errors become HTTP answers here and nowhere else.
_STATUS_BY_ERROR: tuple[tuple[type[NbaPropsError], int, str], ...] = (
    (BatchConflict, 409, "batch_running"),
    (BatchNotResumable, 409, "not_resumable"),
    (Unauthenticated, 401, "unauthenticated"),
    (PermissionDenied, 403, "forbidden"),
    (AuthUnavailable, 503, "auth_unavailable"),
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
            if isinstance(exc, BatchNotResumable):
                body.update(batch_id=exc.batch_id, status=exc.status)
            if isinstance(exc, WarehouseUnavailable) and exc.fault is not None:
                body.update(fault=exc.fault.value)
            if isinstance(exc, Unauthenticated):
                return JSONResponse(body, status_code=status, headers={"WWW-Authenticate": "Bearer"})
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
            install_auth(app, resolved, "coordinator")
            app.state.container = CoordinatorContainer.build(resolved)
        else:
            app.state.container = container
            install_auth(app, app.state.container.settings, "coordinator")
        log.info("Coordinator ready", backend=app.state.container.settings.warehouse_backend.value)
        try:
            yield
        finally:
            if owned:
                app.state.container.close()
                app.state.container.warehouse.close()  # last: the publisher's dead letters write to it

    # Every state-changing route (POST), including routers added later, needs a Google ID token when
    # auth is on; request bodies are small.
    app = FastAPI(
        title="nba-props coordinator",
        version="1",
        lifespan=lifespan,
        dependencies=[Depends(authenticate_requests)],
    )
    app.add_middleware(BodySizeLimit, max_bytes=COORDINATOR_MAX_BODY_BYTES)
    app.include_router(batches_router)
    app.include_router(grading_router)

    @app.exception_handler(NbaPropsError)
    async def _handle(_: Request, exc: NbaPropsError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error_response(exc)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(c: ContainerDep) -> Any:
        """Readiness: the last write did not fail, and the warehouse answers a cheap query."""
        failure = c.warehouse.write_failure
        if failure is not None:
            return JSONResponse({"status": "unavailable", "detail": str(failure)}, status_code=503)
        try:
            await run_in_threadpool(c.warehouse.query, "batch_latest", {"game_date": None}, timeout_s=10)
        except NbaPropsError as exc:
            return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)
        return {"status": "ready"}

    return app
