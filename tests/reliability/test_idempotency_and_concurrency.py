"""Nothing duplicated, nothing lost: concurrent starts, repeated deliveries, restarts and outages."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from coordinator.batches import BatchCoordinator
from nba_props.embedded import EmbeddedStack
from shared.contracts import PredictionRequest
from shared.errors import BatchConflict
from shared.outcomes import record_dead_letter
from shared.settings import Settings
from shared.transport import OutgoingMessage
from shared.transport.loopback import LoopbackPushPublisher
from shared.warehouse import QueryParams, Warehouse
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.reliability.conftest import (
    ManualClock,
    Outage,
    coordinator_client,
    count,
    envelope,
    serve,
    wait_until,
)
from tests.support.fakes import FakePublisher, SpyWarehouse
from worker.app import PUSH_PATH, WorkerContainer
from worker.app import create_app as create_worker_app
from worker.predict import PredictionHandler

# -- /start: 409, force, and one batch per date whatever the concurrency ---------------------------


def test_a_start_for_a_date_whose_batch_runs_answers_409_with_that_batch_id(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    with coordinator_client(league_warehouse, settings) as client:
        first = client.post("/start", json={"game_date": game_date.isoformat()}).json()
        again = client.post("/start", json={"game_date": game_date.isoformat()})
    assert again.status_code == 409
    assert again.json()["batch_id"] == first["batch_id"] and again.json()["status"] == "running"


def test_force_supersedes_the_running_batch_and_consumers_never_see_both_batches_rows(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    publisher = FakePublisher()
    with coordinator_client(league_warehouse, settings, publisher) as client:
        old = client.post("/start", json={"game_date": game_date.isoformat()}).json()
        old_requests = [PredictionRequest.model_validate_json(m.data) for _, m in publisher.sent]
        handler = _handler(league_warehouse, settings)
        for request in old_requests[:5]:  # the old batch has written a few rows already
            handler.handle(_body(request))
        new = client.post("/start", json={"game_date": game_date.isoformat(), "force": True}).json()
        new_requests = [
            PredictionRequest.model_validate_json(m.data)
            for _, m in publisher.sent
            if m.attributes["batch_id"] == new["batch_id"]
        ]
        for request in new_requests[:3]:
            handler.handle(_body(request))
        for request in old_requests[5:8]:  # a late delivery of the old batch still lands in the table
            handler.handle(_body(request))
        old_status = client.get("/status", params={"batch_id": old["batch_id"]}).json()

    assert new["batch_id"] != old["batch_id"] and old_status["status"] == "superseded"
    visible = league_warehouse.sql(
        "SELECT DISTINCT batch_id FROM predictions WHERE game_date = $d", {"d": game_date}
    )
    assert list(visible["batch_id"]) == [new["batch_id"]]
    assert count(league_warehouse, "predictions_raw", f"batch_id = '{old['batch_id']}'") == 8


@pytest.mark.parametrize("round_", range(3))
def test_ten_concurrent_starts_from_separate_coordinators_create_exactly_one_batch(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings, round_: int
) -> None:
    # Ten coordinator instances (as Cloud Run may run) share nothing but the warehouse, whose
    # statements take time as BigQuery's do: the claim and the batch row are not written at once.
    lagging = StatementLatency(league_warehouse, after={"batch_lock_claim": 0.2, "batch_insert": 0.05})
    publishers = [FakePublisher() for _ in range(10)]
    coordinators = [BatchCoordinator(lagging, p, settings) for p in publishers]
    barrier = threading.Barrier(10)
    outcomes: list[tuple[str, str]] = []
    lock = threading.Lock()

    def start(coordinator: BatchCoordinator) -> None:
        barrier.wait(timeout=30)
        try:
            result = coordinator.start(game_date)
            outcome = ("started", str(result.batch_id))
        except BatchConflict as conflict:
            outcome = ("conflict", conflict.batch_id)
        except Exception as exc:  # anything else is a failure of the guard
            outcome = ("error", repr(exc))
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=start, args=(c,)) for c in coordinators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    started = [batch for kind, batch in outcomes if kind == "started"]
    assert [kind for kind, _ in outcomes if kind == "error"] == [], outcomes
    assert len(started) == 1 and len(outcomes) == 10, outcomes
    batches = league_warehouse.sql("SELECT batch_id FROM batches WHERE game_date = $d", {"d": game_date})
    assert list(batches["batch_id"]) == started, outcomes
    assert sum(1 for p in publishers if p.sent) == 1, "exactly one fan-out"
    assert {batch for kind, batch in outcomes if kind == "conflict"} <= set(started)


def test_ten_concurrent_http_starts_on_the_embedded_stack_run_one_batch_once(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    barrier = threading.Barrier(10)
    responses: list[httpx.Response] = []
    lock = threading.Lock()
    with EmbeddedStack(settings, warehouse=league_warehouse) as stack:

        def post() -> None:
            with httpx.Client(base_url=stack.coordinator_url, timeout=120) as http:
                barrier.wait(timeout=30)
                response = http.post("/start", json={"game_date": game_date.isoformat()})
            with lock:
                responses.append(response)

        threads = [threading.Thread(target=post) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        codes = sorted(r.status_code for r in responses)
        accepted = next(r.json() for r in responses if r.status_code == 202)
        with httpx.Client(base_url=stack.coordinator_url) as http:
            wait_until(
                lambda: (
                    http.get("/status", params={"batch_id": accepted["batch_id"]}).json()["status"]
                    == "complete"
                ),
                120,
                "batch completes",
            )
        assert codes == [202] + [409] * 9
        assert {r.json()["batch_id"] for r in responses} == {accepted["batch_id"]}
        assert count(league_warehouse, "batches", f"game_date = DATE '{game_date}'") == 1
        assert count(league_warehouse, "predictions_raw") == accepted["published"]


BACKENDS = ["duckdb", pytest.param("bigquery", marks=pytest.mark.emulator)]


@pytest.fixture(params=BACKENDS)
def empty_warehouse(request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    made: Warehouse
    if request.param == "duckdb":
        made = DuckDbWarehouse(":memory:")
    else:
        from shared.warehouse.bigquery import BigQueryWarehouse

        emulator = request.getfixturevalue("bq_emulator")
        made = BigQueryWarehouse(
            emulator.client(), request.getfixturevalue("bq_dataset"), default_timeout_s=60
        )
    made.create_schema()
    yield made
    made.close()


def test_the_claim_lets_one_of_ten_contenders_win_even_when_all_read_before_any_claims(
    empty_warehouse: Warehouse,
) -> None:
    # The worst interleaving for a compare-and-swap: every contender reads the same generation first.
    # On BigQuery (no enforced keys) two racing inits leave two rows; the claim updates both or none.
    game_day, now = date(2026, 12, 1), datetime(2026, 12, 1, 23, tzinfo=UTC)
    for _ in range(2):
        empty_warehouse.execute("batch_lock_init", {"game_date": game_day, "now": now})
    reads = [empty_warehouse.query("batch_lock_get", {"game_date": game_day}) for _ in range(10)]
    changed = [
        empty_warehouse.execute(
            "batch_lock_claim",
            {
                "game_date": game_day,
                "expected": int(read.at[0, "generation"]),
                "batch_id": f"contender-{i}",
                "now": now,
            },
        )
        for i, read in enumerate(reads)
    ]
    assert sum(1 for n in changed if n > 0) == 1
    winner = f"contender-{next(i for i, n in enumerate(changed) if n > 0)}"
    assert empty_warehouse.query("batch_lock_get", {"game_date": game_day}).at[0, "batch_id"] == winner


# -- deliveries: three at once, one row ----------------------------------------------------------


def test_every_message_delivered_three_times_concurrently_leaves_exactly_one_row(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    wide = settings.model_copy(update={"push_concurrency": 12})
    with EmbeddedStack(wide, warehouse=league_warehouse) as stack:
        assert stack.coordinator is not None
        requests = stack.coordinator.coordinator.load(game_date, "triple").requests
        publisher = stack.coordinator.publisher
        assert isinstance(publisher, LoopbackPushPublisher)
        # Each message three times in a row: the three copies are in flight at the same moment.
        messages = [
            OutgoingMessage(r.player_id, r.to_bytes(), r.attributes()) for r in requests for _ in range(3)
        ]
        publisher.publish(messages)
        assert publisher.drain(120)
        assert publisher.dead_lettered == 0 and publisher.deliveries == 3 * len(requests)
        raw = league_warehouse.sql("SELECT prediction_id, player_id FROM predictions_raw")
    assert len(raw) == len(requests) and raw["prediction_id"].is_unique
    assert set(raw["player_id"]) == {r.player_id for r in requests}


# -- restarts and outages -------------------------------------------------------------------------


def test_a_coordinator_restarted_mid_batch_reports_the_same_status(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings, clock: ManualClock
) -> None:
    publisher = FakePublisher()
    clock.freeze()
    with coordinator_client(league_warehouse, settings, publisher, clock=clock) as client:
        started = client.post("/start", json={"game_date": game_date.isoformat()}).json()
        requests = [PredictionRequest.model_validate_json(m.data) for _, m in publisher.sent]
        handler = _handler(league_warehouse, settings)
        for request in requests[:7]:
            handler.handle(_body(request))
        poisoned = envelope(requests[7])
        poisoned["message"]["data"] = "###"
        handler.handle(_json_bytes(poisoned))
        before = client.get("/status", params={"batch_id": started["batch_id"]}).json()

    # A new instance: new container, new coordinator object, nothing shared but the warehouse.
    with coordinator_client(league_warehouse, settings, FakePublisher(), clock=clock) as restarted:
        after = restarted.get("/status", params={"batch_id": started["batch_id"]}).json()
    assert after == before
    assert before["status"] == "running" and before["completed"] == 7 and before["failed"] == 1
    assert before["remaining"] == started["published"] - 8


def test_a_worker_gone_mid_batch_loses_nothing_its_messages_are_redelivered_and_complete(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    container = WorkerContainer.build(settings, league_warehouse)
    # The worker serves 20 deliveries, then is gone for the next 40 (every delivery answered 503 as
    # Cloud Run does without an instance), then a new instance serves again.
    front = Outage(create_worker_app(container), healthy_first=20, refuse=40)
    with serve(front) as url:
        publisher = LoopbackPushPublisher(
            url + PUSH_PATH,
            dead_letter=lambda letter: record_dead_letter(league_warehouse, letter, datetime.now(UTC)),
            max_attempts=30,
            min_backoff_s=0.01,
            max_backoff_s=0.05,
            concurrency=8,
        )
        coordinator = BatchCoordinator(league_warehouse, publisher, settings)
        started = coordinator.start(game_date)
        assert publisher.drain(120)
        status = coordinator.reconcile(started.batch_id)
        publisher.close()
    assert front.refused == 40, "the outage happened mid-batch"
    assert publisher.dead_lettered == 0
    assert status["status"] == "complete" and status["failed"] == 0
    assert status["completed"] == started.published > 40
    assert count(league_warehouse, "predictions_raw") == started.published


class StatementLatency(SpyWarehouse):
    """The real warehouse, with a delay after the named statements (a remote warehouse's latency)."""

    def __init__(self, inner: Warehouse, after: dict[str, float]) -> None:
        super().__init__(inner)
        self.after = after

    def execute(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> int:
        changed = self.inner.execute(name, params, timeout_s=timeout_s)
        time.sleep(self.after.get(name, 0.0))
        return changed


def _handler(warehouse: Warehouse, settings: Settings) -> PredictionHandler:
    container = WorkerContainer.build(settings, warehouse)
    return container.handler


def _json_bytes(value: dict[str, Any]) -> bytes:
    import json

    return json.dumps(value).encode()


def _body(request: PredictionRequest) -> bytes:
    return _json_bytes(envelope(request))
