"""Alerts the nightly batch raises, and the prediction prices grading needs on older warehouses."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from coordinator.alerts import AlertManager
from coordinator.batches import BatchCoordinator
from coordinator.night_checks import NightChecks
from shared.errors import WarehouseUnavailable
from shared.settings import Settings
from shared.warehouse import QueryParams
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.support.fakes import FakePublisher, SpyWarehouse
from tests.support.grading import RecordingSink
from tests.support.known_night import BATCH, CASES, GAME_DATE, load_known_night, prediction_row


class _SlateUnavailable(SpyWarehouse):
    def query(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> pd.DataFrame:
        if name == "slate":
            raise WarehouseUnavailable("slate: 503 backend error")
        return super().query(name, params, timeout_s=timeout_s)


def test_a_start_that_fails_while_loading_raises_a_batch_failed_alert(
    memory_warehouse: DuckDbWarehouse, grading_settings: Settings
) -> None:
    sink = RecordingSink()
    coordinator = BatchCoordinator(
        _SlateUnavailable(memory_warehouse), FakePublisher(), grading_settings, alerts=AlertManager([sink])
    )

    with pytest.raises(WarehouseUnavailable):
        coordinator.start(date(2026, 12, 1))

    assert sink.kinds == ["batch_failed"]
    assert "503 backend error" in sink.sent[0].details["error"]


def test_the_night_checks_of_a_completed_batch_find_its_dead_letters_and_its_range_problems(
    memory_warehouse: DuckDbWarehouse,
) -> None:
    load_known_night(memory_warehouse)
    memory_warehouse.append(
        "predictions_raw",
        [prediction_row(CASES[6], prediction_id="extra", player_id=77, predicted_points=58.0)],  # NO_LINE
    )
    memory_warehouse.append(
        "player_outcomes",
        [
            {
                "outcome_id": "o1",
                "batch_id": BATCH,
                "game_date": GAME_DATE,
                "player_id": 78,
                "outcome": "dead_lettered",
                "reason": "max_delivery_attempts",
                "detail": "5 attempts; last status 503",
                "message_id": "m78",
                "recorded_at": pd.Timestamp("2026-12-01T23:30:00Z"),
            }
        ],
    )
    sink = RecordingSink()
    checks = NightChecks(memory_warehouse, AlertManager([sink]), Settings())

    checks.after_batch(BATCH, GAME_DATE, len(CASES) + 2)

    assert sorted(sink.kinds) == ["dead_letters", "predictions_out_of_range"]


def test_an_older_duckdb_file_gains_the_price_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    fresh = DuckDbWarehouse(path)
    fresh.create_schema()
    fresh.close()
    # Roll the file back to before the prices were stored with predictions.
    with duckdb.connect(str(path)) as raw:
        raw.execute("DROP VIEW IF EXISTS predictions")
        raw.execute("ALTER TABLE predictions_raw DROP COLUMN over_price")
        raw.execute("ALTER TABLE predictions_raw DROP COLUMN under_price")
        raw.execute(
            "INSERT INTO batches (batch_id, game_date, status, expected, published, skipped, created_at,"
            " updated_at) VALUES ('b0', DATE '2026-11-30', 'complete', 1, 1, 0, now(), now())"
        )
    warehouse = DuckDbWarehouse(path)
    try:
        warehouse.create_schema()
        warehouse.append("predictions_raw", [prediction_row(CASES[0])])
        stored = warehouse.sql("SELECT over_price, under_price FROM predictions_raw")
        batches = warehouse.sql("SELECT batch_id FROM batches")
    finally:
        warehouse.close()
    assert stored.to_dict("records") == [{"over_price": -110, "under_price": -110}]
    assert list(batches["batch_id"]) == ["b0"]


def test_the_night_checks_notice_predictions_that_left_their_players_history_behind(
    memory_warehouse: DuckDbWarehouse,
) -> None:
    load_known_night(memory_warehouse)
    # Four players whose stored vectors say ~5 points over the last 10, predicted at ~20: inside the
    # plausible range, close to no line, yet plainly not what their history supports.
    inflated = [
        prediction_row(
            CASES[6],
            prediction_id=f"inflated-{pid}",
            player_id=pid,
            predicted_points=20.0 + pid % 3,
            features_json=json.dumps({"points_avg_last_10": 5.0 + pid % 2, "minutes_avg_last_10": 14.0}),
        )
        for pid in (81, 82, 83, 84)
    ]
    memory_warehouse.append("predictions_raw", inflated)
    sink = RecordingSink()

    NightChecks(memory_warehouse, AlertManager([sink]), Settings()).after_batch(
        BATCH, GAME_DATE, len(CASES) + 4
    )

    assert sink.kinds == ["predictions_far_from_history"]
    [alert] = sink.sent
    # The known night's own vectors are empty ("{}"): only the four inflated players are judged.
    assert alert.details["count"] == 4 and alert.details["predictions_with_history"] == 4
