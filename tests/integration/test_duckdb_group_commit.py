"""Concurrent appends to DuckDB share one transaction (group commit), and each caller still gets
exactly its own outcome: written, refused (a bad row), or unavailable (retry later)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest

from shared.errors import WarehouseUnavailable
from shared.warehouse.duckdb import DuckDbWarehouse

WAIT_S = 10.0


def _outcome(i: int, **changes: object) -> dict[str, object]:
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
        **changes,
    }


class HeldWarehouse(DuckDbWarehouse):
    """Its first group write waits for `release`, so that other appends queue up behind it."""

    def __init__(self) -> None:
        super().__init__(":memory:", default_timeout_s=WAIT_S)
        self.create_schema()
        self.release = threading.Event()
        self.writing = threading.Event()
        self.groups: list[list[Mapping[str, Any]]] = []
        self.fail_with: Exception | None = None

    def _write_rows(self, table_name: str, rows: list[Mapping[str, Any]]) -> None:
        self.groups.append(list(rows))
        if len(self.groups) == 1:
            self.writing.set()
            assert self.release.wait(WAIT_S)
        if self.fail_with is not None and len(rows) > 1:
            raise self.fail_with
        super()._write_rows(table_name, rows)


def _append_concurrently(warehouse: HeldWarehouse, rows: list[dict[str, object]]) -> dict[int, BaseException]:
    """The first row's append holds the writer; the others queue; then the writer is released."""
    errors: dict[int, BaseException] = {}

    def append(i: int) -> None:
        try:
            warehouse.append("player_outcomes", [rows[i]])
        except BaseException as exc:
            errors[i] = exc

    first = threading.Thread(target=append, args=(0,))
    first.start()
    assert warehouse.writing.wait(WAIT_S)
    others = [threading.Thread(target=append, args=(i,)) for i in range(1, len(rows))]
    for thread in others:
        thread.start()
    queued = warehouse._writers["player_outcomes"]
    deadline = time.monotonic() + WAIT_S
    while len(queued._queue) < len(rows) - 1:
        assert time.monotonic() < deadline, "the appends did not queue behind the held writer"
        time.sleep(0.001)
    warehouse.release.set()
    for thread in [first, *others]:
        thread.join(WAIT_S)
        assert not thread.is_alive()
    return errors


def _count(warehouse: DuckDbWarehouse) -> int:
    return int(warehouse.sql("SELECT COUNT(*) AS n FROM player_outcomes")["n"].iloc[0])


def test_appends_that_arrive_while_one_is_written_are_written_together() -> None:
    warehouse = HeldWarehouse()
    errors = _append_concurrently(warehouse, [_outcome(i) for i in range(8)])
    assert errors == {}
    assert [len(group) for group in warehouse.groups] == [1, 7]
    assert _count(warehouse) == 8


def test_a_bad_row_fails_only_its_own_caller() -> None:
    warehouse = HeldWarehouse()
    rows = [_outcome(i) for i in range(6)]
    rows[3] = _outcome(3, reason=None)  # NOT NULL column
    errors = _append_concurrently(warehouse, rows)
    assert set(errors) == {3} and isinstance(errors[3], ValueError)
    assert set(warehouse.sql("SELECT player_id FROM player_outcomes")["player_id"]) == {0, 1, 2, 4, 5}


def test_an_unavailable_warehouse_is_reported_to_every_caller_of_the_group() -> None:
    warehouse = HeldWarehouse()
    warehouse.fail_with = WarehouseUnavailable("disk gone")
    errors = _append_concurrently(warehouse, [_outcome(i) for i in range(5)])
    assert set(errors) == {1, 2, 3, 4}
    assert all(isinstance(e, WarehouseUnavailable) for e in errors.values())
    assert _count(warehouse) == 1


def test_a_group_holding_the_same_key_twice_keeps_the_first_row() -> None:
    warehouse = HeldWarehouse()
    rows = [_outcome(0), _outcome(1, reason="first"), _outcome(1, reason="second"), _outcome(2)]
    errors = _append_concurrently(warehouse, rows)
    assert errors == {}
    kept = warehouse.sql("SELECT reason FROM player_outcomes WHERE player_id = 1")["reason"].tolist()
    assert kept == ["first"]


@pytest.mark.parametrize("recorded_at", [dt.datetime(2026, 1, 2, 3, 4, 5), "2026-01-02 03:04:05"])
def test_values_arrow_cannot_take_as_they_are_still_go_through_the_frame_path(recorded_at: object) -> None:
    warehouse = DuckDbWarehouse(":memory:")
    warehouse.create_schema()
    warehouse.append("player_outcomes", [_outcome(1, recorded_at=recorded_at)])
    warehouse.append("player_outcomes", [_outcome(1, recorded_at=recorded_at)])
    assert _count(warehouse) == 1
