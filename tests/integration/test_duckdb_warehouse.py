from __future__ import annotations

import datetime as dt
import threading

import pytest

from shared.errors import QueryTimeout
from shared.warehouse.duckdb import DuckDbWarehouse


@pytest.fixture
def warehouse() -> DuckDbWarehouse:
    w = DuckDbWarehouse(":memory:")
    w.create_schema()
    return w


def _outcome(i: int) -> dict[str, object]:
    return {
        "outcome_id": f"o{i}",
        "batch_id": "b",
        "game_date": dt.date(2026, 1, 2),
        "player_id": i,
        "outcome": "skipped",
        "reason": "r",
        "detail": None,
        "message_id": None,
        "recorded_at": dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
    }


def test_creating_the_schema_twice_is_harmless(warehouse: DuckDbWarehouse) -> None:
    warehouse.create_schema()
    tables = set(warehouse.sql("SELECT table_name FROM information_schema.tables")["table_name"])
    assert {"predictions_raw", "batches", "player_outcomes", "predictions"} <= tables


def test_appending_the_same_rows_again_adds_nothing(warehouse: DuckDbWarehouse) -> None:
    rows = [_outcome(i) for i in range(10)]
    warehouse.append("player_outcomes", rows)
    warehouse.append("player_outcomes", rows[:5])
    assert int(warehouse.sql("SELECT COUNT(*) n FROM player_outcomes").at[0, "n"]) == 10


def test_concurrent_appends_of_the_same_keys_keep_exactly_one_row_each(warehouse: DuckDbWarehouse) -> None:
    rows = [_outcome(i) for i in range(50)]
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for row in rows:
                warehouse.append("player_outcomes", [row])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert int(warehouse.sql("SELECT COUNT(*) n FROM player_outcomes").at[0, "n"]) == 50


def test_rows_missing_a_required_column_are_refused_whole(warehouse: DuckDbWarehouse) -> None:
    bad = _outcome(1)
    del bad["reason"]
    with pytest.raises(ValueError, match="reason"):
        warehouse.append("player_outcomes", [_outcome(2), bad])
    assert int(warehouse.sql("SELECT COUNT(*) n FROM player_outcomes").at[0, "n"]) == 0


def test_a_query_past_its_timeout_is_interrupted_and_raises_query_timeout(
    warehouse: DuckDbWarehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A deliberately slow statement standing in for a slow slate query.
    slow = "SELECT COUNT(*) AS n FROM range(100000000) a, range(1000) b WHERE a.range + b.range = -1"
    from shared import sql as sql_module

    stmt = sql_module.SqlStatement("slow", slow, {})
    monkeypatch.setattr("shared.warehouse.duckdb.statement", lambda name: stmt)
    with pytest.raises(QueryTimeout) as caught:
        warehouse.query("slow", {}, timeout_s=0.2)
    assert caught.value.query == "slow"
    assert caught.value.timeout_s == 0.2
    assert caught.value.elapsed_s < 5
    assert "timed out" in str(caught.value)
    # The connection is still usable afterwards.
    assert int(warehouse.sql("SELECT 1 AS one").at[0, "one"]) == 1


def test_named_queries_with_null_parameters_work(warehouse: DuckDbWarehouse) -> None:
    assert warehouse.query("batch_latest", {"game_date": None}).empty
