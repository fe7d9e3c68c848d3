"""`nba-props`: the command line for operators and for the embedded demo."""

from __future__ import annotations

import json
import sys
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from shared.logging import configure_logging
from shared.settings import Settings

app = typer.Typer(help="NBA player points-prop predictions.", no_args_is_help=True, add_completion=False)
warehouse_app = typer.Typer(help="Warehouse administration.", no_args_is_help=True)
app.add_typer(warehouse_app, name="warehouse")

# Wide enough for the predictions table when the output is a pipe or a CI log, not a terminal.
console = Console(width=None if sys.stdout.isatty() else 120)


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        console.print(f"[red]Invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc


class Service(StrEnum):
    coordinator = "coordinator"
    worker = "worker"
    embedded = "embedded"


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the synthetic league.")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Generate a league, train if needed, run one night end to end and print the predictions."""
    from nba_props.demo import describe_paths, predictions_table, run_demo

    settings = _settings()
    configure_logging(settings)
    result = run_demo(settings, seed=seed, console=console)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "status": result.status,
                    "predictions": json.loads(result.predictions.to_json(orient="records")),
                },
                indent=2,
            )
        )
    else:
        console.print(predictions_table(result.predictions, f"Predictions for {result.status['game_date']}"))
        console.print_json(json.dumps(result.status))
        for line in describe_paths(settings):
            console.print(line)
    if not result.ok:
        console.print("[red]Not every slate player ended with a prediction or a recorded skip.[/red]")
        raise typer.Exit(1)


@app.command()
def serve(
    service: Service,
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default $PORT or settings).")] = None,
) -> None:
    """Serve the coordinator, the worker, or both (embedded) with uvicorn."""
    import os

    import uvicorn

    env_port = os.environ.get("PORT")
    settings = _settings(host=host, port=port or (int(env_port) if env_port else None))
    configure_logging(settings)
    if service is Service.embedded:
        import signal
        import threading

        from nba_props.embedded import EmbeddedStack

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        with EmbeddedStack(settings, coordinator_port=settings.port, worker_port=settings.port + 1) as stack:
            console.print(f"coordinator {stack.coordinator_url}  worker {stack.worker_url}")
            stop.wait()
        return
    from nba_props.embedded import service_app

    asgi = service_app(service.value, settings)
    # Cloud Run sends SIGTERM and allows 10 s: finish in-flight requests within that.
    uvicorn.run(asgi, host=settings.host, port=settings.port, timeout_graceful_shutdown=8, log_config=None)


@app.command()
def train(
    start: Annotated[str | None, typer.Option(help="First game date (YYYY-MM-DD) to train on.")] = None,
    end: Annotated[str | None, typer.Option(help="Last game date to train on.")] = None,
    iterations: Annotated[int, typer.Option(min=10, max=5000)] = 600,
) -> None:
    """Train CatBoost V8 on the warehouse and write the model bundle to NBA_PROPS_MODEL_DIR."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from shared.training import train_model
    from shared.warehouse import make_warehouse

    settings = _settings()
    configure_logging(settings)
    warehouse = make_warehouse(settings)
    with Progress(
        TextColumn("Training"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("train", total=iterations)
        manifest = train_model(
            warehouse,
            settings.model_dir,
            start=date.fromisoformat(start) if start else None,
            end=date.fromisoformat(end) if end else None,
            iterations=iterations,
            bookmaker_priority=settings.bookmaker_priority,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    console.print(manifest.model_dump_json(indent=2, exclude={"residual_quantiles"}))


def _coordinator_url(url: str | None) -> str:
    import os

    return url or os.environ.get("NBA_PROPS_COORDINATOR_URL", "http://127.0.0.1:8080")


@app.command()
def start(
    game_date: Annotated[str | None, typer.Option("--date", help="Game date (default: tonight).")] = None,
    force: Annotated[bool, typer.Option(help="Supersede a running batch for the date.")] = False,
    url: Annotated[str | None, typer.Option(help="Coordinator URL ($NBA_PROPS_COORDINATOR_URL).")] = None,
) -> None:
    """POST /start to a running coordinator."""
    body: dict[str, Any] = {"force": force}
    if game_date:
        body["game_date"] = game_date
    response = httpx.post(f"{_coordinator_url(url)}/start", json=body, timeout=660)
    typer.echo(json.dumps(response.json(), indent=2))
    if response.status_code >= 400:
        raise typer.Exit(1)


@app.command()
def status(
    batch_id: Annotated[str | None, typer.Option(help="Batch id (default: the latest).")] = None,
    url: Annotated[str | None, typer.Option(help="Coordinator URL ($NBA_PROPS_COORDINATOR_URL).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print raw JSON.")] = False,
) -> None:
    """GET /status from a running coordinator."""
    params = {"batch_id": batch_id} if batch_id else {}
    response = httpx.get(f"{_coordinator_url(url)}/status", params=params, timeout=60)
    body = response.json()
    if as_json or response.status_code >= 400:
        typer.echo(json.dumps(body, indent=2))
    else:
        from rich.table import Table

        table = Table(title=f"Batch {body['batch_id']}")
        table.add_column("field")
        table.add_column("value", justify="right")
        for key in (
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
        ):
            table.add_row(key, str(body.get(key)))
        console.print(table)
    if response.status_code >= 400:
        raise typer.Exit(1)


@warehouse_app.command("create")
def warehouse_create() -> None:
    """Create every table and view (idempotent) in the configured warehouse."""
    from shared.warehouse import make_warehouse

    settings = _settings()
    configure_logging(settings)
    make_warehouse(settings).create_schema()
    console.print(f"Schema ready on {settings.warehouse_backend.value}")


@app.command("generate-league")
def generate_league_command(
    seed: Annotated[int, typer.Option(help="Seed of the synthetic league.")] = 7,
) -> None:
    """Write a synthetic league into the configured warehouse."""
    from nba_props.league import generate_league
    from shared.warehouse import make_warehouse

    settings = _settings()
    configure_logging(settings)
    warehouse = make_warehouse(settings)
    league = generate_league(seed)
    league.write(warehouse)
    console.print(f"League written: {len(league.players)} players, {len(league.schedule)} games")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
