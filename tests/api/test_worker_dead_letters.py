"""The cloud's dead-letter sink: Pub/Sub pushes a dead-lettered request to the worker, which records
it as `dead_lettered`, so /status, its problems and the `dead_letters` alert see it as they do in
embedded mode."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient

from coordinator.alerts import AlertManager
from coordinator.batches import BatchCoordinator
from coordinator.night_checks import NightChecks
from shared.contracts import PredictionRequest, PushEnvelope
from shared.errors import WarehouseUnavailable
from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.support.fakes import FakePublisher, SpyWarehouse
from tests.support.grading import RecordingSink
from worker.app import WorkerContainer, create_app
from worker.dead_letters import DEAD_LETTER_PATH, SOURCE_DELIVERY_COUNT, SOURCE_SUBSCRIPTION


def _dead_letter(request: PredictionRequest, message_id: str = "dlq-1") -> dict[str, object]:
    # What Pub/Sub forwards: the original data and attributes, plus its own two.
    attributes = {
        **request.attributes(),
        SOURCE_DELIVERY_COUNT: "5",
        SOURCE_SUBSCRIPTION: "projects/p/subscriptions/nba-props-predictions-worker",
    }
    return PushEnvelope.wrap(request.to_bytes(), attributes, message_id, 1, "dead-letter-push")


def _dead_lettered(warehouse: DuckDbWarehouse) -> list[dict[str, object]]:
    frame = warehouse.sql("SELECT * FROM player_outcomes WHERE outcome = 'dead_lettered'")
    return frame.to_dict("records")


@pytest.fixture
def client(league_warehouse: DuckDbWarehouse, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(WorkerContainer.build(settings, league_warehouse))) as test_client:
        yield test_client


def test_a_dead_letter_is_recorded_once_and_counts_as_failed_in_status(
    client: TestClient, league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    publisher = FakePublisher()
    coordinator = BatchCoordinator(league_warehouse, publisher, settings)
    started = coordinator.start(game_date)
    request = PredictionRequest.model_validate_json(publisher.sent[0][1].data)

    first = client.post(DEAD_LETTER_PATH, json=_dead_letter(request))
    again = client.post(DEAD_LETTER_PATH, json=_dead_letter(request))  # Pub/Sub redelivers

    assert first.status_code == again.status_code == 204
    [row] = _dead_lettered(league_warehouse)
    assert row["batch_id"] == started.batch_id and row["player_id"] == request.player_id
    assert row["reason"] == "max_delivery_attempts" and str(row["detail"]).startswith("5 attempts")
    status = coordinator.status(started.batch_id)
    assert status["failed"] == 1
    assert [(p["player_id"], p["outcome"]) for p in status["problems"]] == [
        (request.player_id, "dead_lettered")
    ]
    # The night checks raise the app's own dead-letter alert, as in embedded mode.
    sink = RecordingSink()
    NightChecks(league_warehouse, AlertManager([sink]), settings).after_batch(
        started.batch_id, game_date, started.expected
    )
    assert "dead_letters" in sink.kinds


def test_a_dead_letter_whose_payload_is_garbage_is_recorded_from_its_attributes(
    client: TestClient, league_warehouse: DuckDbWarehouse
) -> None:
    attributes = {"batch_id": "b-7", "player_id": "42", "game_date": "2026-12-05", SOURCE_DELIVERY_COUNT: "5"}
    body = PushEnvelope.wrap(b"\xff not json", attributes, "dlq-9", 1, "dead-letter-push")

    assert client.post(DEAD_LETTER_PATH, json=body).status_code == 204

    [row] = _dead_lettered(league_warehouse)
    assert (row["batch_id"], row["player_id"]) == ("b-7", 42)


def test_a_body_that_is_not_an_envelope_is_acknowledged_and_writes_nothing(
    client: TestClient, league_warehouse: DuckDbWarehouse
) -> None:
    response = client.post(DEAD_LETTER_PATH, content=b"not an envelope")

    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert _dead_lettered(league_warehouse) == []


class _Unavailable(SpyWarehouse):
    def append(self, table: str, rows: object) -> None:
        raise WarehouseUnavailable("503 backend error")


def test_a_warehouse_outage_answers_503_so_pubsub_redelivers_the_dead_letter(
    league_warehouse: DuckDbWarehouse, settings: Settings, game_date: date
) -> None:
    publisher = FakePublisher()
    BatchCoordinator(league_warehouse, publisher, settings).start(game_date)
    request = PredictionRequest.model_validate_json(publisher.sent[0][1].data)
    container = WorkerContainer.build(settings, _Unavailable(league_warehouse))
    with TestClient(create_app(container)) as client:
        response = client.post(DEAD_LETTER_PATH, json=_dead_letter(request))

    assert response.status_code == 503
    assert _dead_lettered(league_warehouse) == []
