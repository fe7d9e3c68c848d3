"""The coordinator over HTTP, on a real DuckDB league with a fake publisher."""

from __future__ import annotations

import json
from datetime import date, timedelta

from fastapi.testclient import TestClient

from coordinator.app import CoordinatorContainer, create_app
from coordinator.batches import BatchCoordinator
from shared.contracts import PredictionRequest
from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.support.fakes import FakePublisher, SlowWarehouse, SpyWarehouse

LOAD_QUERIES = {"slate", "history", "lines"}


def _client(warehouse: SpyWarehouse, publisher: FakePublisher, settings: Settings) -> TestClient:
    container = CoordinatorContainer(
        settings, warehouse, publisher, BatchCoordinator(warehouse, publisher, settings)
    )
    return TestClient(create_app(container))


def test_start_loads_the_slate_in_three_queries_and_publishes_one_message_per_eligible_player(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    spy, publisher = SpyWarehouse(league_warehouse), FakePublisher()
    with _client(spy, publisher, settings) as client:
        response = client.post("/start", json={"game_date": game_date.isoformat()})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "running" and body["game_date"] == game_date.isoformat()
    assert [q for q in spy.queries if q in LOAD_QUERIES] == ["slate", "history", "lines"]

    requests = [PredictionRequest.model_validate_json(m.data) for _, m in publisher.sent]
    assert len(requests) == body["published"] > 0
    assert body["expected"] == body["published"] + body["skipped"]
    assert len({r.player_id for r in requests}) == len(requests), "one message per player"
    assert all(r.batch_id == body["batch_id"] for r in requests)
    assert all(len(r.history) >= settings.min_history_games for r in requests)
    assert all(max(r.history.game_date) < game_date for r in requests)


def test_players_without_a_real_line_are_sent_without_one_never_with_a_placeholder(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    spy, publisher = SpyWarehouse(league_warehouse), FakePublisher()
    with _client(spy, publisher, settings) as client:
        client.post("/start", json={"game_date": game_date.isoformat()})
    requests = [PredictionRequest.model_validate_json(m.data) for _, m in publisher.sent]
    with_line = {r.player_id: r.line for r in requests if r.line is not None}
    without = [r for r in requests if r.line is None]
    assert with_line and without, "the league has players with and without lines on the night"
    real = league_warehouse.sql(
        "SELECT DISTINCT player_id FROM prop_line_snapshots WHERE game_date = $d", {"d": game_date}
    )
    assert set(with_line) <= set(real["player_id"])
    assert not {r.player_id for r in without} & set(real["player_id"])


def test_a_night_without_games_answers_200_with_an_explicit_status(
    league_warehouse: DuckDbWarehouse, settings: Settings
) -> None:
    spy, publisher = SpyWarehouse(league_warehouse), FakePublisher()
    with _client(spy, publisher, settings) as client:
        response = client.post("/start", json={"game_date": "2030-07-04"})
    assert response.status_code == 200
    assert response.json()["status"] == "no_games" and response.json()["expected"] == 0
    assert publisher.sent == []


def test_a_second_start_while_a_batch_runs_answers_409_and_force_supersedes_it(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    spy, publisher = SpyWarehouse(league_warehouse), FakePublisher()
    with _client(spy, publisher, settings) as client:
        first = client.post("/start", json={"game_date": game_date.isoformat()}).json()
        again = client.post("/start", json={"game_date": game_date.isoformat()})
        forced = client.post("/start", json={"game_date": game_date.isoformat(), "force": True})
        old = client.get("/status", params={"batch_id": first["batch_id"]}).json()
    assert again.status_code == 409 and again.json()["batch_id"] == first["batch_id"]
    assert forced.status_code == 202 and forced.json()["batch_id"] != first["batch_id"]
    assert old["status"] == "superseded"


def test_a_load_query_timeout_answers_504_fails_the_batch_and_publishes_nothing(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    slow = SlowWarehouse(league_warehouse, slow_query="history", delay_s=5)
    publisher = FakePublisher()
    tight = settings.model_copy(update={"query_timeout_s": 0.2})
    with _client(slow, publisher, tight) as client:
        response = client.post("/start", json={"game_date": game_date.isoformat()})
        status = client.get("/status").json()
    assert response.status_code == 504
    body = response.json()
    assert body["error"] == "query_timeout" and body["query"] == "history" and body["timeout_s"] == 0.2
    assert "history" in body["detail"] and "timed out" in body["detail"]
    assert publisher.sent == []
    assert status["status"] == "failed" and "history" in status["error"]


def test_status_counts_what_is_in_the_warehouse_and_survives_a_restart(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    spy, publisher = SpyWarehouse(league_warehouse), FakePublisher()
    with _client(spy, publisher, settings) as client:
        started = client.post("/start", json={"game_date": game_date.isoformat()}).json()
        before = client.get("/status").json()
    assert before["completed"] == 0 and before["remaining"] == started["published"]
    assert before["skipped"] == started["skipped"]
    assert before["load"]["queries"] == 3 and before["load"]["player_count"] == started["expected"]

    # Two predictions land (written twice, as a redelivery would) while no coordinator runs.
    requests = [PredictionRequest.model_validate_json(m.data) for _, m in publisher.sent[:2]]
    rows = [_prediction_row(r) for r in requests]
    league_warehouse.append("predictions_raw", rows + rows)

    with _client(SpyWarehouse(league_warehouse), FakePublisher(), settings) as restarted:
        after = restarted.get("/status", params={"batch_id": started["batch_id"]}).json()
    assert after["completed"] == 2
    assert after["remaining"] == started["published"] - 2
    assert after["status"] == "running"


def test_status_of_an_unknown_batch_is_404(league_warehouse: DuckDbWarehouse, settings: Settings) -> None:
    with _client(SpyWarehouse(league_warehouse), FakePublisher(), settings) as client:
        assert client.get("/status", params={"batch_id": "nope"}).status_code == 404


def test_start_refuses_unknown_fields_and_dates_out_of_range(
    league_warehouse: DuckDbWarehouse, settings: Settings
) -> None:
    with _client(SpyWarehouse(league_warehouse), FakePublisher(), settings) as client:
        assert client.post("/start", json={"game_date": "2026-01-01", "oops": 1}).status_code == 422
        assert client.post("/start", json={"game_date": "1850-01-01"}).status_code == 422
        assert client.post("/start", json={"game_date": "not a date"}).status_code == 422


def test_readiness_reflects_the_warehouse(league_warehouse: DuckDbWarehouse, settings: Settings) -> None:
    with _client(SpyWarehouse(league_warehouse), FakePublisher(), settings) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 200


def _prediction_row(request: PredictionRequest) -> dict[str, object]:
    from datetime import UTC, datetime

    return {
        "prediction_id": request.prediction_id(),
        "batch_id": request.batch_id,
        "game_date": request.game.game_date,
        "game_id": request.game.game_id,
        "player_id": request.player_id,
        "player_name": request.player_name,
        "team_abbr": request.game.team_abbr,
        "opponent_abbr": request.game.opponent_abbr,
        "line": None,
        "bookmaker": None,
        "predicted_points": 10.0,
        "edge": None,
        "recommendation": "NO_LINE",
        "confidence": None,
        "prob_over": None,
        "model_version": "test",
        "feature_set_hash": "test",
        "features_json": json.dumps({}),
        "context_json": None,
        "message_id": None,
        "delivery_attempt": 1,
        "written_at": datetime.now(UTC) + timedelta(seconds=0),
    }


def test_the_service_entry_point_builds_no_client_until_the_app_starts() -> None:
    from coordinator.main import app

    assert not hasattr(app.state, "container"), "clients are built by the lifespan, not at import"
