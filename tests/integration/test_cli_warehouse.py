"""CLI commands that open the local warehouse close it before they return."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nba_props.cli import app
from shared.warehouse.duckdb import DuckDbWarehouse


@pytest.fixture
def no_garbage_collection() -> Iterator[None]:
    """An unclosed DuckDB connection lingers until the cycle collector happens to run; with it off, a
    command that forgets to close its warehouse fails every time instead of now and then."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "command",
    [["warehouse", "create"], ["import-logs", "{empty}"], ["grade", "--date", "2026-01-05"]],
    ids=["warehouse-create", "import-logs", "grade"],
)
def test_the_warehouse_file_can_be_reopened_read_only_right_after_a_command(
    command: list[str], tmp_path: Path, no_garbage_collection: None
) -> None:
    db = tmp_path / "cli.duckdb"
    empty = tmp_path / "logs"
    empty.mkdir()
    args = [arg.replace("{empty}", str(empty)) for arg in command]
    env = {"NBA_PROPS_DUCKDB_PATH": str(db), "NBA_PROPS_COORDINATOR_URL": ""}
    CliRunner().invoke(app, ["warehouse", "create"], env=env)
    CliRunner().invoke(app, args, env=env)

    reopened = DuckDbWarehouse(db, read_only=True)
    try:
        assert reopened.sql("SELECT count(*) AS n FROM batches")["n"].tolist() == [0]
    finally:
        reopened.close()
