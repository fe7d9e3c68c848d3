"""CLI commands that open the local warehouse close it before they return."""

from __future__ import annotations

import gc
import subprocess
import sys
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


@pytest.mark.parametrize(
    ("configured", "says"),
    [("", "is empty"), ("{tmp}", "is a directory"), ("{tmp}/typo/w.duckdb", "does not exist")],
    ids=["empty", "a-directory", "a-missing-directory"],
)
def test_a_mistyped_warehouse_path_is_one_line_and_exit_1_and_creates_nothing(
    configured: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NBA_PROPS_DUCKDB_PATH", configured.replace("{tmp}", str(tmp_path)))
    result = CliRunner().invoke(app, ["warehouse", "create"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), repr(result.exception)
    assert len(result.output.strip().splitlines()) == 1 and says in result.output, result.output
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def held_file(tmp_path: Path) -> Iterator[Path]:
    """A DuckDB file another process holds open for writing."""
    path = tmp_path / "held.duckdb"
    script = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        yield path
    finally:
        holder.kill()
        holder.wait(timeout=30)


@pytest.mark.parametrize(
    "command",
    [["serve", "coordinator", "--port", "0"], ["serve", "embedded"], ["grade", "--date", "2026-01-05"]],
    ids=["serve-coordinator", "serve-embedded", "grade"],
)
def test_every_command_on_a_held_warehouse_file_says_so_in_one_line_and_exits_1(
    command: list[str], held_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBA_PROPS_DUCKDB_PATH", str(held_file))
    monkeypatch.setenv("NBA_PROPS_COORDINATOR_URL", "")
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), repr(result.exception)
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "in use by another process" in result.output
