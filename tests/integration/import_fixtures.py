"""Helpers of the importer tests: a warehouse with the fixture players, and the CLI driven the way a
user types it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner, Result

from nba_props.importer import conform
from nba_props.importers.commands import register
from nba_props.nba_teams import teams_frame
from shared.warehouse.duckdb import DuckDbWarehouse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def seeded_warehouse(path: Path) -> Path:
    """A DuckDB file with the 30 teams and the fixture players, nothing else."""
    warehouse = DuckDbWarehouse(path)
    try:
        warehouse.create_schema()
        warehouse.load_frame("teams", conform(teams_frame(), "teams"))
        players = pd.read_csv(FIXTURES / "players.csv").assign(position=None, birth_date=pd.NaT)
        warehouse.load_frame("players", conform(players, "players"))
    finally:
        warehouse.close()
    return path


def run(db: Path, *args: str | Path) -> Result:
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, [str(a) for a in args], env={"NBA_PROPS_DUCKDB_PATH": str(db)})


def rows(db: Path, sql: str) -> pd.DataFrame:
    warehouse = DuckDbWarehouse(db, read_only=True)
    try:
        return warehouse.sql(sql)
    finally:
        warehouse.close()


def assert_refused(result: Result, path: Path, *problems: str) -> None:
    """The command refused the file and reported each problem as ``<path>, <where>...``."""
    assert result.exit_code == 1, result.output
    assert "nothing was written" in result.output
    for problem in problems:
        assert f"{path}, {problem}" in result.output


@pytest.fixture(name="db")
def scheduled_warehouse(tmp_path: Path) -> Path:
    """The seeded warehouse with the fixture schedule imported."""
    path = seeded_warehouse(tmp_path / "warehouse.duckdb")
    assert run(path, "import-schedule", FIXTURES / "schedule_league.json").exit_code == 0
    return path
