"""Grading routes: Cloud Scheduler POSTs /grade the next morning; people open /report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from coordinator.alerts import AlertManager
from coordinator.grading import Grader
from coordinator.http_input import IsoDate, body_schema, optional_body
from coordinator.report import render_report
from shared.settings import Settings
from shared.warehouse import Warehouse


class GradingContainer(Protocol):
    """What these routes need from the coordinator's container."""

    settings: Settings
    warehouse: Warehouse
    alerts: AlertManager


def _grader(request: Request) -> Grader:
    container: GradingContainer = request.app.state.container
    return Grader(container.warehouse, container.alerts, container.settings)


GraderDep = Annotated[Grader, Depends(_grader)]
DateQuery = Annotated[IsoDate | None, Query(alias="date", ge=date(2000, 1, 1), le=date(2100, 12, 31))]


class GradeRequest(BaseModel):
    """Body of POST /grade (optional): the night to grade; default yesterday in the league's zone."""

    model_config = ConfigDict(extra="forbid")

    game_date: IsoDate | None = Field(default=None, ge=date(2000, 1, 1), le=date(2100, 12, 31))


router = APIRouter(tags=["grading"])


@router.post("/grade", openapi_extra=body_schema(GradeRequest))
async def grade(
    grader: GraderDep, body: Annotated[GradeRequest, Depends(optional_body(GradeRequest))]
) -> Any:
    """Grade a night against the box scores; store and return its summary (re-grading replaces it)."""
    result = await run_in_threadpool(grader.grade, body.game_date)
    return result.as_json()


@router.get("/grade")
async def graded_summary(grader: GraderDep, game_date: DateQuery = None) -> Any:
    """The stored summary of a graded night (default: yesterday); 404 when it was never graded."""
    day = game_date or grader.default_game_date()
    summary = await run_in_threadpool(grader.stored_summary, day)
    if summary is None:
        return JSONResponse({"error": "not_graded", "detail": f"{day} has not been graded"}, status_code=404)
    return summary


@router.get("/report", response_class=HTMLResponse)
async def report(grader: GraderDep, game_date: DateQuery = None) -> Any:
    """The morning report as one self-contained HTML page (default: yesterday)."""
    data = await run_in_threadpool(grader.report_data, game_date)
    return HTMLResponse(render_report(data))
