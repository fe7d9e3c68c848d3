from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

import pytest

from shared.errors import QueryTimeout, WarehouseFault, WarehouseUnavailable
from shared.warehouse import WriteHealth
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


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_is_unavailable_at_once_naming_it_not_retried_as_a_write_conflict(
    tmp_path: Path,
) -> None:
    warehouse = DuckDbWarehouse(tmp_path / "w.duckdb")
    warehouse.create_schema()
    warehouse.sql("CHECKPOINT")
    os.symlink("/dev/full", tmp_path / "w.duckdb.wal")  # every commit now fails with ENOSPC
    before = warehouse.query_count
    with pytest.raises(WarehouseUnavailable, match="no space left on device") as raised:
        warehouse.append("player_outcomes", [_outcome(1)])
    assert raised.value.fault is WarehouseFault.DISK_FULL
    assert "write conflict" not in str(raised.value)
    assert warehouse.query_count == before + 1, "retried"
    assert warehouse.write_failure is raised.value
    assert len(warehouse.records("batch_latest", {"game_date": None})) == 0  # reads still work


def test_a_read_only_file_refuses_writes_as_unavailable_naming_it(tmp_path: Path) -> None:
    writable = DuckDbWarehouse(tmp_path / "w.duckdb")
    writable.create_schema()
    writable.close()
    warehouse = DuckDbWarehouse(tmp_path / "w.duckdb", read_only=True)
    with pytest.raises(WarehouseUnavailable, match="read-only") as raised:
        warehouse.execute(
            "batch_lock_init", {"game_date": dt.date(2026, 1, 2), "now": dt.datetime.now(dt.UTC)}
        )
    assert raised.value.fault is WarehouseFault.READ_ONLY
    assert warehouse.write_failure is raised.value
    warehouse.close()


def test_write_health_remembers_an_unavailable_write_until_one_succeeds() -> None:
    health = WriteHealth()
    down = WarehouseUnavailable("disk full", fault=WarehouseFault.DISK_FULL)
    with pytest.raises(WarehouseUnavailable), health.watching():
        raise down
    with pytest.raises(ValueError), health.watching():
        raise ValueError("a bad row says nothing about the warehouse")
    assert health.failure is down
    with health.watching():
        pass
    assert health.failure is None


def test_closing_leaves_no_write_ahead_log(tmp_path: Path) -> None:
    warehouse = DuckDbWarehouse(tmp_path / "w.duckdb")
    warehouse.create_schema()
    writer = threading.Thread(target=warehouse.append, args=("player_outcomes", [_outcome(1)]))
    writer.start()
    writer.join()
    assert (tmp_path / "w.duckdb.wal").exists()
    warehouse.close()
    warehouse.close()  # a second close is harmless
    assert not (tmp_path / "w.duckdb.wal").exists()
