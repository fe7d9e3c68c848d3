"""`make demo`: the nightly job end to end on the embedded default, on a synthetic league."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nba_props.embedded import EmbeddedStack
from nba_props.league import generate_league
from shared.settings import Settings
from shared.training import train_model
from shared.warehouse.duckdb import DuckDbWarehouse

ACTIVE = {"loading", "publishing", "running"}


@dataclass
class DemoResult:
    status: dict[str, Any]
    predictions: pd.DataFrame
    ok: bool


def ensure_league(warehouse: DuckDbWarehouse, seed: int, console: Console) -> date:
    """Generate the synthetic league once; later runs reuse it. Returns the date to predict."""
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


def ensure_model(settings: Settings, warehouse: DuckDbWarehouse, before: date, console: Console) -> None:
    if (settings.model_dir / "manifest.json").exists():
        console.print(f"Using the model bundle in {settings.model_dir}")
        return
    span = warehouse.sql("SELECT MIN(game_date) AS s, MAX(game_date) AS e FROM player_game_logs")
    start = pd.Timestamp(span.at[0, "s"]).date()
    end = pd.Timestamp(span.at[0, "e"]).date()
    end = min(end, before)
    with Progress(
        TextColumn("Training CatBoost V8"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("train", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        manifest = train_model(
            warehouse,
            settings.model_dir,
            start=start,
            end=end,
            bookmaker_priority=settings.bookmaker_priority,
            progress=on_progress,
        )
    console.print(
        f"Trained {manifest.model_version}: holdout MAE {manifest.holdout.mae:.2f} "
        f"on {manifest.holdout.n:,} player-games"
    )


def run_demo(settings: Settings, *, seed: int, console: Console, timeout_s: float = 300.0) -> DemoResult:
    warehouse = DuckDbWarehouse(settings.duckdb_path, default_timeout_s=settings.query_timeout_s)
    game_date = ensure_league(warehouse, seed, console)
    ensure_model(settings, warehouse, game_date, console)
    with (
        EmbeddedStack(settings, warehouse=warehouse) as stack,
        httpx.Client(base_url=stack.coordinator_url, timeout=settings.query_timeout_s + 30) as http,
    ):
        console.print(f"Coordinator {stack.coordinator_url}  worker {stack.worker_url}")
        response = http.post("/start", json={"game_date": game_date.isoformat(), "force": True})
        response.raise_for_status()
        started = response.json()
        console.print(f"POST /start → {response.status_code} {started}")
        status = _wait(http, started["batch_id"], timeout_s, console)
        predictions = warehouse.query(
            "batch_predictions", {"batch_id": started["batch_id"], "game_date": game_date}
        )
    accounted = status["completed"] + status["skipped"]
    ok = status["status"] == "complete" and status["failed"] == 0 and accounted == status["expected"]
    return DemoResult(status, predictions, ok)


def _wait(http: httpx.Client, batch_id: str, timeout_s: float, console: Console) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    with Progress(
        TextColumn("Predicting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("batch", total=None)
        while True:
            status: dict[str, Any] = http.get("/status", params={"batch_id": batch_id}).json()
            done = status["completed"] + status["failed"] + status["skipped"]
            progress.update(task, completed=done, total=status["expected"])
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
