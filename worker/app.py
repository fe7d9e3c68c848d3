"""The worker service: a stateless Pub/Sub push endpoint that predicts from the payload alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse

from shared.auth import AuthError, auth_error_response, authenticate_requests, install_auth
from shared.bootstrap import make_warehouse
from shared.errors import NbaPropsError, PoisonMessage, QueryTimeout, WarehouseUnavailable
from shared.limits import WORKER_MAX_BODY_BYTES, BodySizeLimit
from shared.logging import configure_logging, get_logger, trace_field
from shared.model.bundle import ModelBundle
from shared.settings import Settings
from shared.warehouse import Warehouse
from worker.dead_letters import DEAD_LETTER_PATH, record_pushed_dead_letter
from worker.predict import PredictionHandler

log = get_logger(__name__)

PUSH_PATH = "/pubsub/push"


@dataclass
class WorkerContainer:
    settings: Settings
    warehouse: Warehouse
    bundle: ModelBundle
    handler: PredictionHandler

    @classmethod
    def build(cls, settings: Settings, warehouse: Warehouse | None = None) -> WorkerContainer:
        # Load the model first: a missing or mismatched bundle must stop the worker before it serves.
        bundle = ModelBundle.load(settings.model_dir)
        warehouse = warehouse or make_warehouse(settings)
        return cls(settings, warehouse, bundle, PredictionHandler(bundle, warehouse, settings))


def _container(request: Request) -> WorkerContainer:
    container: WorkerContainer = request.app.state.container
    return container


ContainerDep = Annotated[WorkerContainer, Depends(_container)]

# The body is read raw (every malformed variant must be acknowledged and recorded, not answered 422);
# this documents what Pub/Sub sends, for readers and fuzzers of the OpenAPI schema.
PUSH_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["message"],
                "properties": {
                    "message": {
                        "type": "object",
                        "properties": {
                            "data": {"type": "string", "description": "base64 of a PredictionRequest"},
                            "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
                            "messageId": {"type": "string"},
                            "publishTime": {"type": "string"},
                        },
                    },
                    "subscription": {"type": "string"},
                    "deliveryAttempt": {"type": "integer"},
                },
            }
        }
    },
}

# Transient errors answer 5xx so Pub/Sub redelivers; anything permanent was acknowledged upstream.
_TRANSIENT: tuple[type[NbaPropsError], ...] = (WarehouseUnavailable, QueryTimeout)


def create_app(container: WorkerContainer | None = None, settings: Settings | None = None) -> FastAPI:
    """The worker app. Startup fails (and the instance never becomes ready) without a valid model."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if container is None:
            resolved = settings or Settings()
            configure_logging(resolved)
            install_auth(app, resolved, "worker")
            app.state.container = WorkerContainer.build(resolved)
        else:
            install_auth(app, container.settings, "worker")
            app.state.container = container
        manifest = app.state.container.bundle.manifest
        log.info(
            "Worker ready",
            model_version=manifest.model_version,
            feature_set_hash=manifest.feature_set_hash,
        )
        try:
            yield
        finally:
            if container is None:  # what the lifespan built, it closes; a passed container is the caller's
                app.state.container.warehouse.close()

    # Pub/Sub's push token is checked before the body is read; bodies beyond what Pub/Sub can send are
    # refused with 413 before anything is buffered.
    app = FastAPI(
        title="nba-props worker",
        version="1",
        lifespan=lifespan,
        dependencies=[Depends(authenticate_requests)],
        # Served by _add_docs instead, as routes of the app: behind its authentication.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(BodySizeLimit, max_bytes=WORKER_MAX_BODY_BYTES)
    _add_docs(app)

    @app.exception_handler(AuthError)
    async def _refused(_: Request, exc: AuthError) -> JSONResponse:
        return auth_error_response(exc)

    @app.post(PUSH_PATH, status_code=204, openapi_extra={"requestBody": PUSH_REQUEST_BODY})
    def push(request: Request, c: ContainerDep, body: bytes = Depends(_body)) -> Response:
        """Pub/Sub push endpoint: 204 predicted, 200 rejected-and-recorded, 503 retry later."""
        trace = trace_field(request.headers.get("x-cloud-trace-context"), c.settings.gcp_project_for_trace)
        with structlog.contextvars.bound_contextvars(**trace):
            try:
                handled = c.handler.handle(body)
            except _TRANSIENT as exc:
                log.warning("Transient failure; asking for redelivery", error=str(exc))
                return JSONResponse({"error": "transient", "detail": str(exc)}, status_code=503)
        if handled.outcome == "rejected":
            log.warning("Message rejected", reason=handled.reason, detail=handled.detail)
            return JSONResponse({"status": "rejected", "reason": handled.reason}, status_code=200)
        return Response(status_code=204)

    @app.post(DEAD_LETTER_PATH, status_code=204, openapi_extra={"requestBody": PUSH_REQUEST_BODY})
    def dead_letter(c: ContainerDep, body: bytes = Depends(_body)) -> Response:
        """The dead-letter topic's push endpoint: 204 recorded, 200 not an envelope, 503 retry later."""
        try:
            letter = record_pushed_dead_letter(c.warehouse, body, datetime.now(UTC))
        except PoisonMessage as exc:
            log.error("Unreadable dead letter dropped", reason=exc.reason, detail=exc.detail)
            return JSONResponse({"status": "rejected", "reason": exc.reason}, status_code=200)
        except _TRANSIENT as exc:
            log.warning("Transient failure recording a dead letter; asking for redelivery", error=str(exc))
            return JSONResponse({"error": "transient", "detail": str(exc)}, status_code=503)
        log.error(
            "Prediction request dead-lettered",
            batch_id=letter.attributes.get("batch_id"),
            player_id=letter.attributes.get("player_id"),
            attempts=letter.attempts,
        )
        return Response(status_code=204)

    @app.get("/healthz")
    def healthz(c: ContainerDep) -> dict[str, str]:
        """Liveness: the process answers and holds a validated model."""
        return {"status": "ok", "model_version": c.bundle.manifest.model_version}

    @app.get("/readyz")
    def readyz(c: ContainerDep) -> Any:
        """Readiness: a validated model is loaded."""
        return {
            "status": "ready",
            "model_version": c.bundle.manifest.model_version,
            "feature_set_hash": c.bundle.manifest.feature_set_hash,
        }

    return app


def _add_docs(app: FastAPI) -> None:
    """The OpenAPI schema and its viewers, at FastAPI's usual paths, under the app's dependencies."""

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        return app.openapi()

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title=app.title, oauth2_redirect_url="/docs/oauth2-redirect"
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=app.title)


async def _body(request: Request) -> bytes:
    return await request.body()
