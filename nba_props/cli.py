"""`nba-props`: the command line for operators and for the embedded demo."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer
from rich.console import Console

from shared.logging import configure_logging
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.warehouse import Warehouse

app = typer.Typer(help="NBA player points-prop predictions.", no_args_is_help=True, add_completion=False)
warehouse_app = typer.Typer(help="Warehouse administration.", no_args_is_help=True)
app.add_typer(warehouse_app, name="warehouse")

# Wide enough for the predictions table when the output is a pipe or a CI log, not a terminal.
console = Console(width=None if sys.stdout.isatty() else 120)


@contextmanager
def _open_warehouse(settings: Settings) -> Iterator[Warehouse]:
    """The configured warehouse, closed when the command ends: a DuckDB file left open by one command
    refuses the next connection in the same process that opens it with another configuration."""
    from shared.bootstrap import make_warehouse

    warehouse = make_warehouse(settings)
    try:
        yield warehouse
    finally:
        warehouse.close()


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
    iterations: Annotated[
        int | None, typer.Option(min=10, max=5000, help="Default: the recipe's (shared.model, 1000).")
    ] = None,
    feature_set: Annotated[
        str,
        typer.Option(
            help="v8 (the default contract), v8hist (V8 + long-memory history) or v8ctx (V8 + context)."
        ),
    ] = "v8",
) -> None:
    """Train CatBoost V8 on the warehouse and write the model bundle to NBA_PROPS_MODEL_DIR.

    CatBoost settings: the measured recipe in shared.model (MAE loss, 1000 iterations, lr 0.05).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from shared.model import DEFAULT_ITERATIONS
    from shared.training import train_model

    settings = _settings()
    configure_logging(settings)
    iterations = iterations or DEFAULT_ITERATIONS
    with (
        _open_warehouse(settings) as warehouse,
        Progress(
            TextColumn("Training"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as progress,
    ):
        task = progress.add_task("train", total=iterations)
        manifest = train_model(
            warehouse,
            settings.model_dir,
            start=date.fromisoformat(start) if start else None,
            end=date.fromisoformat(end) if end else None,
            iterations=iterations,
            bookmaker_priority=settings.bookmaker_priority,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
            feature_set=feature_set,
        )
    console.print(
        manifest.model_dump_json(indent=2, exclude={"residual_quantiles", "residual_quantiles_by_prediction"})
    )


def _auth_headers() -> dict[str, str]:
    """An ID token for a coordinator that requires one (cloud mode), from $NBA_PROPS_ID_TOKEN, e.g.
    `export NBA_PROPS_ID_TOKEN=$(gcloud auth print-identity-token --impersonate-service-account=...
    --audiences=... --include-email)`."""
    import os

    token = os.environ.get("NBA_PROPS_ID_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


def _coordinator_url(url: str | None) -> str:
    import os

    return url or os.environ.get("NBA_PROPS_COORDINATOR_URL", "http://127.0.0.1:8080")


def _remote_url(url: str | None) -> str | None:
    """--url, else $NBA_PROPS_COORDINATOR_URL; None (work on the local warehouse) without either."""
    import os

    return url or os.environ.get("NBA_PROPS_COORDINATOR_URL") or None


def _call(method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    """One HTTP call to the coordinator: (status, JSON body or text); a clear error, not a traceback,
    when it cannot be reached."""
    try:
        response = httpx.request(method, url, headers=_auth_headers(), **kwargs)
    except httpx.HTTPError as exc:
        console.print(f"[red]Cannot reach the coordinator at {url}:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from exc
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, {"status_code": response.status_code, "body": response.text[:2000]}


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
    code, answer = _call("POST", f"{_coordinator_url(url)}/start", json=body, timeout=660)
    typer.echo(json.dumps(answer, indent=2))
    if code >= 400:
        raise typer.Exit(1)


@app.command()
def status(
    batch_id: Annotated[str | None, typer.Option(help="Batch id (default: the latest).")] = None,
    url: Annotated[str | None, typer.Option(help="Coordinator URL ($NBA_PROPS_COORDINATOR_URL).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print raw JSON.")] = False,
) -> None:
    """GET /status from a running coordinator."""
    params = {"batch_id": batch_id} if batch_id else {}
    code, body = _call("GET", f"{_coordinator_url(url)}/status", params=params, timeout=60)
    if as_json or code >= 400:
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
    if code >= 400:
        raise typer.Exit(1)


def _game_date_option(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError as exc:
        raise typer.BadParameter(f"not a date (YYYY-MM-DD): {value}", param_hint="--date") from exc


@app.command()
def grade(
    game_date: Annotated[
        str | None, typer.Option("--date", help="Game date (default: yesterday in the league's time zone).")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            help="Grade through a coordinator's POST /grade instead ($NBA_PROPS_COORDINATOR_URL when set)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole result as JSON.")] = False,
) -> None:
    """Grade a night against the box scores; store and print its summary (re-grading replaces it)."""
    day = _game_date_option(game_date)
    url = _remote_url(url)
    if url:
        code, body = _call(
            "POST", f"{url}/grade", json={"game_date": day.isoformat()} if day else {}, timeout=900
        )
        if code >= 400:
            typer.echo(json.dumps(body, indent=2))
            raise typer.Exit(1)
    else:
        from coordinator.alerts import AlertManager
        from coordinator.grading import Grader

        settings = _settings()
        configure_logging(settings)
        with _open_warehouse(settings) as warehouse:
            alerts = AlertManager.from_settings(settings, warehouse)
            try:
                body = Grader(warehouse, alerts, settings).grade(day).as_json()
            finally:
                alerts.close()
    if as_json:
        typer.echo(json.dumps(body, indent=2))
        return
    from rich.table import Table

    summary = body["summary"]
    table = Table(title=f"Graded {body['game_date']} (run {body['grading_run_id']})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = {
        "predictions": summary["predictions"],
        "graded": summary["graded"],
        "voided (DNP / results missing)": f"{summary['dnp']} / {summary['results_missing']}",
        "coverage": summary["coverage"],
        "MAE": summary["mae"],
        "bias (predicted - actual)": summary["bias"],
        "line MAE (market)": summary["line_mae"],
        "picks decided": summary["picks"]["decided"],
        "hit rate": summary["picks"]["hit_rate"],
        "ROI": summary["roi"]["roi"],
        f"hit rate {body['hit_rate_window']['start']}..": body["hit_rate_window"]["hit_rate"],
    }
    for key, value in rows.items():
        table.add_row(key, "-" if value is None else str(value))
    console.print(table)
    for alert in body["alerts"]:
        console.print(f"[yellow]alert[/yellow] {alert['kind']}: {alert['summary']} (sent: {alert['sent']})")


@app.command()
def report(
    html: Annotated[Path, typer.Option("--html", help="Where to write the page.", dir_okay=False)],
    game_date: Annotated[
        str | None, typer.Option("--date", help="Game date (default: yesterday in the league's time zone).")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            help="Fetch the page from a coordinator's GET /report ($NBA_PROPS_COORDINATOR_URL when set)."
        ),
    ] = None,
) -> None:
    """Write the morning report of a night: one self-contained HTML page with charts."""
    day = _game_date_option(game_date)
    url = _remote_url(url)
    if url:
        try:
            response = httpx.get(
                f"{url}/report",
                params={"date": day.isoformat()} if day else {},
                headers=_auth_headers(),
                timeout=300,
            )
        except httpx.HTTPError as exc:
            console.print(f"[red]Cannot reach the coordinator at {url}:[/red] {type(exc).__name__}: {exc}")
            raise typer.Exit(1) from exc
        if response.status_code >= 400:
            typer.echo(response.text)
            raise typer.Exit(1)
        page = response.text
    else:
        from coordinator.alerts import AlertManager
        from coordinator.grading import Grader
        from coordinator.report import render_report

        settings = _settings()
        configure_logging(settings)
        with _open_warehouse(settings) as warehouse:
            page = render_report(Grader(warehouse, AlertManager(), settings).report_data(day))
    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(page, encoding="utf-8")
    console.print(f"Report written to {html}")


@warehouse_app.command("create")
def warehouse_create() -> None:
    """Create every table and view (idempotent) in the configured warehouse."""
    settings = _settings()
    configure_logging(settings)
    with _open_warehouse(settings) as warehouse:
        warehouse.create_schema()
    console.print(f"Schema ready on {settings.warehouse_backend.value}")


@app.command("generate-league")
def generate_league_command(
    seed: Annotated[int, typer.Option(help="Seed of the synthetic league.")] = 7,
) -> None:
    """Write a synthetic league into the configured warehouse."""
    from nba_props.league import generate_league

    settings = _settings()
    configure_logging(settings)
    league = generate_league(seed)
    with _open_warehouse(settings) as warehouse:
        league.write(warehouse)
    console.print(f"League written: {len(league.players)} players, {len(league.schedule)} games")


@contextmanager
def _staged_progress() -> Iterator[tuple[Any, Callable[[str, int, int], None]]]:
    """One progress bar per stage of a long command; yields the bars and the callback that feeds them."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        yield progress, report


@app.command("import-logs")
def import_logs(
    paths: Annotated[
        list[Path], typer.Argument(help="nba_api league game-log CSVs (.csv or .csv.gz) or directories.")
    ],
) -> None:
    """Import real NBA game logs into the configured warehouse (validated first; idempotent)."""
    from nba_props.importer import MalformedGameLog, import_game_logs

    settings = _settings()
    configure_logging(settings)
    with _open_warehouse(settings) as warehouse, _staged_progress() as (progress, report):
        try:
            imported = import_game_logs(warehouse, paths, progress=report)
        except MalformedGameLog as exc:
            progress.stop()
            console.print(f"[red]Malformed game log:[/red] {exc}\nnothing was imported")
            raise typer.Exit(1) from exc
    console.print(
        f"Imported {imported.source_rows} rows ({imported.new_rows} new) from {len(imported.files)} files: "
        f"{imported.games} games, "
        f"{imported.players} players, seasons {', '.join(imported.seasons)}"
    )


@app.command()
def evaluate(
    train_through: Annotated[str, typer.Option(help="Last training season, e.g. 2022-23.")],
    test: Annotated[str, typer.Option(help="Season to predict, e.g. 2023-24.")],
    out: Annotated[Path, typer.Option(help="Directory for report.json and report.md.")] = Path(
        "data/evaluation"
    ),
    logs: Annotated[
        list[Path] | None,
        typer.Option(help="Evaluate on these game-log files (imported into a temporary DuckDB) instead."),
    ] = None,
    feature_set: Annotated[
        list[str] | None,
        typer.Option(help="Feature set(s) to train and compare: v8 (default), v8hist, v8ctx."),
    ] = None,
    # Unset: the recipe `nba-props train` uses (shared.model: MAE loss, 1000 it., lr 0.05, depth 6).
    iterations: Annotated[int | None, typer.Option(min=10, max=5000, help="Default: 1000.")] = None,
    depth: Annotated[int | None, typer.Option(min=2, max=10, help="Default: 6.")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Default: 0.05.")] = None,
    loss: Annotated[
        str | None, typer.Option(help="CatBoost loss function (MAE, RMSE, ...). Default: MAE.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
) -> None:
    """Walk-forward evaluation: train on seasons up to X, predict season Y point in time, report."""
    from nba_props.evaluate import EvaluationConfig, evaluate_logs, markdown_report, write_report
    from nba_props.evaluate import evaluate as run_evaluation
    from nba_props.importer import MalformedGameLog
    from shared.model import DEFAULT_DEPTH, DEFAULT_ITERATIONS, DEFAULT_LEARNING_RATE, DEFAULT_LOSS_FUNCTION

    for option, season in (("--train-through", train_through), ("--test", test)):
        if not re.fullmatch(r"\d{4}-\d{2}", season):
            raise typer.BadParameter(f"a season label such as 2022-23, got {season!r}", param_hint=option)
    settings = _settings()
    configure_logging(settings)
    config = EvaluationConfig(
        train_through=train_through,
        test_season=test,
        feature_sets=tuple(feature_set or ["v8"]),
        iterations=iterations or DEFAULT_ITERATIONS,
        depth=depth or DEFAULT_DEPTH,
        learning_rate=learning_rate or DEFAULT_LEARNING_RATE,
        loss_function=loss or DEFAULT_LOSS_FUNCTION,
        edge_threshold=settings.edge_threshold,
        bookmaker_priority=tuple(settings.bookmaker_priority),
    )
    with _staged_progress() as (progress, report):
        try:
            if logs:
                result = evaluate_logs(logs, config, report)
            else:
                with _open_warehouse(settings) as warehouse:
                    result = run_evaluation(warehouse, config, report)
        except (MalformedGameLog, ValueError) as exc:
            progress.stop()
            console.print(f"[red]Evaluation failed:[/red] {exc}")
            raise typer.Exit(1) from exc
    json_path, md_path = write_report(result, out)
    if as_json:
        typer.echo(json_path.read_text())
    else:
        console.print(markdown_report(result.report))
        console.print(f"Reports: {json_path} {md_path}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
