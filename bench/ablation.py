"""Before and after, side by side in one run on the same inputs, for each optimization kept on the
nightly path: the worker's features straight from the payload (`features_from_request`) against
the frame path (`frames_from_request`, still used by training and the parity test); group-commit
DuckDB appends against `bench.baselines.OldDuckDbAppend`; the coordinator's context payload from
plain dicts against DataFrame rows (``frame.iloc[i]``).
"""

from __future__ import annotations

import concurrent.futures
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from bench.baselines import OldDuckDbAppend
from shared.contracts import PredictionRequest
from shared.features.v8 import compute_features, features_from_request
from shared.features.window import frames_from_request
from shared.model.bundle import ModelBundle
from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse


def _per_call_us(function: Callable[[Any], Any], items: Sequence[Any]) -> float:
    times = []
    for item in items:
        started = time.perf_counter()
        function(item)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1e6, 1)


def _concurrent_writes(append: Callable[[list[Mapping[str, Any]]], Any], rows: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda row: append([row]), rows))
    return time.perf_counter() - started


def run_ablation(
    league_file: Path, game_date: date, model_dir: Path, workdir: Path, settings: Settings
) -> list[dict[str, Any]]:
    """Each kept optimization: what it replaced, the same work timed both ways."""
    from bench.loader import NoPublisher
    from coordinator.batches import BatchCoordinator
    from shared.features.context import context_features, context_payload

    warehouse = DuckDbWarehouse(league_file, read_only=True)
    try:
        load = BatchCoordinator(warehouse, NoPublisher(), settings).load(game_date, "bench-ablation")
        slate = warehouse.query("slate", {"start_date": game_date, "end_date": game_date, "rostered": True})
    finally:
        warehouse.close()
    # Through JSON, as the worker receives them.
    requests = [PredictionRequest.model_validate_json(r.to_bytes()) for r in load.requests]
    results: list[dict[str, Any]] = []

    old_us = _per_call_us(lambda r: compute_features(*frames_from_request(r)), requests)
    new_us = _per_call_us(features_from_request, requests)
    same = all(compute_features(*frames_from_request(r)).equals(features_from_request(r)) for r in requests)
    results.append(
        {
            "change": "worker features straight from the payload (features_from_request)",
            "unit": "us per message (median)",
            "before": old_us,
            "after": new_us,
            "speedup": round(old_us / new_us, 1),
            "identical_output": same,
        }
    )

    from worker.predict import PredictionHandler

    handler = PredictionHandler(ModelBundle.load(model_dir), DuckDbWarehouse(":memory:"), settings)
    rows = [handler.predict(r) for r in requests]
    workdir.mkdir(parents=True, exist_ok=True)
    old_file, new_file = workdir / "writes_old.duckdb", workdir / "writes_new.duckdb"
    for path in (old_file, new_file):
        path.unlink(missing_ok=True)
        Path(f"{path}.wal").unlink(missing_ok=True)
    schema = DuckDbWarehouse(old_file)
    schema.create_schema()
    schema.close()
    old = OldDuckDbAppend(old_file)
    new = DuckDbWarehouse(new_file)
    new.create_schema()
    try:
        cpu = time.process_time()
        old_s = _concurrent_writes(lambda batch: old.append("predictions_raw", batch), rows)
        old_cpu = time.process_time() - cpu
        before_statements = new.query_count
        cpu = time.process_time()
        new_s = _concurrent_writes(lambda batch: new.append("predictions_raw", batch), rows)
        new_cpu = time.process_time() - cpu
        written = int(new.sql("SELECT COUNT(*) AS n FROM predictions_raw")["n"].iloc[0])
        results.append(
            {
                "change": "DuckDB appends: group commit, Arrow scan, plain INSERT first",
                "unit": f"seconds for {len(rows)} prediction rows from 8 threads (one row per call)",
                "before": round(old_s, 3),
                "after": round(new_s, 3),
                "speedup": round(old_s / new_s, 1),
                "before_cpu_s": round(old_cpu, 3),
                "after_cpu_s": round(new_cpu, 3),
                "before_statements": old.statements,
                "after_statements": new.query_count - before_statements,
                "identical_output": written == len(rows),
            }
        )
    finally:
        old.close()
        new.close()

    context = context_features(slate.reset_index(drop=True))
    positions = list(range(len(context)))
    records = [{str(k): v for k, v in row.items()} for row in context.to_dict("records")]
    old_us = _per_call_us(lambda i: context_payload(context.iloc[i]), positions)
    new_us = _per_call_us(lambda i: context_payload(records[i]), positions)
    results.append(
        {
            "change": "coordinator: context payload from plain dicts, not DataFrame rows",
            "unit": "us per player (median)",
            "before": old_us,
            "after": new_us,
            "speedup": round(old_us / new_us, 1),
            "identical_output": all(
                context_payload(context.iloc[i]) == context_payload(records[i]) for i in positions
            ),
        }
    )
    return results
