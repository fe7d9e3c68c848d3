"""Stalls are detected and finalized, load timeouts publish nothing, a half-published fan-out is
recorded exactly and resumed without duplicates."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

import pytest
from fastapi.testclient import TestClient

from coordinator.alerts import AlertKind
from coordinator.app import create_app
from shared.contracts import PredictionRequest
from shared.settings import Settings
from shared.transport import OutgoingMessage, PublishReport
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.reliability.conftest import (
    ManualClock,
    RecordingSink,
    coordinator_client,
    coordinator_container,
    count,
    envelope,
)
from tests.support.fakes import FakePublisher, SlowWarehouse, SpyWarehouse
from worker.app import WorkerContainer
from worker.predict import PredictionHandler


def _requests(publisher: FakePublisher, batch_id: str | None = None) -> list[PredictionRequest]:
    sent = [PredictionRequest.model_validate_json(m.data) for _, m in publisher.sent]
    return [r for r in sent if batch_id is None or r.batch_id == batch_id]


def _deliver(handler: PredictionHandler, requests: Sequence[PredictionRequest]) -> None:
    for request in requests:
        assert handler.handle(json.dumps(envelope(request)).encode()).outcome == "predicted"


@pytest.fixture
def handler(league_warehouse: DuckDbWarehouse, settings: Settings) -> PredictionHandler:
    return WorkerContainer.build(settings, league_warehouse).handler


# -- stalls ---------------------------------------------------------------------------------------


def test_a_batch_without_progress_for_the_stall_time_is_reported_stalled_and_then_finalized(
    league_warehouse: DuckDbWarehouse,
    game_date: date,
    settings: Settings,
    clock: ManualClock,
    sink: RecordingSink,
    handler: PredictionHandler,
) -> None:
    publisher = FakePublisher()
    with coordinator_client(league_warehouse, settings, publisher, clock=clock, sink=sink) as client:
        started = client.post("/start", json={"game_date": game_date.isoformat()}).json()
        requests = _requests(publisher)
        _deliver(handler, requests[:10])
        assert client.post("/batches/check-stalls").json() == {"checked": 1, "finalized": []}
        assert client.get("/status").json()["status"] == "running"

        clock.advance(settings.stall_after_s + 60)
        stalled = client.get("/status").json()
        assert stalled["status"] == "stalled" and stalled["idle_s"] > settings.stall_after_s
        assert league_warehouse.sql("SELECT status FROM batches").at[0, "status"] == "running"

        checked = client.post("/batches/check-stalls").json()
        final = client.get("/status").json()

    assert checked["checked"] == 1 and len(checked["finalized"]) == 1
    finalized = checked["finalized"][0]
    expected_missing = sorted({r.player_id for r in requests[10:]})
    assert finalized["batch_id"] == started["batch_id"] and finalized["missing"] == expected_missing
    assert final["status"] == "stalled" and final["remaining"] == 0
    assert final["completed"] == 10 and final["failed"] == len(expected_missing)
    assert sorted(p["player_id"] for p in final["problems"] if p["outcome"] == "missing") == expected_missing
    assert "players missing" in final["error"]
    alerts = [a for a in sink.alerts if a.kind is AlertKind.BATCH_STALLED]
    assert len(alerts) == 1 and alerts[0].key == started["batch_id"]
    assert alerts[0].details["missing"] == len(expected_missing)


def test_finalize_ends_a_running_batch_on_demand_once_and_a_late_prediction_still_counts(
    league_warehouse: DuckDbWarehouse,
    game_date: date,
    settings: Settings,
    sink: RecordingSink,
    handler: PredictionHandler,
) -> None:
    publisher = FakePublisher()
    with coordinator_client(league_warehouse, settings, publisher, sink=sink) as client:
        started = client.post("/start", json={"game_date": game_date.isoformat()}).json()
        requests = _requests(publisher)
        _deliver(handler, requests[:4])
        first = client.post(f"/batches/{started['batch_id']}/finalize").json()
        again = client.post(f"/batches/{started['batch_id']}/finalize").json()
        outcomes_after_two = count(league_warehouse, "player_outcomes", "outcome = 'missing'")
        _deliver(handler, requests[4:5])  # the worker was slow, not dead: its row lands after all
        late = client.get("/status").json()

    assert first["finalized"] is True and len(first["missing"]) == started["published"] - 4
    assert again["finalized"] is False and again["status"] == "stalled"
    assert outcomes_after_two == len(first["missing"])
    assert late["completed"] == 5 and late["failed"] == len(first["missing"]) - 1
    assert requests[4].player_id not in {p["player_id"] for p in late["problems"]}
    assert len([a for a in sink.alerts if a.kind is AlertKind.BATCH_STALLED]) == 1


def test_a_batch_whose_coordinator_died_while_loading_is_failed_and_frees_the_date(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings, clock: ManualClock
) -> None:
    with coordinator_client(league_warehouse, settings, clock=clock) as client:
        container = client.app.state.container  # type: ignore[attr-defined]
        coordinator = container.coordinator
        coordinator.store.claim(game_date, "died-loading", force=False)
        league_warehouse.execute(
            "batch_insert",
            {"batch_id": "died-loading", "game_date": game_date, "status": "loading", "now": clock()},
        )
        assert client.post("/start", json={"game_date": game_date.isoformat()}).status_code == 409
        clock.advance(settings.stall_after_s + 1)
        checked = client.post("/batches/check-stalls").json()
        restarted = client.post("/start", json={"game_date": game_date.isoformat()})
    assert checked["finalized"][0]["status"] == "failed"
    assert restarted.status_code == 202


# -- load timeouts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["slate", "history", "lines"])
def test_a_load_query_timeout_answers_504_fails_the_batch_and_publishes_nothing(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings, sink: RecordingSink, query: str
) -> None:
    slow = SlowWarehouse(league_warehouse, slow_query=query, delay_s=5)
    publisher = FakePublisher()
    tight = settings.model_copy(update={"query_timeout_s": 0.2})
    with coordinator_client(slow, tight, publisher, sink=sink) as client:
        response = client.post("/start", json={"game_date": game_date.isoformat()})
        status = client.get("/status").json()
    assert response.status_code == 504
    assert response.json()["query"] == query and response.json()["timeout_s"] == 0.2
    assert publisher.sent == []
    assert status["status"] == "failed" and query in status["error"]
    assert count(league_warehouse, "player_outcomes") == 0
    assert [a.kind for a in sink.alerts] == [AlertKind.LOAD_TIMEOUT]


# -- a fan-out that fails half-way, and its resume ---------------------------------------------------


def test_a_publish_failure_half_way_records_exactly_who_was_published_and_resume_sends_the_rest(
    league_warehouse: DuckDbWarehouse,
    game_date: date,
    settings: Settings,
    sink: RecordingSink,
    handler: PredictionHandler,
) -> None:
    healthy = {"on": False}

    def fail_every_other(message: OutgoingMessage) -> str | None:
        return None if healthy["on"] or message.key % 2 == 0 else "UNAVAILABLE: publish deadline"

    publisher = FakePublisher(fail=fail_every_other)
    with coordinator_client(league_warehouse, settings, publisher, sink=sink) as client:
        started = client.post("/start", json={"game_date": game_date.isoformat()})
        assert started.status_code == 202
        batch = started.json()
        first_round = _requests(publisher)
        recorded = league_warehouse.sql(
            "SELECT player_id FROM player_outcomes WHERE outcome = 'publish_failed' AND batch_id = $b",
            {"b": batch["batch_id"]},
        )
        eligible = batch["expected"] - batch["skipped"]
        unpublished = sorted(int(p) for p in recorded["player_id"])
        assert batch["published"] == len(first_round) == eligible - len(unpublished) > 0
        assert unpublished and all(p % 2 == 1 for p in unpublished)
        assert not {r.player_id for r in first_round} & set(unpublished)
        assert [a.kind for a in sink.alerts] == [AlertKind.PUBLISH_FAILED]
        status = client.get("/status").json()
        assert {p["player_id"] for p in status["problems"]} == set(unpublished)

        healthy["on"] = True
        resumed = client.post(f"/batches/{batch['batch_id']}/resume").json()
        second_round = _requests(publisher)[len(first_round) :]
        in_flight = client.get("/status").json()

        _deliver(handler, first_round + second_round)
        done = client.get("/status").json()
        nothing_left = client.post(f"/batches/{batch['batch_id']}/resume").json()

    assert resumed["resent"] == unpublished and resumed["failed"] == []
    assert sorted(r.player_id for r in second_round) == unpublished
    assert {r.batch_id for r in second_round} == {batch["batch_id"]}
    # Same batch id, same game: the prediction ids are the ones the first fan-out would have used.
    # Re-sent players are in flight again: remaining, not failed (nothing has been processed yet).
    assert in_flight["status"] == "running" and in_flight["remaining"] == eligible
    assert in_flight["failed"] == 0 and in_flight["problems"] == []
    assert done["status"] == "complete" and done["completed"] == eligible and done["failed"] == 0
    raw = league_warehouse.sql("SELECT prediction_id FROM predictions_raw")
    assert len(raw) == eligible and raw["prediction_id"].is_unique
    assert nothing_left["resent"] == []


class _DiesMidFanOut(FakePublisher):
    """Sends the first `survive` messages, then the instance is gone (the process dies)."""

    def __init__(self, survive: int) -> None:
        super().__init__()
        self.survive = survive

    def publish(self, messages: Sequence[OutgoingMessage]) -> PublishReport:
        super().publish(messages[: self.survive])
        raise SystemError("instance terminated during the fan-out")


def test_a_fan_out_interrupted_by_a_dead_coordinator_is_resumed_after_the_stall_time(
    league_warehouse: DuckDbWarehouse,
    game_date: date,
    settings: Settings,
    clock: ManualClock,
    handler: PredictionHandler,
) -> None:
    dying = _DiesMidFanOut(survive=30)
    app = create_app(coordinator_container(league_warehouse, settings, dying, clock=clock))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/start", json={"game_date": game_date.isoformat()}).status_code == 500
        batch_id = client.get("/status").json()["batch_id"]
        sent_before = _requests(dying)
        _deliver(handler, sent_before[:10])  # some of what did go out is processed meanwhile
        assert client.get("/status").json()["status"] == "publishing"
        too_early = client.post(f"/batches/{batch_id}/resume")
        clock.advance(settings.stall_after_s + 1)

        healthy = FakePublisher()
        client.app.state.container.coordinator.fanout.publisher = healthy  # type: ignore[attr-defined]
        resumed = client.post(f"/batches/{batch_id}/resume").json()
        status = client.get("/status").json()

    assert too_early.status_code == 409 and too_early.json()["error"] == "not_resumable"
    processed = {r.player_id for r in sent_before[:10]}
    resent = {r.player_id for r in _requests(healthy)}
    assert set(resumed["resent"]) == resent and not resent & processed
    assert status["status"] == "running" and status["remaining"] == len(resent)


def test_resume_refuses_a_superseded_batch(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    with coordinator_client(SpyWarehouse(league_warehouse), settings) as client:
        old = client.post("/start", json={"game_date": game_date.isoformat()}).json()
        client.post("/start", json={"game_date": game_date.isoformat(), "force": True})
        response = client.post(f"/batches/{old['batch_id']}/resume")
        unknown = client.post("/batches/no-such-batch/resume")
    assert response.status_code == 409 and response.json()["status"] == "superseded"
    assert unknown.status_code == 404
