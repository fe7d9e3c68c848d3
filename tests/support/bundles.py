"""Real CatBoost bundles trained on the test league (few iterations: fast, still real)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from shared.settings import Settings
from shared.training import train_model
from shared.warehouse.duckdb import DuckDbWarehouse


def train_league_bundle(
    league_file: tuple[Path, date], out: Path, *, feature_set: str = "v8", iterations: int = 30
) -> Path:
    """Train a ``feature_set`` bundle on every game of the league file before its next date."""
    warehouse = DuckDbWarehouse(league_file[0], read_only=True)
    try:
        train_model(
            warehouse,
            out,
            end=league_file[1],
            iterations=iterations,
            bookmaker_priority=Settings().bookmaker_priority,
            feature_set=feature_set,
        )
    finally:
        warehouse.close()
    return out
