"""Data into the warehouse: `warehouse create`, `generate-league`, `import-logs`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nba_props.cli.compose import load_settings, open_warehouse
from nba_props.cli.output import console, staged_progress


def warehouse_create() -> None:
    """Create every table and view (idempotent) in the configured warehouse."""
    settings = load_settings()
    with open_warehouse(settings) as warehouse:
        warehouse.create_schema()
    console.print(f"Schema ready on {settings.warehouse_backend.value}")


def generate_league(
    seed: Annotated[int, typer.Option(help="Seed of the synthetic league.")] = 7,
) -> None:
    """Write a synthetic league into the configured warehouse."""
    from nba_props.league import generate_league

    settings = load_settings()
    league = generate_league(seed)
    with open_warehouse(settings) as warehouse:
        league.write(warehouse)
    console.print(f"League written: {len(league.players)} players, {len(league.schedule)} games")


def import_logs(
    paths: Annotated[
        list[Path], typer.Argument(help="nba_api league game-log CSVs (.csv or .csv.gz) or directories.")
    ],
) -> None:
    """Import real NBA game logs into the configured warehouse (validated first; idempotent)."""
    from nba_props.importer import MalformedGameLog, import_game_logs

    settings = load_settings()
    with open_warehouse(settings) as warehouse, staged_progress() as (progress, report):
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


def register(app: typer.Typer) -> None:
    warehouse_app = typer.Typer(help="Warehouse administration.", no_args_is_help=True)
    warehouse_app.command("create")(warehouse_create)
    app.add_typer(warehouse_app, name="warehouse")
    app.command("generate-league")(generate_league)
    app.command("import-logs")(import_logs)
