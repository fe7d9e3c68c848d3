"""`nba-props demo` (`make demo`): one night end to end on the embedded stack, on a synthetic league."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import httpx
import pandas as pd
import typer
from rich.table import Table

from nba_props.cli.compose import load_settings, open_warehouse
from nba_props.cli.output import console, staged_progress
from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse

ACTIVE = {"loading", "publishing", "running"}


@dataclass
class DemoResult:
    status: dict[str, Any]
    predictions: pd.DataFrame
    ok: bool


def demo(
    seed: Annotated[int, typer.Option(help="Seed of the synthetic league.")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Generate a league, train if needed, run one night end to end and print the predictions."""
    settings = load_settings()
    with open_warehouse(settings) as warehouse:
        if not isinstance(warehouse, DuckDbWarehouse):
            console.print(
                "[red]The demo runs embedded, on DuckDB (NBA_PROPS_WAREHOUSE_BACKEND=duckdb).[/red]"
            )
            raise typer.Exit(2)
        result = run_demo(settings, warehouse, seed=seed)
    if as_json:
        predictions = json.loads(result.predictions.to_json(orient="records"))
        typer.echo(json.dumps({"status": result.status, "predictions": predictions}, indent=2))
    else:
        console.print(predictions_table(result.predictions, f"Predictions for {result.status['game_date']}"))
        console.print_json(json.dumps(result.status))
        for line in describe_paths(settings):
            console.print(line)
    if not result.ok:
        console.print("[red]Not every slate player ended with a prediction or a recorded skip.[/red]")
        raise typer.Exit(1)


def run_demo(
    settings: Settings, warehouse: DuckDbWarehouse, *, seed: int, timeout_s: float = 300.0
) -> DemoResult:
    """The league and the model when missing, then one batch for the league's next game date."""
    from nba_props.embedded import EmbeddedStack

    game_date = ensure_league(warehouse, seed)
    ensure_model(settings, warehouse, game_date)
    with (
        EmbeddedStack(settings, warehouse=warehouse) as stack,
        httpx.Client(base_url=stack.coordinator_url, timeout=settings.query_timeout_s + 30) as http,
    ):
        console.print(f"Coordinator {stack.coordinator_url}  worker {stack.worker_url}")
        response = http.post("/start", json={"game_date": game_date.isoformat(), "force": True})
        response.raise_for_status()
        started = response.json()
        console.print(f"POST /start → {response.status_code} {started}")
        status = _wait(http, started["batch_id"], timeout_s)
        predictions = warehouse.query(
            "batch_predictions", {"batch_id": started["batch_id"], "game_date": game_date}
        )
    accounted = status["completed"] + status["skipped"]
    ok = status["status"] == "complete" and status["failed"] == 0 and accounted == status["expected"]
    return DemoResult(status, predictions, ok)


def ensure_league(warehouse: DuckDbWarehouse, seed: int) -> date:
    """Generate the synthetic league once; later runs reuse it. Returns the date to predict."""
    from nba_props.league import generate_league

    warehouse.create_schema()
    existing = warehouse.sql("SELECT COUNT(*) AS n FROM player_game_logs")
    if int(existing.at[0, "n"]) == 0:
        started = time.monotonic()
        with console.status("Generating the synthetic league…"):
            league = generate_league(seed)
            league.write(warehouse)
        console.print(
            f"Generated a synthetic league (seed {seed}): {len(league.players)} players, "
            f"{len(league.schedule)} games, {len(league.player_game_logs):,} box scores "
            f"in {time.monotonic() - started:.1f} s"
        )
    unplayed = warehouse.sql(
        "SELECT MIN(s.game_date) AS d FROM schedule s "
        "WHERE NOT EXISTS (SELECT 1 FROM player_game_logs l WHERE l.game_id = s.game_id)"
    )
    next_date = unplayed.at[0, "d"]
    if next_date is None or pd.isna(next_date):
        raise RuntimeError("the league has no unplayed game date to predict")
    return pd.Timestamp(next_date).date()


def ensure_model(settings: Settings, warehouse: DuckDbWarehouse, before: date) -> None:
    """Train the bundle on the league's box scores up to `before`, unless one is already there."""
    from shared.training import train_model

    if (settings.model_dir / "manifest.json").exists():
        console.print(f"Using the model bundle in {settings.model_dir}")
        return
    span = warehouse.sql("SELECT MIN(game_date) AS s, MAX(game_date) AS e FROM player_game_logs")
    start = pd.Timestamp(span.at[0, "s"]).date()
    end = min(pd.Timestamp(span.at[0, "e"]).date(), before)
    with staged_progress() as (_, report):
        manifest = train_model(
            warehouse,
            settings.model_dir,
            start=start,
            end=end,
            bookmaker_priority=settings.bookmaker_priority,
            progress=lambda done, total: report("Training CatBoost V8", done, total),
        )
    console.print(
        f"Trained {manifest.model_version}: holdout MAE {manifest.holdout.mae:.2f} "
        f"on {manifest.holdout.n:,} player-games"
    )


def _wait(http: httpx.Client, batch_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    with staged_progress() as (_, report):
        while True:
            status: dict[str, Any] = http.get("/status", params={"batch_id": batch_id}).json()
            done = status["completed"] + status["failed"] + status["skipped"]
            report("Predicting", done, status["expected"])
            if status["status"] not in ACTIVE or time.monotonic() > deadline:
                return status
            time.sleep(0.1)


def predictions_table(predictions: pd.DataFrame, title: str) -> Table:
    table = Table(title=title, show_lines=False)
    for name, justify in (
        ("Player", "left"),
        ("Team", "left"),
        ("Opp", "left"),
        ("Line", "right"),
        ("Predicted", "right"),
        ("Edge", "right"),
        ("Pick", "left"),
        ("Confidence", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in predictions.itertuples():
        table.add_row(
            str(row.player_name),
            str(row.team_abbr),
            str(row.opponent_abbr),
            "—" if pd.isna(row.line) else f"{row.line:.1f}",
            f"{row.predicted_points:.1f}",
            "—" if pd.isna(row.edge) else f"{row.edge:+.1f}",
            str(row.recommendation),
            "—" if pd.isna(row.confidence) else f"{row.confidence:.0%}",
        )
    return table


def describe_paths(settings: Settings) -> list[str]:
    return [
        f"Warehouse: {Path(settings.duckdb_path).resolve()}",
        f"Model bundle: {Path(settings.model_dir).resolve()}",
    ]


def register(app: typer.Typer) -> None:
    app.command()(demo)
