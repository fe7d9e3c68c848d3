"""The composition root builds the adapters the settings name, and wires dead letters to the warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.bootstrap import make_dead_letter_sink, make_publisher, make_warehouse
from shared.settings import Settings, TransportKind, WarehouseBackend
from shared.transport import DeadLetter
from shared.transport.loopback import LoopbackPushPublisher
from shared.transport.pubsub import PubSubPublisher
from shared.warehouse.bigquery import EMULATOR_HOST_ENV, BigQueryWarehouse
from shared.warehouse.duckdb import DuckDbWarehouse


def test_default_settings_build_a_duckdb_warehouse_and_a_loopback_publisher(tmp_path: Path) -> None:
    settings = Settings(duckdb_path=tmp_path / "w.duckdb")
    warehouse = make_warehouse(settings)
    publisher = make_publisher(settings, warehouse)
    try:
        assert isinstance(warehouse, DuckDbWarehouse) and warehouse.path == str(tmp_path / "w.duckdb")
        assert isinstance(publisher, LoopbackPushPublisher)
    finally:
        publisher.close()
        warehouse.close()


def test_cloud_settings_build_bigquery_and_pubsub_adapters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EMULATOR_HOST_ENV, "http://127.0.0.1:9")  # no credentials looked up
    settings = Settings(
        warehouse_backend=WarehouseBackend.BIGQUERY,
        bigquery_project="p",
        bigquery_dataset="d",
        transport=TransportKind.PUBSUB,
    )
    warehouse = make_warehouse(settings)
    publisher = make_publisher(settings, warehouse)

    assert isinstance(warehouse, BigQueryWarehouse) and warehouse.dataset_id == "p.d"
    assert isinstance(publisher, PubSubPublisher) and publisher.topic_path.startswith("projects/p/")
    publisher.close()
    warehouse.close()


def test_the_dead_letter_sink_records_the_letter_as_an_outcome_of_its_batch() -> None:
    warehouse = DuckDbWarehouse(":memory:")
    warehouse.create_schema()
    letter = DeadLetter(
        message_id="m1",
        attributes={"batch_id": "b1", "player_id": "7", "game_date": "2026-12-01"},
        attempts=5,
        last_status=503,
        last_error="unavailable",
    )

    make_dead_letter_sink(warehouse)(letter)

    (outcome,) = warehouse.records("batch_outcomes", {"batch_id": "b1"})
    assert (outcome["player_id"], outcome["outcome"], outcome["message_id"]) == (7, "dead_lettered", "m1")
    warehouse.close()
