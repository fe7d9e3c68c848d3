"""The worker's push endpoint: predict and write on success, acknowledge-and-record poison, 5xx on
transient trouble, and never a second row for a redelivered message."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from coordinator.batches import BatchCoordinator
from shared.contracts import PredictionRequest, PushEnvelope
from shared.errors import ModelMissing, WarehouseUnavailable
from shared.model.bundle import ModelBundle
from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.support.fakes import FakePublisher, SpyWarehouse
from worker.app import PUSH_PATH, WorkerContainer, create_app
from worker.predict import PredictionHandler


@pytest.fixture
def requests_for_night(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> list[PredictionRequest]:
    coordinator = BatchCoordinator(league_warehouse, FakePublisher(), settings)
    return coordinator.load(game_date, "batch-1").requests


@pytest.fixture
def client(league_warehouse: DuckDbWarehouse, settings: Settings) -> Iterator[TestClient]:
    container = WorkerContainer.build(settings, league_warehouse)
    with TestClient(create_app(container)) as test_client:
        yield test_client


def _envelope(request: PredictionRequest, attempt: int = 1, message_id: str = "m-1") -> dict[str, Any]:
    return PushEnvelope.wrap(request.to_bytes(), request.attributes(), message_id, attempt, "sub")


def _count(warehouse: DuckDbWarehouse, table: str, where: str = "TRUE") -> int:
    return int(warehouse.sql(f"SELECT COUNT(*) AS n FROM {table} WHERE {where}").at[0, "n"])


def test_a_valid_message_is_predicted_written_and_acknowledged_with_204(
    client: TestClient,
    league_warehouse: DuckDbWarehouse,
    requests_for_night: list[PredictionRequest],
    settings: Settings,
) -> None:
    request = next(r for r in requests_for_night if r.line is not None)
    response = client.post(PUSH_PATH, json=_envelope(request))
    assert response.status_code == 204, response.text
    row = league_warehouse.sql("SELECT * FROM predictions_raw").iloc[0]
    assert row["prediction_id"] == request.prediction_id()
    assert row["line"] == request.line.line  # type: ignore[union-attr]
    assert settings.prediction_floor <= row["predicted_points"] <= settings.prediction_ceiling
    assert row["recommendation"] in {"OVER", "UNDER", "PASS"}
    assert 0.5 <= row["confidence"] <= 1.0
    assert row["model_version"] and row["feature_set_hash"]
    assert len(json.loads(row["features_json"])) == 33


def test_a_player_without_a_line_gets_no_line_and_no_invented_number(
    client: TestClient, league_warehouse: DuckDbWarehouse, requests_for_night: list[PredictionRequest]
) -> None:
    request = next(r for r in requests_for_night if r.line is None)
    assert client.post(PUSH_PATH, json=_envelope(request)).status_code == 204
    row = league_warehouse.sql("SELECT * FROM predictions_raw").iloc[0]
    assert row["recommendation"] == "NO_LINE"
    assert row["line"] != row["line"] or row["line"] is None  # NULL comes back as NaN/None
    features = json.loads(row["features_json"])
    assert features["has_vegas_line"] == 0.0 and features["vegas_points_line"] is None


def test_a_redelivered_message_leaves_exactly_one_row(
    client: TestClient, league_warehouse: DuckDbWarehouse, requests_for_night: list[PredictionRequest]
) -> None:
    request = requests_for_night[0]
    for attempt in (1, 2, 3):
        assert client.post(PUSH_PATH, json=_envelope(request, attempt)).status_code == 204
    game = request.game.game_date.isoformat()
    assert _count(league_warehouse, "predictions_raw") == 1
    assert (
        _count(league_warehouse, "predictions", f"game_date = DATE '{game}'") == 0
    )  # no batch row: not visible


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "invalid_envelope_json"),
        (b"[]", "invalid_envelope"),
        ({"message": {"attributes": {}}}, "invalid_envelope"),  # no publishTime: not from Pub/Sub
        ({"message": {"attributes": {}}, "published": True}, "empty_message"),
        ({"message": {"data": "***"}, "published": True}, "invalid_base64"),
        (
            {"message": {"data": base64.b64encode(b"{nope").decode()}, "published": True},
            "invalid_payload_json",
        ),
        (
            {"message": {"data": base64.b64encode(b'{"schema_version": 99}').decode()}, "published": True},
            "schema_version_mismatch",
        ),
        (
            {"message": {"data": base64.b64encode(b'{"schema_version": 1}').decode()}, "published": True},
            "invalid_payload",
        ),
    ],
)
def test_poison_messages_are_acknowledged_and_recorded_with_a_reason(
    client: TestClient, league_warehouse: DuckDbWarehouse, body: bytes | dict[str, Any], reason: str
) -> None:
    if isinstance(body, dict):
        doc = json.loads(json.dumps(body))  # a copy: the parameter is shared across runs
        if doc.pop("published", False):
            doc["message"]["publishTime"] = datetime.now(UTC).isoformat()
        body = json.dumps(doc).encode()
    response = client.post(PUSH_PATH, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.json() == {"status": "rejected", "reason": reason}
    recorded = league_warehouse.sql("SELECT reason, outcome FROM player_outcomes")
    assert list(recorded["reason"]) == [reason] and list(recorded["outcome"]) == ["failed"]


def test_a_rejected_message_names_its_batch_and_player_when_the_attributes_do(
    client: TestClient, league_warehouse: DuckDbWarehouse, requests_for_night: list[PredictionRequest]
) -> None:
    request = requests_for_night[0]
    envelope = _envelope(request)
    envelope["message"]["data"] = base64.b64encode(b'{"schema_version": 1, "batch_id": ""}').decode()
    assert client.post(PUSH_PATH, json=envelope).status_code == 200
    row = league_warehouse.sql("SELECT * FROM player_outcomes").iloc[0]
    assert row["batch_id"] == request.batch_id and row["player_id"] == request.player_id


class _DownWarehouse(SpyWarehouse):
    def append(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        raise WarehouseUnavailable("warehouse is down")


def test_a_transient_warehouse_failure_answers_503_so_pubsub_redelivers(
    league_warehouse: DuckDbWarehouse, settings: Settings, requests_for_night: list[PredictionRequest]
) -> None:
    down = _DownWarehouse(league_warehouse)
    bundle = ModelBundle.load(settings.model_dir)
    container = WorkerContainer(settings, down, bundle, PredictionHandler(bundle, down, settings))
    with TestClient(create_app(container)) as client:
        response = client.post(PUSH_PATH, json=_envelope(requests_for_night[0]))
    assert response.status_code == 503


def test_the_worker_refuses_to_start_without_a_model_bundle(tmp_path: Path, settings: Settings) -> None:
    missing = settings.model_copy(update={"model_dir": tmp_path / "nowhere"})
    with pytest.raises(ModelMissing):
        WorkerContainer.build(missing, DuckDbWarehouse(":memory:"))
    with pytest.raises(ModelMissing), TestClient(create_app(settings=missing)):
        pass


def test_health_and_readiness_report_the_loaded_model(client: TestClient) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["model_version"]
    assert client.get("/healthz").status_code == 200


def test_worker_main_builds_nothing_at_import_and_starts_from_the_environment(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker.main import app

    assert not hasattr(app.state, "container")
    path = tmp_path / "worker.duckdb"
    monkeypatch.setenv("NBA_PROPS_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("NBA_PROPS_DUCKDB_PATH", str(path))
    with TestClient(app) as client:
        ready = client.get("/readyz")
        # DuckDB refuses a second connection with another configuration while the first is open.
        with pytest.raises(duckdb.ConnectionException):
            DuckDbWarehouse(path, read_only=True)
    assert ready.status_code == 200
    assert ready.json()["model_version"] == ModelBundle.load(model_dir).model_version
    DuckDbWarehouse(path, read_only=True).close()  # the lifespan closed the warehouse it opened
