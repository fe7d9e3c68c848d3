"""Batch routes: Cloud Scheduler POSTs /start and the stall check; operators read /status."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from coordinator.batch_store import BatchStatus
from coordinator.batches import BatchCoordinator, StartResult
from coordinator.http_input import IsoDate, body_schema, optional_body


def _coordinator(request: Request) -> BatchCoordinator:
    coordinator: BatchCoordinator = request.app.state.container.coordinator
    return coordinator


CoordinatorDep = Annotated[BatchCoordinator, Depends(_coordinator)]
BatchIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class StartRequest(BaseModel):
    """Body of POST /start (optional): which night to run, and whether to supersede a running batch."""

    model_config = ConfigDict(extra="forbid")

    game_date: IsoDate | None = Field(default=None, ge=date(2000, 1, 1), le=date(2100, 12, 31))
    force: StrictBool = False


router = APIRouter(tags=["batches"])


@router.post("/start", status_code=202, response_model=StartResult, openapi_extra=body_schema(StartRequest))
async def start(
    coordinator: CoordinatorDep, body: Annotated[StartRequest, Depends(optional_body(StartRequest))]
) -> Any:
    """Load tonight's slate in three queries and fan out one message per player."""
    result = await run_in_threadpool(coordinator.start, body.game_date, force=body.force)
    payload = result.as_json()
    if result.status == BatchStatus.NO_GAMES:
        return JSONResponse(payload, status_code=200)
    return payload


@router.get("/status")
async def status(
    coordinator: CoordinatorDep, batch_id: Annotated[str | None, Query(max_length=64)] = None
) -> Any:
    """Progress of a batch (default: the newest one that is not `no_games`), counted from the warehouse."""
    # Reconciles: a GET is the moment a finished batch is seen complete (see BatchCoordinator.reconcile).
    return await run_in_threadpool(coordinator.reconcile, batch_id)


@router.post("/batches/check-stalls")
async def check_stalls(coordinator: CoordinatorDep) -> Any:
    """Finalize every active batch without progress for NBA_PROPS_STALL_AFTER_S (Cloud Scheduler)."""
    return await run_in_threadpool(coordinator.check_stalls)


@router.post("/batches/{batch_id}/finalize")
async def finalize(coordinator: CoordinatorDep, batch_id: BatchIdPath) -> Any:
    """End an active batch now, recording every player still without a result as missing."""
    return await run_in_threadpool(coordinator.finalize, batch_id)


@router.post("/batches/{batch_id}/resume")
async def resume(coordinator: CoordinatorDep, batch_id: BatchIdPath) -> Any:
    """Send the players a batch never got to the workers, under the same batch id."""
    return await run_in_threadpool(coordinator.resume, batch_id)
