"""Grading and alert test helpers: warehouses of both backends, a recording alert sink, settings."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest

from coordinator.alerts import Alert, AlertManager, WarehouseAlertStore
from shared.settings import Settings
from shared.warehouse import Warehouse
from shared.warehouse.duckdb import DuckDbWarehouse

BACKENDS = ["duckdb", pytest.param("bigquery", marks=pytest.mark.emulator)]


class RecordingSink:
    """An alert sink that keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.sent.append(alert)

    @property
    def kinds(self) -> list[str]:
        return [a.kind.value for a in self.sent]


@pytest.fixture
def grading_settings() -> Settings:
    return Settings(log_format="console")  # type: ignore[arg-type]


@pytest.fixture(params=BACKENDS)
def backend_warehouse(request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    """An empty warehouse with the schema: DuckDB in memory, or a fresh dataset on the emulator."""
    made: Warehouse
    if request.param == "duckdb":
        made = DuckDbWarehouse(":memory:")
    else:
        from shared.warehouse.bigquery import BigQueryWarehouse

        emulator = request.getfixturevalue("bq_emulator")
        made = BigQueryWarehouse(emulator.client(), f"grading_{uuid.uuid4().hex[:10]}", default_timeout_s=60)
    made.create_schema()
    yield made
    made.close()
    if request.param == "bigquery":
        request.getfixturevalue("bq_emulator").client().delete_dataset(
            made.dataset,
            delete_contents=True,
            not_found_ok=True,
            timeout=30,  # type: ignore[attr-defined]
        )


@pytest.fixture
def memory_warehouse() -> Iterator[DuckDbWarehouse]:
    made = DuckDbWarehouse(":memory:")
    made.create_schema()
    yield made
    made.close()


def recording_manager(
    warehouse: Warehouse, clock: datetime | None = None, *, window_s: float = 3600, per_hour: int = 30
) -> tuple[AlertManager, RecordingSink]:
    sink = RecordingSink()
    store = WarehouseAlertStore(warehouse, dedup_window_s=window_s, rate_limit_per_hour=per_hour)
    if clock is None:
        return AlertManager([sink], store), sink
    fixed = clock
    return AlertManager([sink], store, clock=lambda: fixed), sink
