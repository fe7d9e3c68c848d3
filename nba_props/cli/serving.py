"""Serve the services, and drive a running coordinator: `serve`, `start`, `status`."""

from __future__ import annotations

import json
import os
import signal
import threading
from enum import StrEnum
from typing import Annotated, Any

import typer

from nba_props.cli.compose import load_settings, open_warehouse
from nba_props.cli.output import console, key_value_table
from nba_props.cli.remote import URL_HELP, call, coordinator_url
from shared.settings import WarehouseBackend

STATUS_FIELDS = (
    "game_date",
    "status",
    "expected",
    "completed",
    "failed",
    "skipped",
    "remaining",
    "progress_pct",
    "elapsed_s",
    "eta_s",
)


class Service(StrEnum):
    coordinator = "coordinator"
    worker = "worker"
    embedded = "embedded"


def serve(
    service: Service,
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default $PORT or settings).")] = None,
) -> None:
    """Serve the coordinator, the worker, or both (embedded) with uvicorn."""
    import uvicorn

    from nba_props.embedded import EmbeddedStack, service_app

    env_port = os.environ.get("PORT")
    settings = load_settings(host=host, port=port or (int(env_port) if env_port else None))
    if service is Service.embedded:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        with (
            open_warehouse(settings) as warehouse,
            EmbeddedStack(
                settings, coordinator_port=settings.port, worker_port=settings.port + 1, warehouse=warehouse
            ) as stack,
        ):
            console.print(f"coordinator {stack.coordinator_url}  worker {stack.worker_url}")
            stop.wait()
        return
    if settings.warehouse_backend is WarehouseBackend.DUCKDB:
        with open_warehouse(settings):  # a held or mistyped file: one line here, not a startup traceback
            pass
    asgi = service_app(service.value, settings)
    # Cloud Run sends SIGTERM and allows 10 s: finish in-flight requests within that.
    uvicorn.run(asgi, host=settings.host, port=settings.port, timeout_graceful_shutdown=8, log_config=None)


def start(
    game_date: Annotated[str | None, typer.Option("--date", help="Game date (default: tonight).")] = None,
    force: Annotated[bool, typer.Option(help="Supersede a running batch for the date.")] = False,
    url: Annotated[str | None, typer.Option(help=URL_HELP)] = None,
) -> None:
    """POST /start to a running coordinator."""
    body: dict[str, Any] = {"force": force}
    if game_date:
        body["game_date"] = game_date
    code, answer = call("POST", f"{coordinator_url(url)}/start", json=body, timeout=660)
    typer.echo(json.dumps(answer, indent=2))
    if code >= 400:
        raise typer.Exit(1)


def status(
    batch_id: Annotated[str | None, typer.Option(help="Batch id (default: the latest).")] = None,
    url: Annotated[str | None, typer.Option(help=URL_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print raw JSON.")] = False,
) -> None:
    """GET /status from a running coordinator."""
    params = {"batch_id": batch_id} if batch_id else {}
    code, body = call("GET", f"{coordinator_url(url)}/status", params=params, timeout=60)
    if as_json or code >= 400:
        typer.echo(json.dumps(body, indent=2))
    else:
        fields = {key: str(body.get(key)) for key in STATUS_FIELDS}
        console.print(key_value_table(f"Batch {body['batch_id']}", fields))
    if code >= 400:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(start)
    app.command()(status)
