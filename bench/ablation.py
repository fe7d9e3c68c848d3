"""Before and after, side by side in one run, for each optimization kept on the nightly path.

Each "before" is the code as it was, run on the same inputs as the "after":

* features — the worker used to compute a message's features as
  ``compute_features(*frames_from_request(request))`` (two DataFrames built per message); now
  ``features_from_request(request)`` feeds the same computation plain arrays. Both still exist
  (training and the parity test use the frame path), so both are timed as they are.
* writes — ``DuckDbWarehouse.append`` used to run one ``INSERT OR IGNORE`` per call from a
  registered pandas frame, one transaction per message; `OldDuckDbAppend` below is that code,
  verbatim apart from its name. Now concurrent appends share one transaction (group commit) and
  go in through an Arrow scan with a plain INSERT.
* context payload — the coordinator took each player's context features with ``frame.iloc[i]``;
  now from one ``to_dict("records")``.
"""

from __future__ import annotations

import concurrent.futures
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from shared.contracts import PredictionRequest
from shared.features import compute_features, features_from_request, frames_from_request
from shared.model import ModelBundle
from shared.schema import table
from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse


class OldDuckDbAppend:
    """THE OLD WAY, for comparison only: the pre-optimization ``DuckDbWarehouse.append``."""

    def __init__(self, path: Path) -> None:
        self._root = duckdb.connect(str(path))
        self.statements = 0
        self._local: dict[int, duckdb.DuckDBPyConnection] = {}

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        import threading

        key = threading.get_ident()
        if key not in self._local:
            self._local[key] = self._root.cursor()
        return self._local[key]

    def append(self, table_name: str, rows: Sequence[Mapping[str, Any]]) -> None:
        spec = table(table_name)
        frame = pd.DataFrame.from_records(list(rows), columns=spec.column_names)
        ordered = frame.reindex(columns=spec.column_names)
        cursor = self._cursor()
        self.statements += 1
        cursor.register("incoming_rows", ordered)
        try:
            for attempt in range(8):
                try:
                    cursor.execute(f"INSERT OR IGNORE INTO {spec.name} SELECT * FROM incoming_rows")
                    return
                except (duckdb.TransactionException, duckdb.ConstraintException):
                    if attempt == 7:
                        raise
                    time.sleep(0.01)
        finally:
            cursor.unregister("incoming_rows")

    def close(self) -> None:
        self._root.close()


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
    from bench.loader import _NoPublisher
    from coordinator.batches import BatchCoordinator
    from shared.context_features import context_features, context_payload

    warehouse = DuckDbWarehouse(league_file, read_only=True)
    try:
        load = BatchCoordinator(warehouse, _NoPublisher(), settings).load(game_date, "bench-ablation")
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
