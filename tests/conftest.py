"""Shared fixtures: one small synthetic league and one tiny real model per test session."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import structlog

from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse

# One BigQuery emulator for the whole session, shared by every directory that needs it.
from tests.support.bq_fixtures import bq_client, bq_dataset, bq_emulator
from tests.support.grading import backend_warehouse, grading_settings, memory_warehouse
from tests.support.pubsub_fixtures import fake_pubsub

__all__ = [
    "backend_warehouse",
    "bq_client",
    "bq_dataset",
    "bq_emulator",
    "fake_pubsub",
    "grading_settings",
    "memory_warehouse",
]

SEED = 11
REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nba-player-game-logs"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo what configure_logging did during a test (a CLI command, an app's own lifespan).

    It binds structlog and the root logger to the stream pytest captured for that one test; later
    tests would then log into a closed file ("I/O operation on closed file").
    """
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def league_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, date]:
    """A DuckDB file holding a small league (two seasons, the second partly played)."""
    from nba_props.league import generate_league

    path = tmp_path_factory.mktemp("league") / "league.duckdb"
    warehouse = DuckDbWarehouse(path)
    league = generate_league(SEED, players_per_team=12)
    league.write(warehouse)
    warehouse.close()
    return path, league.next_game_date


@pytest.fixture
def league_warehouse(league_file: tuple[Path, date], tmp_path: Path) -> Iterator[DuckDbWarehouse]:
    """A private copy of the league, so a test may write freely."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(league_file[0], copy)
    warehouse = DuckDbWarehouse(copy)
    yield warehouse
    warehouse.close()


@pytest.fixture
def full_disk(league_warehouse: DuckDbWarehouse) -> Iterator[DuckDbWarehouse]:
    """The league warehouse with its write-ahead log on /dev/full: every commit fails with ENOSPC
    from the kernel, reads still work (the DuckDB file was checkpointed when the league was written)."""
    wal = Path(f"{league_warehouse.path}.wal")
    assert not wal.exists()
    os.symlink("/dev/full", wal)
    try:
        yield league_warehouse
    finally:
        wal.unlink()


@pytest.fixture
def game_date(league_file: tuple[Path, date]) -> date:
    return league_file[1]


@pytest.fixture(scope="session")
def model_dir(league_file: tuple[Path, date], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny real CatBoost V8 bundle trained on the league (few iterations: fast, still real)."""
    from tests.support.bundles import train_league_bundle

    return train_league_bundle(league_file, tmp_path_factory.mktemp("model") / "catboost_v8")


@pytest.fixture
def settings(tmp_path: Path, model_dir: Path) -> Settings:
    return Settings(
        duckdb_path=tmp_path / "warehouse.duckdb",
        model_dir=model_dir,
        retry_min_backoff_s=0.01,
        retry_max_backoff_s=0.05,
        max_delivery_attempts=3,
        log_format="console",  # type: ignore[arg-type]
    )
