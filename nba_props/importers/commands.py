"""The four import commands; `register` adds them to the `nba-props` Typer app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from nba_props.importers.injuries import plan_injuries
from nba_props.importers.lines import OddsFormat, plan_lines
from nba_props.importers.names import PlayerNames, read_aliases
from nba_props.importers.rosters import plan_rosters
from nba_props.importers.schedule import plan_schedule
from nba_props.importers.source import ImportRefused
from nba_props.importers.store import Plan, player_names, write
from shared.bootstrap import make_warehouse
from shared.settings import Settings
from shared.warehouse import Warehouse

FileArgument = Annotated[Path, typer.Argument(help="The file to import (CSV or JSON).", dir_okay=False)]
AliasOption = Annotated[
    Path | None,
    typer.Option("--aliases", help="CSV of player-name aliases (alias,player: an id or the stored name)."),
]


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield report


def _run(
    kind: str,
    plan: Callable[[Warehouse, PlayerNames, Callable[[str, int, int], None]], Plan],
    aliases: Path | None,
) -> None:
    """Validate, then write; a refused file prints its problems and writes nothing (exit 1)."""
    out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    try:
        settings = Settings()
    except ValueError as exc:
        err.print(f"[red]Invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc
    warehouse = make_warehouse(settings)
    try:
        with _progress() as progress:
            try:
                warehouse.create_schema()
                names = player_names(warehouse, read_aliases(aliases))
                checked = plan(warehouse, names, progress)
            except (ImportRefused, OSError) as exc:
                err.print(
                    f"[red]Import refused[/red] (nothing was written):\n{exc}", highlight=False, markup=True
                )
                raise typer.Exit(1) from exc
            write(warehouse, checked, progress)
    finally:
        warehouse.close()
    out.print(checked.summary(kind), highlight=False)
    for unmatched in checked.unmatched[:20]:
        out.print(
            f"  unmatched {unmatched.location}: {unmatched.raw_name!r} ({unmatched.resolution.reason})",
            highlight=False,
            markup=False,
        )
    if len(checked.unmatched) > 20:
        out.print(f"  ... and {len(checked.unmatched) - 20} more (see the unmatched_names table)")


def register(app: typer.Typer) -> None:
    """Add import-schedule, import-lines, import-injuries and import-rosters to ``app``."""

    @app.command("import-schedule")
    def import_schedule(file: FileArgument) -> None:
        """Import a season schedule (the NBA's schedule JSON or a CSV) into `schedule`."""
        _run("schedule", lambda w, _names, p: plan_schedule(w, file, p), None)

    @app.command("import-lines")
    def import_lines(
        file: FileArgument,
        aliases: AliasOption = None,
        odds_format: Annotated[
            OddsFormat, typer.Option("--odds-format", help="Prices in the JSON: auto-detected by default.")
        ] = OddsFormat.AUTO,
    ) -> None:
        """Import player-points lines (The Odds API v4 event odds JSON or a CSV)."""
        _run("lines", lambda w, names, p: plan_lines(w, file, names, odds_format, p), aliases)

    @app.command("import-injuries")
    def import_injuries(file: FileArgument, aliases: AliasOption = None) -> None:
        """Import injury-report rows (CSV or JSON) into `injury_reports`."""
        _run("injuries", lambda w, names, p: plan_injuries(w, file, names, p), aliases)

    @app.command("import-rosters")
    def import_rosters(file: FileArgument, aliases: AliasOption = None) -> None:
        """Import roster spells (CSV: player, team, from_date[, to_date]) into `rosters`."""
        _run("rosters", lambda w, names, p: plan_rosters(w, file, names, p), aliases)
