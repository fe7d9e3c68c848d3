"""The loader comparison on the BigQuery emulator (bqemulator, in its own virtualenv).

Each slate size gets a dataset of its own, loaded through the project's `BigQueryWarehouse` (the
cloud adapter, pointed at the emulator), and then the same `compare_loaders` as on DuckDB.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

from bench.league import BenchLeague
from bench.loader import compare_loaders
from shared.settings import Settings

PROJECT = "nba-props-bench"


def emulator_unavailable_reason() -> str | None:
    """Why the emulator cannot run here, or None when it can."""
    try:
        from shared.warehouse.bigquery import BigQueryWarehouse  # noqa: F401
    except ImportError as exc:
        return f"the BigQuery adapter is not importable: {exc}"
    try:
        from tests.support.bq_emulator import emulator_venv, emulator_venv_ready, setup_command
    except ImportError as exc:
        return f"tests/support/bq_emulator.py is not importable: {exc}"
    venv = emulator_venv()
    if not emulator_venv_ready(venv):
        return f"the emulator is not installed at {venv}; run `make emulator` ({setup_command(venv)})"
    return None


def emulator_loader_rows(
    leagues: list[BenchLeague],
    settings: Settings,
    game_date: date,
    *,
    repeats: int,
    report: Callable[[str], None],
) -> list[dict[str, Any]]:
    """One loader comparison per league, all on one emulator process."""
    from shared.warehouse.bigquery import BigQueryWarehouse
    from tests.support.bq_emulator import BigQueryEmulator, emulator_venv

    rows: list[dict[str, Any]] = []
    with BigQueryEmulator(emulator_venv(), project=PROJECT) as emulator:
        report(f"BigQuery emulator up in {emulator.startup_s:.1f} s")
        for bench_league in leagues:
            warehouse = BigQueryWarehouse(
                emulator.client(),
                f"bench_{bench_league.players}",
                project=PROJECT,
                default_timeout_s=settings.query_timeout_s,
            )
            try:
                started = time.perf_counter()
                warehouse.create_schema()
                for name, frame in bench_league.league.frames().items():
                    warehouse.load_frame(name, frame)
                report(
                    f"  emulator: {bench_league.players} players loaded in "
                    f"{time.perf_counter() - started:.0f} s; comparing loaders…"
                )
                row = compare_loaders(
                    warehouse,
                    settings,
                    game_date,
                    players=bench_league.players,
                    backend="bigquery-emulator",
                    repeats=repeats,
                )
                rows.append(row)
                report(
                    f"  emulator {row['players']:>5} players: batch {row['batch_s']:.3f} s "
                    f"({row['batch_queries']} queries), per-player {row['per_player_s']:.1f} s "
                    f"({row['per_player_queries']} queries): {row['ratio']}x"
                )
            finally:
                warehouse.close()
    return rows
