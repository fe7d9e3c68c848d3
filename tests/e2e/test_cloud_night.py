"""One night in cloud mode: BigQuery (the emulator) and Pub/Sub (the fake gRPC Publisher).

The mode is chosen by environment variables alone, as on Cloud Run: both services' containers are
built from ``Settings()`` and pick BigQueryWarehouse and PubSubPublisher themselves. The test plays
Pub/Sub's push subscription: it takes every message the coordinator published to the fake Publisher
service and POSTs it to the worker as a push envelope, then does it all again, as Pub/Sub may.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from coordinator.app import CoordinatorContainer
from coordinator.app import create_app as create_coordinator
from shared.contracts import PushEnvelope
from shared.settings import Settings, TransportKind, WarehouseBackend
from shared.sql import statement
from shared.transport.pubsub import PubSubPublisher
from shared.warehouse.bigquery import EMULATOR_HOST_ENV, BigQueryWarehouse
from tests.support.bq_emulator import BigQueryEmulator
from tests.support.bq_fixtures import EMULATOR_PROJECT
from tests.support.fake_bigquery import StallingClient
from tests.support.fake_pubsub import FakePubSubServer, StoredMessage
from tests.support.warehouses import small_night
from worker.app import PUSH_PATH, WorkerContainer
from worker.app import create_app as create_worker

pytestmark = [pytest.mark.emulator, pytest.mark.timeout(240)]

TOPIC_NAME = "nba-props-predictions"
TOPIC = f"projects/{EMULATOR_PROJECT}/topics/{TOPIC_NAME}"
SUBSCRIPTION = f"projects/{EMULATOR_PROJECT}/subscriptions/nba-props-worker-push"


@pytest.fixture
def cloud_settings(
    monkeypatch: pytest.MonkeyPatch,
    bq_emulator: BigQueryEmulator,
    bq_dataset: str,
    fake_pubsub: FakePubSubServer,
    model_dir: Any,
) -> Iterator[Settings]:
    """The environment of a cloud deployment, pointed at the emulators."""
    fake_pubsub.create_topic(TOPIC)
    monkeypatch.setenv(EMULATOR_HOST_ENV, bq_emulator.endpoint)  # PUBSUB_EMULATOR_HOST: by fake_pubsub
    environment = {
        "NBA_PROPS_WAREHOUSE_BACKEND": "bigquery",
        "NBA_PROPS_BIGQUERY_PROJECT": EMULATOR_PROJECT,
        "NBA_PROPS_BIGQUERY_DATASET": bq_dataset,
        "NBA_PROPS_TRANSPORT": "pubsub",
        "NBA_PROPS_PUBSUB_TOPIC": TOPIC_NAME,
        "NBA_PROPS_PUBLISH_TIMEOUT_S": "30",
        "NBA_PROPS_MODEL_DIR": str(model_dir),
        "NBA_PROPS_LOG_FORMAT": "console",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.warehouse_backend is WarehouseBackend.BIGQUERY
    assert settings.transport is TransportKind.PUBSUB
    yield settings


def deliver(worker: TestClient, message: StoredMessage, attempt: int, published_at: datetime) -> int:
    """POST one stored message to the worker exactly as a push subscription would."""
    envelope = PushEnvelope.wrap(
        message.data, message.attributes, message.message_id, attempt, SUBSCRIPTION, published_at
    )
    return worker.post(PUSH_PATH, json=envelope).status_code


def test_a_cloud_night_lands_one_prediction_per_player_in_bigquery_and_survives_redelivery(
    cloud_settings: Settings, fake_pubsub: FakePubSubServer
) -> None:
    night = small_night()
    # What `nba-props warehouse create` and a data import do before the first night.
    warehouse = BigQueryWarehouse.from_settings(cloud_settings)
    night.load_into(warehouse)
    game_date = night.game_date.isoformat()

    # Built from the settings alone, as each service's lifespan does (without reconfiguring the
    # process-wide logging, which would outlive this test).
    coordinator_services = CoordinatorContainer.build(cloud_settings)
    worker_services = WorkerContainer.build(cloud_settings)
    assert isinstance(coordinator_services.warehouse, BigQueryWarehouse)
    assert isinstance(coordinator_services.publisher, PubSubPublisher)
    assert isinstance(worker_services.warehouse, BigQueryWarehouse)
    with (
        TestClient(create_coordinator(coordinator_services)) as coordinator,
        TestClient(create_worker(worker_services)) as worker,
    ):
        started = coordinator.post("/start", json={"game_date": game_date})
        assert started.status_code == 202, started.text
        batch = started.json()
        batch_id = batch["batch_id"]
        messages = fake_pubsub.messages(TOPIC)
        assert len(messages) == batch["published"] > 0
        assert {m.attributes["batch_id"] for m in messages} == {batch_id}
        published_at = datetime.now().astimezone()

        answers = [deliver(worker, m, 1, published_at) for m in messages]

        assert set(answers) == {204}
        status = coordinator.get("/status", params={"batch_id": batch_id}).json()
        assert status["status"] == "complete", status
        assert status["completed"] == batch["published"] and status["failed"] == 0
        assert status["completed"] + status["skipped"] == status["expected"] == batch["expected"]
        predictions = warehouse.query(
            "batch_predictions", {"batch_id": batch_id, "game_date": night.game_date}
        )
        assert sorted(predictions["player_id"]) == sorted(int(m.attributes["player_id"]) for m in messages)

        # Pub/Sub delivers every message a second time.
        again = [deliver(worker, m, 2, published_at) for m in messages]

        assert set(again) == {204}
        after = warehouse.query("batch_predictions", {"batch_id": batch_id, "game_date": night.game_date})
        assert len(after) == len(predictions)
        # The view collapses the copies; the raw table may keep them (BigQuery drops most repeated
        # insertIds on its own, bqemulator keeps every copy).
        raw = warehouse.sql(
            "SELECT COUNT(*) AS n FROM predictions_raw WHERE game_date = @day AND batch_id = @batch",
            {"day": night.game_date, "batch": batch_id},
        )
        assert int(raw.at[0, "n"]) >= len(after)
        assert (
            coordinator.get("/status", params={"batch_id": batch_id}).json()["completed"]
            == status["completed"]
        )
    coordinator_services.close()
    for opened in (warehouse, coordinator_services.warehouse, worker_services.warehouse):
        opened.close()


def test_a_slate_query_past_its_timeout_answers_504_fails_the_batch_and_publishes_nothing(
    cloud_settings: Settings, bq_emulator: BigQueryEmulator, fake_pubsub: FakePubSubServer
) -> None:
    night = small_night()
    schema = BigQueryWarehouse.from_settings(cloud_settings)
    schema.create_schema()  # tables only: slate is the first load query, and it never finishes
    schema.close()
    tight = cloud_settings.model_copy(update={"query_timeout_s": 0.5})
    # The emulator finishes every job before answering; this client makes the slate job hang.
    client = StallingClient(bq_emulator.client(), fragment=statement("slate").bigquery)
    warehouse = BigQueryWarehouse(client, tight.bigquery_dataset, default_timeout_s=60)  # type: ignore[arg-type]

    services = CoordinatorContainer.build(tight, warehouse)
    with TestClient(create_coordinator(services)) as coordinator:
        response = coordinator.post("/start", json={"game_date": night.game_date.isoformat()})
        status = coordinator.get("/status").json()
    services.close()
    warehouse.close()

    assert response.status_code == 504, response.text
    body = response.json()
    assert (body["error"], body["query"], body["timeout_s"]) == ("query_timeout", "slate", 0.5)
    assert "slate" in body["detail"] and "timed out" in body["detail"]
    assert client.cancelled == [job.job_id for job in client.stalled] and len(client.stalled) == 1
    assert status["status"] == "failed" and "slate" in status["error"]
    assert fake_pubsub.messages(TOPIC) == []
