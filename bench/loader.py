"""The loader side by side: the coordinator's batch load (three queries) against the old way.

Both run the coordinator's own ``BatchCoordinator.load`` on the same warehouse, the old way through
`bench.baselines.PerPlayerWarehouse`. Everything after the queries (line choice, eligibility,
building the messages) is the same code, and the bench checks that both give byte-identical messages.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bench.baselines import PerPlayerWarehouse
from coordinator.batches import BatchCoordinator
from shared.settings import Settings
from shared.transport import OutgoingMessage, PublishReport
from shared.warehouse import Warehouse


class NoPublisher:
    """`load` never publishes; the coordinator still wants a publisher to be built."""

    def publish(self, messages: Sequence[OutgoingMessage]) -> PublishReport:
        raise AssertionError("the loader benchmark does not publish")

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class LoadRun:
    seconds: float
    queries: int
    messages: list[bytes]
    skips: int
    query_seconds: dict[str, float]


def timed_load(warehouse: Warehouse, settings: Settings, game_date: date, *, batch_id: str) -> LoadRun:
    """One ``BatchCoordinator.load``: wall time, statements sent to the warehouse, the messages."""
    coordinator = BatchCoordinator(warehouse, NoPublisher(), settings)
    before = warehouse.query_count
    started = time.perf_counter()
    load = coordinator.load(game_date, batch_id)
    seconds = time.perf_counter() - started
    return LoadRun(
        seconds=seconds,
        queries=warehouse.query_count - before,
        messages=[r.to_bytes() for r in load.requests],
        skips=len(load.skips),
        query_seconds=dict(load.metrics.query_seconds),
    )


def compare_loaders(
    warehouse: Warehouse, settings: Settings, game_date: date, *, players: int, backend: str, repeats: int
) -> dict[str, Any]:
    """Batch (best of ``repeats``, after a warm-up) against per-player (once), on one warehouse."""
    batch_id = "bench-loader"
    timed_load(warehouse, settings, game_date, batch_id=batch_id)  # warm-up: SQL translation, caches
    batch_runs = [timed_load(warehouse, settings, game_date, batch_id=batch_id) for _ in range(repeats)]
    batch = min(batch_runs, key=lambda run: run.seconds)
    old = timed_load(PerPlayerWarehouse(warehouse), settings, game_date, batch_id=batch_id)
    return {
        "backend": backend,
        "players": players,
        "messages": len(batch.messages),
        "batch_s": round(batch.seconds, 4),
        "per_player_s": round(old.seconds, 4),
        "ratio": round(old.seconds / batch.seconds, 1),
        "batch_queries": batch.queries,
        "per_player_queries": old.queries,
        # The same comparison for the queries alone (what follows them is the same code both ways).
        "batch_query_s": round(sum(batch.query_seconds.values()), 4),
        "per_player_query_s": round(sum(old.query_seconds.values()), 4),
        "query_ratio": round(
            sum(old.query_seconds.values()) / max(sum(batch.query_seconds.values()), 1e-9), 1
        ),
        "batch_query_seconds": batch.query_seconds,
        "batch_runs_s": [round(run.seconds, 4) for run in batch_runs],
        "same_messages": batch.messages == old.messages,
    }
