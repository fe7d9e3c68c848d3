"""The composition root's building blocks: warehouse, publisher and dead-letter sink from `Settings`.

Each service's container (and the embedded wiring) calls these once at startup; nothing here runs at
import. Adapters are imported lazily so a service loads only the client library it uses.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.outcomes import record_dead_letter
from shared.settings import Settings, TransportKind, WarehouseBackend
from shared.transport import DeadLetter, DeadLetterSink, Publisher
from shared.warehouse import Warehouse


def make_warehouse(settings: Settings) -> Warehouse:
    """The adapter `settings.warehouse_backend` names."""
    if settings.warehouse_backend is WarehouseBackend.BIGQUERY:
        from shared.warehouse.bigquery import BigQueryWarehouse

        return BigQueryWarehouse.from_settings(settings)
    from shared.warehouse.duckdb import DuckDbWarehouse

    return DuckDbWarehouse.from_settings(settings)


def make_dead_letter_sink(warehouse: Warehouse) -> DeadLetterSink:
    """Record each dead letter in `player_outcomes` (what the cloud's dead-letter topic does)."""

    def sink(letter: DeadLetter) -> None:
        record_dead_letter(warehouse, letter, datetime.now(UTC))

    return sink


def make_publisher(settings: Settings, warehouse: Warehouse) -> Publisher:
    """The transport `settings.transport` names; loopback dead-letters into `warehouse`."""
    if settings.transport is TransportKind.PUBSUB:
        from shared.transport.pubsub import PubSubPublisher

        return PubSubPublisher.from_settings(settings)
    from shared.transport.loopback import LoopbackPushPublisher

    return LoopbackPushPublisher.from_settings(settings, make_dead_letter_sink(warehouse))
